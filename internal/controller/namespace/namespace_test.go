package namespace

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller"
)

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func cond(cs []v1.NamespaceCondition, t v1.NamespaceConditionType) v1.NamespaceCondition {
	for _, c := range cs {
		if c.Type == t {
			return c
		}
	}
	return v1.NamespaceCondition{}
}

func TestConditions(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	tests := []struct {
		name       string
		out        Outcome
		typ        v1.NamespaceConditionType
		wantStatus v1.ConditionStatus
		wantReason string
		wantMsg    string
	}{
		{"all clear", Outcome{}, v1.NamespaceContentRemaining, v1.ConditionFalse, "ContentRemoved", "All content successfully removed"},
		{"discovery failed for a group", Outcome{DiscoveryErr: &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{{Group: "metrics.k8s.io", Version: "v1beta1"}: errors.New("unavailable")}}},
			v1.NamespaceDeletionDiscoveryFailure, v1.ConditionTrue, "DiscoveryFailed", "Discovery failed for some groups, 1 failing: "},
		{"content failed", Outcome{ContentErrs: []error{errors.New("b"), errors.New("a")}},
			v1.NamespaceDeletionContentFailure, v1.ConditionTrue, "ContentDeletionFailed", "Failed to delete all resource types, 2 remaining: a, b"},
		{"pods remain", Outcome{Remaining: map[schema.GroupResource]int{pods: 9}},
			v1.NamespaceContentRemaining, v1.ConditionTrue, "SomeResourcesRemain", "Some resources are remaining: pods. has 9 resource instances"},
		{"finalizers remain", Outcome{Finalizers: map[string]int{"example.com/hold": 2}},
			v1.NamespaceFinalizersRemaining, v1.ConditionTrue, "SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: example.com/hold in 2 resource instances"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs := Conditions(nil, tt.out, now)
			if len(cs) != 5 {
				t.Fatalf("%d conditions, want upstream's 5", len(cs))
			}
			c := cond(cs, tt.typ)
			if c.Status != tt.wantStatus || c.Reason != tt.wantReason || !strings.HasPrefix(c.Message, tt.wantMsg) {
				t.Errorf("%s = %s %s %q", tt.typ, c.Status, c.Reason, c.Message)
			}
		})
	}
	// A transition time moves only with the status.
	first := Conditions([]v1.NamespaceCondition{{Type: "Other"}}, Outcome{Remaining: map[schema.GroupResource]int{pods: 1}}, now)
	later := Conditions(first, Outcome{Remaining: map[schema.GroupResource]int{pods: 2}}, now.Add(time.Minute))
	if !cond(later, v1.NamespaceContentRemaining).LastTransitionTime.Time.Equal(now) {
		t.Error("same status, new transition time")
	}
	cleared := Conditions(later, Outcome{}, now.Add(2*time.Minute))
	if !cond(cleared, v1.NamespaceContentRemaining).LastTransitionTime.Time.Equal(now.Add(2 * time.Minute)) {
		t.Error("status changed, transition time kept")
	}
	if cond(cleared, "Other").Type != "Other" {
		t.Error("a condition the controller does not own was dropped")
	}
	if (Outcome{Remaining: map[schema.GroupResource]int{pods: 0}}).Done() != true || (Outcome{Remaining: map[schema.GroupResource]int{pods: 1}}).Done() {
		t.Error("Done")
	}
}

// fixture: a terminating namespace with a configmap, on fake clients.
func TestSyncDeletesContentThenFinalizes(t *testing.T) {
	ns := &v1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "doomed", UID: "ns-uid", DeletionTimestamp: ptr.To(metav1.NewTime(now))},
		Spec:       v1.NamespaceSpec{Finalizers: []v1.FinalizerName{v1.FinalizerKubernetes}},
		Status:     v1.NamespaceStatus{Phase: v1.NamespaceTerminating},
	}
	cm := &v1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "doomed"}}
	client := fake.NewClientset(ns)
	dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), toUnstructured(t, cm))
	inf := informers.NewSharedInformerFactory(client, 0)
	c, err := newController(controller.Context{Client: client, Dynamic: dyn, Informers: inf, Clock: clocktesting.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	c.discover = func() ([]*metav1.APIResourceList, error) {
		return []*metav1.APIResourceList{{
			GroupVersion: "v1",
			APIResources: []metav1.APIResource{
				// The fake dynamic client's deletecollection deletes nothing:
				// the per-object path is tested here, the collection one
				// against the real API server.
				{Name: "configmaps", Namespaced: true, Kind: "ConfigMap", Verbs: []string{"list", "delete"}},
				{Name: "bindings", Namespaced: true, Kind: "Binding", Verbs: []string{"create"}},
			},
		}}, nil
	}
	_ = inf.Core().V1().Namespaces().Informer().GetIndexer().Add(ns)
	if err := c.sync(context.Background(), "doomed"); err != nil {
		t.Fatal(err, dyn.Actions())
	}
	var verbs []string
	for _, a := range dyn.Actions() {
		verbs = append(verbs, a.GetVerb()+" "+a.GetResource().Resource)
	}
	if strings.Join(verbs, ",") != "list configmaps,delete configmaps,list configmaps" {
		t.Errorf("dynamic actions = %v", verbs)
	}
	var finalized bool
	for _, a := range client.Actions() {
		if a.GetSubresource() == "finalize" {
			finalized = true
		}
	}
	if !finalized {
		t.Errorf("not finalized: %v", client.Actions())
	}
}

func TestSyncDeletesPodsFirst(t *testing.T) {
	ns := &v1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "doomed", UID: "ns-uid", DeletionTimestamp: ptr.To(metav1.NewTime(now))},
		Spec:       v1.NamespaceSpec{Finalizers: []v1.FinalizerName{v1.FinalizerKubernetes}},
	}
	// A pod in its grace period: deleting does not remove it.
	pod := &v1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "doomed",
		DeletionTimestamp: ptr.To(metav1.NewTime(now)), DeletionGracePeriodSeconds: ptr.To[int64](30)}}
	cm := &v1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: metav1.ObjectMeta{Name: "cfg", Namespace: "doomed"}}
	client := fake.NewClientset(ns)
	dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), toUnstructured(t, pod), toUnstructured(t, cm))
	inf := informers.NewSharedInformerFactory(client, 0)
	c, err := newController(controller.Context{Client: client, Dynamic: dyn, Informers: inf, Clock: clocktesting.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	c.discover = func() ([]*metav1.APIResourceList, error) {
		return []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "configmaps", Namespaced: true, Kind: "ConfigMap", Verbs: []string{"list", "delete"}},
			{Name: "pods", Namespaced: true, Kind: "Pod", Verbs: []string{"list", "delete"}},
		}}}, nil
	}
	_ = inf.Core().V1().Namespaces().Informer().GetIndexer().Add(ns)
	err = c.sync(context.Background(), "doomed")
	if err == nil || err.Error() != "requeue after 16s" {
		t.Errorf("err = %v; want a requeue after half the grace period plus a second", err)
	}
	for _, a := range dyn.Actions() {
		if a.GetResource().Resource == "configmaps" {
			t.Errorf("touched configmaps while a pod remains: %v", a)
		}
	}
}

func TestSyncLeavesLiveNamespacesAlone(t *testing.T) {
	ns := &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "live"}}
	client := fake.NewClientset(ns)
	inf := informers.NewSharedInformerFactory(client, 0)
	c, err := newController(controller.Context{Client: client, Dynamic: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme()), Informers: inf, Clock: clocktesting.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	_ = inf.Core().V1().Namespaces().Informer().GetIndexer().Add(ns)
	client.ClearActions()
	if err := c.sync(context.Background(), "live"); err != nil || len(client.Actions()) != 0 {
		t.Errorf("err %v, actions %v", err, client.Actions())
	}
}

func toUnstructured(t *testing.T, obj runtime.Object) runtime.Object {
	t.Helper()
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: u}
}
