package core

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
)

// TestDecideNomination: what a failed decision does to the pod's
// nomination, as upstream's PostFilter result says.
func TestDecideNomination(t *testing.T) {
	node := st.Node("n1").Cap("cpu", "4").Obj()
	low := st.Pod("low").Node("n1").Priority(1).Req("cpu", "4").Obj()
	terminating := st.Pod("victim").Node("n1").Priority(1).Req("cpu", "4").Obj()
	terminating.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	terminating.Status.Conditions = []v1.PodCondition{{Type: v1.DisruptionTarget, Status: v1.ConditionTrue, Reason: v1.PodReasonPreemptionByScheduler}}
	tests := []struct {
		name         string
		pod          *v1.Pod
		running      *v1.Pod
		wantNominate bool
		wantClear    bool
	}{
		{"a victim found: nominate", st.Pod("p").Priority(100).Req("cpu", "2").Obj(), low, true, false},
		{"nothing to evict: clear", st.Pod("p").Priority(1).Req("cpu", "2").Nominated("n1").Obj(), low, false, true},
		{"victims still terminating: keep", st.Pod("p").Priority(100).Req("cpu", "2").Nominated("n1").Obj(), terminating, false, false},
		{"preemptionPolicy Never: keep", st.Pod("p").Priority(100).Req("cpu", "2").PreemptNever().Obj(), low, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScheduler(t, Config{})
			d, err := s.Decide(framework.NewPodInfo(tt.pod), framework.NewSnapshot([]*v1.Pod{tt.running}, []*v1.Node{node}), PreemptionInput{})
			if err != nil {
				t.Fatal(err)
			}
			if (d.Nominate != nil) != tt.wantNominate || d.ClearNomination != tt.wantClear {
				t.Errorf("nominate %v, clear %v; want %v, %v (%s)", d.Nominate != nil, d.ClearNomination, tt.wantNominate, tt.wantClear, d.Message)
			}
		})
	}
}
