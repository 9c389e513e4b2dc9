package podautoscaler

import (
	"context"
	"fmt"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controller/controllertest"
)

// fixture is the autoscaler on a fake clientset (autoscalers, pods,
// discovery of apps/v1 replicasets) and a fake dynamic client that
// serves one ReplicaSet's /scale and the pods' metrics.
type fixture struct {
	*controllertest.Fixture
	t        *testing.T
	dyn      *dynamicfake.FakeDynamicClient
	c        *Controller
	replicas int64
	scaledTo []int64
	usage    map[string]int64 // millicores by pod; nil: no metrics at all
	noTarget bool
}

func newFixture(t *testing.T, replicas int64, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{Fixture: controllertest.NewFixture(t, now, objs...), t: t, replicas: replicas}
	f.Client.Resources = []*metav1.APIResourceList{{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{
		{Name: "replicasets", Kind: "ReplicaSet", Namespaced: true}, {Name: "replicasets/scale", Kind: "Scale", Group: "autoscaling", Version: "v1", Namespaced: true}}}}
	f.dyn = dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{podMetricsResource: "PodMetricsList"})
	f.dyn.PrependReactor("get", "replicasets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if f.noTarget {
			return true, nil, apierrors.NewNotFound(schema.GroupResource{Group: "apps", Resource: "replicasets"}, "web")
		}
		return true, f.scale(), nil
	})
	f.dyn.PrependReactor("update", "replicasets", func(a k8stesting.Action) (bool, runtime.Object, error) {
		u := a.(k8stesting.UpdateAction).GetObject().(*unstructured.Unstructured)
		n, _, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
		f.scaledTo = append(f.scaledTo, n)
		f.replicas = n
		return true, f.scale(), nil
	})
	f.dyn.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		list := &unstructured.UnstructuredList{Object: map[string]any{"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetricsList"}}
		for name, m := range f.usage {
			list.Items = append(list.Items, unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
				"metadata":  map[string]any{"name": name, "namespace": "ns", "labels": map[string]any{"app": "web"}},
				"timestamp": now.Add(-10e9).Format("2006-01-02T15:04:05Z"), "window": "15s",
				"containers": []any{map[string]any{"name": "c", "usage": map[string]any{"cpu": fmt.Sprintf("%dm", m), "memory": "10Mi"}}},
			}})
		}
		return true, list, nil
	})
	ctx := f.Context()
	ctx.Dynamic = f.dyn
	c, err := newController(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	return f
}

func (f *fixture) scale() *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "autoscaling/v1", "kind": "Scale",
		"metadata": map[string]any{"name": "web", "namespace": "ns"},
		"spec":     map[string]any{"replicas": f.replicas},
		"status":   map[string]any{"replicas": f.replicas, "selector": "app=web"},
	}}
}

func (f *fixture) sync() {
	f.t.Helper()
	err := f.c.sync(context.Background(), "ns/web")
	if err == nil || err.Error() != controller.RequeueAfter(DefaultSyncPeriod).Error() {
		f.t.Fatalf("sync = %v, want a requeue after the sync period", err)
	}
}

func (f *fixture) status() autoscalingv2.HorizontalPodAutoscalerStatus {
	h, err := f.Client.AutoscalingV2().HorizontalPodAutoscalers("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return h.Status
}

func conditions(st autoscalingv2.HorizontalPodAutoscalerStatus) string {
	var out []string
	for _, c := range st.Conditions {
		out = append(out, fmt.Sprintf("%s=%s/%s", c.Type, c.Status, c.Reason))
	}
	return strings.Join(out, " ")
}

func cpuHPA() *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web"},
			MinReplicas:    ptr.To[int32](1), MaxReplicas: 10,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: v1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](50)}}}},
		},
	}
}

func TestSyncScalesUpAtTheMaximumRate(t *testing.T) {
	f := newFixture(t, 2, cpuHPA(), pod("a", 100), pod("b", 100))
	f.usage = map[string]int64{"a": 150, "b": 150}
	f.sync()
	if fmt.Sprint(f.scaledTo) != "[4]" {
		t.Errorf("scaled to %v; want 4 (at most double, or 4, per sync, of the 6 asked)", f.scaledTo)
	}
	ev := f.Events()
	if len(ev) != 1 || ev[0] != "Normal SuccessfulRescale New size: 4; reason: cpu resource utilization (percentage of request) above target" {
		t.Errorf("events = %q", ev)
	}
	st := f.status()
	if st.CurrentReplicas != 2 || st.DesiredReplicas != 4 || st.LastScaleTime == nil || len(st.CurrentMetrics) != 1 ||
		*st.CurrentMetrics[0].Resource.Current.AverageUtilization != 150 || st.CurrentMetrics[0].Resource.Current.AverageValue.String() != "150m" {
		t.Errorf("status = %+v", st)
	}
	if got := conditions(st); got != "AbleToScale=True/SucceededRescale ScalingActive=True/ValidMetricFound ScalingLimited=True/ScaleUpLimit" {
		t.Errorf("conditions = %s", got)
	}
}

func TestSyncHoldsAScaleDownWithinTheStabilizationWindow(t *testing.T) {
	f := newFixture(t, 2, cpuHPA(), pod("a", 100), pod("b", 100))
	f.usage = map[string]int64{"a": 5, "b": 5}
	f.sync()
	if len(f.scaledTo) != 0 {
		t.Errorf("scaled to %v within the first 5 minutes", f.scaledTo)
	}
	if got := conditions(f.status()); got != "AbleToScale=True/ScaleDownStabilized ScalingActive=True/ValidMetricFound ScalingLimited=False/DesiredWithinRange" {
		t.Errorf("conditions = %s", got)
	}
	f.Clock.Step(DownscaleStabilization + f.c.period)
	f.sync()
	if fmt.Sprint(f.scaledTo) != "[1]" {
		t.Errorf("scaled to %v after the window; want 1", f.scaledTo)
	}
	if ev := f.Events(); len(ev) != 1 || ev[0] != "Normal SuccessfulRescale New size: 1; reason: All metrics below target" {
		t.Errorf("events = %q", ev)
	}
}

func TestSyncWithoutMetricsDoesNotScale(t *testing.T) {
	f := newFixture(t, 2, cpuHPA(), pod("a", 100), pod("b", 100))
	f.sync()
	if len(f.scaledTo) != 0 {
		t.Errorf("scaled to %v", f.scaledTo)
	}
	st := f.status()
	if got := conditions(st); got != "AbleToScale=True/SucceededGetScale ScalingActive=False/FailedGetResourceMetric" {
		t.Errorf("conditions = %s", got)
	}
	ev := f.Events()
	if len(ev) != 2 || !strings.HasPrefix(ev[0], "Warning FailedGetResourceMetric failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API") ||
		!strings.HasPrefix(ev[1], "Warning FailedComputeMetricsReplicas invalid metrics (1 invalid out of 1)") {
		t.Errorf("events = %q", ev)
	}
}

func TestSyncWithoutATargetSaysSo(t *testing.T) {
	f := newFixture(t, 2, cpuHPA())
	f.noTarget = true
	f.sync()
	if got := conditions(f.status()); got != "AbleToScale=False/FailedGetScale" {
		t.Errorf("conditions = %s", got)
	}
	if ev := f.Events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning FailedGetScale ") {
		t.Errorf("events = %q", ev)
	}
}

func TestSyncBringsReplicasIntoRange(t *testing.T) {
	f := newFixture(t, 12, cpuHPA())
	f.sync()
	if fmt.Sprint(f.scaledTo) != "[10]" {
		t.Errorf("scaled to %v; want maxReplicas", f.scaledTo)
	}
	if ev := f.Events(); len(ev) != 1 || ev[0] != "Normal SuccessfulRescale New size: 10; reason: Current number of replicas above Spec.MaxReplicas" {
		t.Errorf("events = %q", ev)
	}
}
