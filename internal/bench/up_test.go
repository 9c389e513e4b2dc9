package bench

import (
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestUpReadiness(t *testing.T) {
	ready := v1.Node{Status: v1.NodeStatus{Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}}}
	notReady := v1.Node{Status: v1.NodeStatus{Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionFalse}}}}
	if anyNodeReady(nil) || anyNodeReady([]v1.Node{notReady}) || !anyNodeReady([]v1.Node{notReady, ready}) {
		t.Error("anyNodeReady")
	}
	running := v1.Pod{Status: v1.PodStatus{Phase: v1.PodRunning, Conditions: []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue}}}}
	unready := v1.Pod{Status: v1.PodStatus{Phase: v1.PodRunning, Conditions: []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionFalse}}}}
	pending := v1.Pod{Status: v1.PodStatus{Phase: v1.PodPending}}
	for _, tc := range []struct {
		pods []v1.Pod
		want bool
	}{
		{nil, true}, // no mirror pods yet: nothing to wait for
		{[]v1.Pod{running}, true},
		{[]v1.Pod{running, unready}, false},
		{[]v1.Pod{pending}, false},
	} {
		if got := allRunning(tc.pods); got != tc.want {
			t.Errorf("allRunning(%d pods) = %v", len(tc.pods), got)
		}
	}
}
