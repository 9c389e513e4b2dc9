package replicaset

import (
	"errors"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func newRS(replicas int32) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "rs-uid", Generation: 3},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web", "tier": "front"}},
				Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
	}
}

// pod builds a pod; opts tweak it.
func pod(name string, opts ...func(*v1.Pod)) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name),
			Labels: map[string]string{"app": "web", "tier": "front"}, CreationTimestamp: metav1.NewTime(now.Add(-time.Hour))},
		Status: v1.PodStatus{Phase: v1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func owned(rs *appsv1.ReplicaSet) func(*v1.Pod) {
	return func(p *v1.Pod) { p.OwnerReferences = []metav1.OwnerReference{*ControllerRef(rs)} }
}
func ownedBy(uid string) func(*v1.Pod) {
	return func(p *v1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "other", UID: types.UID(uid), Controller: ptr.To(true)}}
	}
}
func labelled(kv ...string) func(*v1.Pod) {
	return func(p *v1.Pod) {
		p.Labels = map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			p.Labels[kv[i]] = kv[i+1]
		}
	}
}
func phase(ph v1.PodPhase) func(*v1.Pod) { return func(p *v1.Pod) { p.Status.Phase = ph } }
func onNode(n string) func(*v1.Pod)      { return func(p *v1.Pod) { p.Spec.NodeName = n } }
func readyFor(d time.Duration) func(*v1.Pod) {
	return func(p *v1.Pod) {
		p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-d))}}
	}
}
func created(ago time.Duration) func(*v1.Pod) {
	return func(p *v1.Pod) { p.CreationTimestamp = metav1.NewTime(now.Add(-ago)) }
}
func restarts(n int32) func(*v1.Pod) {
	return func(p *v1.Pod) { p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "c", RestartCount: n}} }
}
func deleting(p *v1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(now)) }
func cost(c string) func(*v1.Pod) {
	return func(p *v1.Pod) { p.Annotations = map[string]string{PodDeletionCostAnnotation: c} }
}

func names(pods []*v1.Pod) []string {
	out := []string{}
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestDecide(t *testing.T) {
	rs := newRS(3)
	beingDeleted := newRS(3)
	beingDeleted.DeletionTimestamp = ptr.To(metav1.NewTime(now))
	tests := []struct {
		name                          string
		rs                            *appsv1.ReplicaSet
		pods                          []*v1.Pod
		cannotManage                  bool
		wantAdopt, wantRelease, wantO []string
		wantCreate                    int
		wantDelete                    []string
	}{
		{name: "empty: create all", rs: rs, wantCreate: 3, wantAdopt: []string{}, wantRelease: []string{}, wantO: []string{}, wantDelete: []string{}},
		{name: "exact: nothing", rs: rs, pods: []*v1.Pod{pod("a", owned(rs)), pod("b", owned(rs)), pod("c", owned(rs))},
			wantAdopt: []string{}, wantRelease: []string{}, wantO: []string{"a", "b", "c"}, wantDelete: []string{}},
		{name: "orphans matching are adopted and counted", rs: rs,
			pods:      []*v1.Pod{pod("a", owned(rs)), pod("orphan"), pod("stranger", labelled("app", "db"))},
			wantAdopt: []string{"orphan"}, wantRelease: []string{}, wantO: []string{"a", "orphan"}, wantCreate: 1, wantDelete: []string{}},
		{name: "owned pods that stop matching are released and replaced", rs: rs,
			pods:      []*v1.Pod{pod("a", owned(rs)), pod("b", owned(rs)), pod("c", owned(rs), labelled("app", "debug"))},
			wantAdopt: []string{}, wantRelease: []string{"c"}, wantO: []string{"a", "b"}, wantCreate: 1, wantDelete: []string{}},
		{name: "other controllers' pods are left alone", rs: rs,
			pods:      []*v1.Pod{pod("theirs", ownedBy("x"))},
			wantAdopt: []string{}, wantRelease: []string{}, wantO: []string{}, wantCreate: 3, wantDelete: []string{}},
		{name: "terminal and terminating pods do not count", rs: rs,
			pods:      []*v1.Pod{pod("done", owned(rs), phase(v1.PodSucceeded)), pod("failed", owned(rs), phase(v1.PodFailed)), pod("going", owned(rs), deleting)},
			wantAdopt: []string{}, wantRelease: []string{}, wantO: []string{}, wantCreate: 3, wantDelete: []string{}},
		{name: "too many: delete the surplus", rs: newRS(1),
			pods:      []*v1.Pod{pod("a", owned(rs), onNode("n"), readyFor(time.Hour)), pod("b", owned(rs))},
			wantAdopt: []string{}, wantRelease: []string{}, wantO: []string{"a", "b"}, wantDelete: []string{"b"}},
		{name: "writes in flight: claim but neither create nor delete", rs: rs, cannotManage: true,
			pods:      []*v1.Pod{pod("orphan")},
			wantAdopt: []string{"orphan"}, wantRelease: []string{}, wantO: []string{"orphan"}, wantDelete: []string{}},
		{name: "being deleted: no adoption, no release, no creation", rs: beingDeleted,
			pods:      []*v1.Pod{pod("orphan"), pod("a", owned(rs), labelled("app", "debug"))},
			wantAdopt: []string{}, wantRelease: []string{}, wantO: []string{}, wantDelete: []string{}},
		{name: "a burst is capped", rs: newRS(BurstReplicas + 7), wantCreate: BurstReplicas,
			wantAdopt: []string{}, wantRelease: []string{}, wantO: []string{}, wantDelete: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sel, _ := metav1.LabelSelectorAsSelector(tt.rs.Spec.Selector)
			p := Decide(Input{RS: tt.rs, Selector: sel, Pods: tt.pods, CanManage: !tt.cannotManage, Now: now})
			got := []any{names(p.Adopt), names(p.Release), names(p.Owned), p.Create, names(p.Delete)}
			want := []any{tt.wantAdopt, tt.wantRelease, tt.wantO, tt.wantCreate, tt.wantDelete}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("adopt, release, owned, create, delete =\n %v\nwant\n %v", got, want)
			}
		})
	}
}

// The pods related through the ReplicaSet's controller are listed only to
// rank a scale-down, not on every sync.
func TestDecideAsksForRelatedPodsOnlyToRankDeletions(t *testing.T) {
	rs := newRS(2)
	three := []*v1.Pod{pod("a", owned(rs)), pod("b", owned(rs)), pod("c", owned(rs))}
	for _, tc := range []struct {
		name     string
		replicas int32
		pods     []*v1.Pod
		asked    bool
	}{
		{"steady", 3, three, false},
		{"scale up", 4, three, false},
		{"scale down", 2, three, true},
		{"scale to zero: no ranking", 0, three, false},
	} {
		r := newRS(tc.replicas)
		asked := false
		sel, _ := metav1.LabelSelectorAsSelector(r.Spec.Selector)
		Decide(Input{RS: r, Selector: sel, Pods: tc.pods, CanManage: true, Now: now,
			Related: func() []*v1.Pod { asked = true; return nil }})
		if asked != tc.asked {
			t.Errorf("%s: related pods asked for: %v", tc.name, asked)
		}
	}
}

func TestPodsToDeleteOrder(t *testing.T) {
	tests := []struct {
		name string
		pods []*v1.Pod
		want []string
	}{
		{"unassigned first", []*v1.Pod{pod("assigned", onNode("n")), pod("unassigned")}, []string{"unassigned", "assigned"}},
		{"pending, unknown, running", []*v1.Pod{
			pod("running", onNode("n1"), phase(v1.PodRunning)), pod("unknown", onNode("n2"), phase(v1.PodUnknown)), pod("pending", onNode("n3"), phase(v1.PodPending)),
		}, []string{"pending", "unknown", "running"}},
		{"not ready first", []*v1.Pod{pod("ready", onNode("n1"), readyFor(time.Hour)), pod("notready", onNode("n2"))}, []string{"notready", "ready"}},
		{"lower deletion cost first", []*v1.Pod{pod("dear", onNode("n1"), cost("100")), pod("cheap", onNode("n2"), cost("-5"))}, []string{"cheap", "dear"}},
		{"doubled-up nodes first", []*v1.Pod{pod("alone", onNode("n1")), pod("pair1", onNode("n2"), created(time.Minute)), pod("pair2", onNode("n2"), created(time.Minute))}, []string{"pair1", "pair2", "alone"}},
		{"ready for less time first", []*v1.Pod{pod("old", onNode("n1"), readyFor(10*time.Hour)), pod("new", onNode("n2"), readyFor(time.Minute))}, []string{"new", "old"}},
		{"more restarts first", []*v1.Pod{pod("calm", onNode("n1"), restarts(0)), pod("crashy", onNode("n2"), restarts(7))}, []string{"crashy", "calm"}},
		{"newer first", []*v1.Pod{pod("older", onNode("n1"), created(10*time.Hour)), pod("newer", onNode("n2"), created(time.Minute))}, []string{"newer", "older"}},
		{"same log2 age bucket: by UID", []*v1.Pod{pod("b", onNode("n1"), created(100*time.Second)), pod("a", onNode("n2"), created(101*time.Second))}, []string{"a", "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A long-ready pod more than asked for: the order, not the
			// everything-goes shortcut, decides.
			all := append(tt.pods, pod("zz-keep", onNode("k"), readyFor(1000*time.Hour), created(1000*time.Hour)))
			got := names(PodsToDelete(all, all, len(tt.pods), now))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("order = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPodsToDeleteCountsRelatedPods(t *testing.T) {
	// Alone among this ReplicaSet's pods on n1, but n1 also runs two pods
	// of a sibling ReplicaSet (same Deployment): n1's pod goes first.
	mine := []*v1.Pod{pod("on-n1", onNode("n1"), created(time.Minute)), pod("on-n2", onNode("n2"), created(time.Minute))}
	related := append([]*v1.Pod{pod("sib1", onNode("n1")), pod("sib2", onNode("n1"))}, mine...)
	if got := names(PodsToDelete(mine, related, 1, now)); !reflect.DeepEqual(got, []string{"on-n1"}) {
		t.Errorf("with related pods: %v, want [on-n1]", got)
	}
	related = append([]*v1.Pod{pod("sib1", onNode("n2")), pod("sib2", onNode("n2"))}, mine...)
	if got := names(PodsToDelete(mine, related, 1, now)); !reflect.DeepEqual(got, []string{"on-n2"}) {
		t.Errorf("with related pods: %v, want [on-n2]", got)
	}
}

func TestStatus(t *testing.T) {
	rs := newRS(4)
	rs.Spec.MinReadySeconds = 30
	pods := []*v1.Pod{
		pod("available", readyFor(time.Minute)),
		pod("justready", readyFor(10*time.Second)),
		pod("notready"),
		pod("partlabelled", labelled("app", "web")),
	}
	st := Status(rs, pods, nil, false, now)
	want := appsv1.ReplicaSetStatus{Replicas: 4, FullyLabeledReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 3}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("status = %+v, want %+v", st, want)
	}
	failed := Status(rs, nil, errors.New("quota exceeded"), true, now)
	if len(failed.Conditions) != 1 || failed.Conditions[0].Reason != "FailedCreate" || failed.Conditions[0].Message != "quota exceeded" {
		t.Errorf("ReplicaFailure condition = %+v", failed.Conditions)
	}
	rs.Status = failed
	if healed := Status(rs, nil, nil, false, now); len(healed.Conditions) != 0 {
		t.Errorf("ReplicaFailure not cleared: %+v", healed.Conditions)
	}
}

func TestPodFromTemplate(t *testing.T) {
	rs := newRS(1)
	p := PodFromTemplate(rs)
	ref := p.OwnerReferences[0]
	if p.GenerateName != "web-" || p.Namespace != "ns" || !labels.Equals(p.Labels, rs.Spec.Template.Labels) ||
		ref.UID != rs.UID || !*ref.Controller || !*ref.BlockOwnerDeletion || ref.Kind != "ReplicaSet" {
		t.Errorf("pod = %+v", p.ObjectMeta)
	}
	p.Labels["x"] = "y"
	if _, ok := rs.Spec.Template.Labels["x"]; ok {
		t.Error("the pod shares the template's maps")
	}
}
