package podautoscaler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC)

// pod is a running pod requesting cpu millicores, ready and started
// long ago unless options say otherwise.
func pod(name string, cpu int64, opts ...func(*v1.Pod)) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": "web"}},
		Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Resources: v1.ResourceRequirements{
			Requests: v1.ResourceList{v1.ResourceCPU: *resource.NewMilliQuantity(cpu, resource.DecimalSI)}}}}},
		Status: v1.PodStatus{Phase: v1.PodRunning, StartTime: ptr.To(metav1.NewTime(now.Add(-time.Hour))),
			Conditions: []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-50 * time.Minute))}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func pending(p *v1.Pod) { p.Status.Phase = v1.PodPending; p.Status.Conditions = nil }

// justStarted: started a minute ago, not ready yet.
func justStarted(p *v1.Pod) {
	p.Status.StartTime = ptr.To(metav1.NewTime(now.Add(-time.Minute)))
	p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionFalse, LastTransitionTime: metav1.NewTime(now.Add(-time.Minute))}}
}

func usage(m map[string]int64) map[string]PodMetric {
	out := map[string]PodMetric{}
	for k, v := range m {
		out[k] = PodMetric{Value: v, Timestamp: now.Add(-10 * time.Second), Window: 15 * time.Second}
	}
	return out
}

func TestResourceReplicas(t *testing.T) {
	tests := []struct {
		name     string
		current  int32
		util     *int32
		average  int64
		pods     []*v1.Pod
		metrics  map[string]int64
		want     int32
		wantUtil int32
		wantErr  string
	}{
		{"triple the target: triple the pods", 2, ptr.To[int32](50), 0,
			[]*v1.Pod{pod("a", 100), pod("b", 100)}, map[string]int64{"a": 150, "b": 150}, 6, 150, ""},
		{"within the 10% tolerance: no change", 2, ptr.To[int32](50), 0,
			[]*v1.Pod{pod("a", 100), pod("b", 100)}, map[string]int64{"a": 54, "b": 50}, 2, 52, ""},
		{"idle: scale down", 4, ptr.To[int32](50), 0,
			[]*v1.Pod{pod("a", 100), pod("b", 100), pod("c", 100), pod("d", 100)}, map[string]int64{"a": 10, "b": 10, "c": 10, "d": 10}, 1, 10, ""},
		{"a pod without metrics counts as idle on a scale-up", 3, ptr.To[int32](50), 0,
			[]*v1.Pod{pod("a", 100), pod("b", 100), pod("c", 100)}, map[string]int64{"a": 100, "b": 100}, 4, 100, ""},
		{"and as fully used on a scale-down", 3, ptr.To[int32](50), 0,
			[]*v1.Pod{pod("a", 100), pod("b", 100), pod("c", 100)}, map[string]int64{"a": 10, "b": 10}, 3, 10, ""},
		{"a pending pod counts as idle on a scale-up", 2, ptr.To[int32](50), 0,
			[]*v1.Pod{pod("a", 100), pod("b", 100, pending)}, map[string]int64{"a": 200}, 4, 200, ""},
		{"a pod not ready yet is left out of a scale-down", 3, ptr.To[int32](50), 0,
			[]*v1.Pod{pod("a", 100), pod("b", 100), pod("c", 100, justStarted)}, map[string]int64{"a": 10, "b": 10, "c": 90}, 1, 10, ""},
		{"pods being deleted are ignored", 2, ptr.To[int32](50), 0,
			[]*v1.Pod{pod("a", 100), pod("b", 100, func(p *v1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(now)) })},
			map[string]int64{"a": 100, "b": 900}, 2, 100, ""},
		{"average value target", 2, nil, 100,
			[]*v1.Pod{pod("a", 100), pod("b", 100)}, map[string]int64{"a": 300, "b": 300}, 6, 0, ""},
		{"a container without a request", 2, ptr.To[int32](50), 0,
			[]*v1.Pod{pod("a", 100), pod("b", 100, func(p *v1.Pod) { p.Spec.Containers[0].Resources = v1.ResourceRequirements{} })},
			map[string]int64{"a": 100, "b": 100}, 0, 0, "missing request for cpu in container c of Pod b"},
		{"no pods", 2, ptr.To[int32](50), 0, nil, nil, 0, 0, "no pods returned by selector"},
		{"no metrics for ready pods", 2, ptr.To[int32](50), 0,
			[]*v1.Pod{pod("a", 100, pending)}, map[string]int64{}, 0, 0, "did not receive metrics for targeted pods"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ResourceReplicas(ResourceInput{CurrentReplicas: tt.current, Resource: v1.ResourceCPU, TargetUtilization: tt.util,
				TargetAverage: tt.average, Pods: tt.pods, Metrics: usage(tt.metrics), Now: now})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Replicas != tt.want {
				t.Errorf("replicas = %d, want %d", res.Replicas, tt.want)
			}
			if tt.util != nil && (res.Utilization == nil || *res.Utilization != tt.wantUtil) {
				t.Errorf("utilization = %v, want %d", res.Utilization, tt.wantUtil)
			}
		})
	}
}

func hpa(minR, maxR int32, behavior *autoscalingv2.HorizontalPodAutoscalerBehavior) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
		MinReplicas: ptr.To(minR), MaxReplicas: maxR, Behavior: behavior}}
}

func TestNormalize(t *testing.T) {
	recs := func(pairs ...any) *History {
		h := &History{}
		for i := 0; i < len(pairs); i += 2 {
			h.Recommendations = append(h.Recommendations, Recommendation{Replicas: int32(pairs[i].(int)), At: now.Add(-pairs[i+1].(time.Duration))})
		}
		return h
	}
	defaults := &autoscalingv2.HorizontalPodAutoscalerBehavior{}
	tests := []struct {
		name              string
		hpa               *autoscalingv2.HorizontalPodAutoscaler
		h                 *History
		current, proposed int32
		want              string
	}{
		{"no behavior: within range", hpa(1, 10, nil), recs(), 2, 3, "3 ReadyForNewScale limited=false DesiredWithinRange"},
		{"no behavior: at most double (or 4) per sync", hpa(1, 20, nil), recs(), 2, 10, "4 ReadyForNewScale limited=true ScaleUpLimit"},
		{"no behavior: maxReplicas", hpa(1, 10, nil), recs(), 8, 12, "10 ReadyForNewScale limited=true TooManyReplicas"},
		{"no behavior: minReplicas", hpa(2, 10, nil), recs(), 3, 1, "2 ReadyForNewScale limited=true TooFewReplicas"},
		{"no behavior: a higher recommendation of the last 5 min holds a scale-down", hpa(1, 10, nil), recs(5, time.Minute), 5, 2,
			"5 ScaleDownStabilized limited=false DesiredWithinRange"},
		{"no behavior: older recommendations do not", hpa(1, 10, nil), recs(5, 6*time.Minute), 5, 2, "2 ReadyForNewScale limited=false DesiredWithinRange"},
		{"default behavior: up by max(4 pods, 100%) per 15 s", hpa(1, 50, defaults), recs(), 2, 20, "6 ReadyForNewScale limited=true ScaleUpLimit"},
		{"default behavior: 300 s scale-down window", hpa(1, 10, defaults), recs(4, 4*time.Minute), 4, 1,
			"4 ScaleDownStabilized limited=false DesiredWithinRange"},
		{"default behavior: past the window", hpa(1, 10, defaults), recs(4, 6*time.Minute), 4, 1, "1 ReadyForNewScale limited=false DesiredWithinRange"},
		{"scale-up stabilization window", hpa(1, 10, &autoscalingv2.HorizontalPodAutoscalerBehavior{
			ScaleUp: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](60)}}), recs(3, 30*time.Second), 2, 5,
			"3 ScaleUpStabilized limited=false DesiredWithinRange"},
		{"scale-down disabled", hpa(1, 10, &autoscalingv2.HorizontalPodAutoscalerBehavior{
			ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](0), SelectPolicy: ptr.To(autoscalingv2.DisabledPolicySelect)}}),
			recs(), 4, 1, "4 ReadyForNewScale limited=true ScaleDownLimit"},
		{"scale-down by at most 1 pod per minute", hpa(1, 10, &autoscalingv2.HorizontalPodAutoscalerBehavior{
			ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](0),
				Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60}}}}),
			recs(), 4, 1, "3 ReadyForNewScale limited=true ScaleDownLimit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Normalize(tt.hpa, tt.h, tt.current, tt.proposed, *tt.hpa.Spec.MinReplicas, now)
			got := fmt.Sprintf("%d %s limited=%v %s", v.Replicas, v.AbleReason, v.Limited, v.LimitedReason)
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			found := false
			for _, r := range tt.h.Recommendations {
				found = found || (r.Replicas == tt.proposed && r.At.Equal(now))
			}
			if !found {
				t.Errorf("proposal not recorded: %+v", tt.h.Recommendations)
			}
		})
	}
}

func TestRecentScaleUpsCountAgainstTheRate(t *testing.T) {
	a := hpa(1, 50, &autoscalingv2.HorizontalPodAutoscalerBehavior{})
	h := &History{}
	RecordScale(a, h, 2, 6, now.Add(-5*time.Second))
	// The period started at 2: at most 6 until it has passed.
	if v := Normalize(a, h, 6, 20, 1, now); v.Replicas != 6 || v.LimitedReason != "ScaleUpLimit" {
		t.Errorf("within the period: %+v", v)
	}
	if v := Normalize(a, h, 6, 20, 1, now.Add(20*time.Second)); v.Replicas != 12 {
		t.Errorf("after the period: %+v", v)
	}
}

func TestSetCondition(t *testing.T) {
	c := SetCondition(nil, autoscalingv2.AbleToScale, v1.ConditionTrue, "A", "a", now)
	c = SetCondition(c, autoscalingv2.AbleToScale, v1.ConditionTrue, "B", "b", now.Add(time.Minute))
	if len(c) != 1 || c[0].Reason != "B" || !c[0].LastTransitionTime.Time.Equal(now) {
		t.Errorf("same status must keep its transition time: %+v", c)
	}
	c = SetCondition(c, autoscalingv2.AbleToScale, v1.ConditionFalse, "C", "c", now.Add(time.Minute))
	if !c[0].LastTransitionTime.Time.Equal(now.Add(time.Minute)) {
		t.Errorf("a new status moves it: %+v", c)
	}
}
