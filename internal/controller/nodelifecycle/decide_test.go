package nodelifecycle

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func node(ready v1.ConditionStatus, heartbeat time.Time, taints ...v1.Taint) *v1.Node {
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", CreationTimestamp: metav1.NewTime(t0.Add(-time.Hour))}, Spec: v1.NodeSpec{Taints: taints}}
	if ready != "" {
		n.Status.Conditions = []v1.NodeCondition{{Type: v1.NodeReady, Status: ready, LastHeartbeatTime: metav1.NewTime(heartbeat)}}
	}
	return n
}

func TestLastSeen(t *testing.T) {
	lease := &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{RenewTime: &metav1.MicroTime{Time: t0.Add(-5 * time.Second)}}}
	if got := LastSeen(node(v1.ConditionTrue, t0.Add(-time.Minute)), lease); !got.Equal(t0.Add(-5 * time.Second)) {
		t.Errorf("lease renewal must count: %v", got)
	}
	if got := LastSeen(node(v1.ConditionTrue, t0.Add(-time.Second)), lease); !got.Equal(t0.Add(-time.Second)) {
		t.Errorf("a later heartbeat must count: %v", got)
	}
	if got := LastSeen(node("", time.Time{}), nil); !got.Equal(t0.Add(-time.Hour)) {
		t.Errorf("a node never heard from counts from its creation: %v", got)
	}
}

func TestStaleConditions(t *testing.T) {
	conds, changed := StaleConditions(node(v1.ConditionTrue, t0.Add(-time.Minute)), t0)
	if !changed || len(conds) != 4 {
		t.Fatalf("changed %v, %d conditions", changed, len(conds))
	}
	for _, c := range conds {
		if c.Status != v1.ConditionUnknown {
			t.Errorf("%s = %s", c.Type, c.Status)
		}
		want := "NodeStatusNeverUpdated"
		if c.Type == v1.NodeReady {
			want = "NodeStatusUnknown"
			if c.Message != "Kubelet stopped posting node status." || !c.LastHeartbeatTime.Time.Equal(t0.Add(-time.Minute)) {
				t.Errorf("ready = %+v", c)
			}
		}
		if c.Reason != want {
			t.Errorf("%s reason %s, want %s", c.Type, c.Reason, want)
		}
	}
	n := node(v1.ConditionTrue, t0)
	n.Status.Conditions = conds
	if _, changed := StaleConditions(n, t0.Add(time.Minute)); changed {
		t.Error("already unknown: nothing to change")
	}
}

func TestTaints(t *testing.T) {
	other := v1.Taint{Key: "dedicated", Value: "gpu", Effect: v1.TaintEffectNoSchedule}
	unreachable := v1.Taint{Key: v1.TaintNodeUnreachable, Effect: v1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: t0.Add(-time.Minute)}}
	tests := []struct {
		name    string
		node    *v1.Node
		want    []string
		changed bool
	}{
		{"ready: none", node(v1.ConditionTrue, t0, other), []string{"dedicated"}, false},
		{"unknown: unreachable", node(v1.ConditionUnknown, t0, other), []string{"dedicated", v1.TaintNodeUnreachable}, true},
		{"false: not-ready", node(v1.ConditionFalse, t0), []string{v1.TaintNodeNotReady}, true},
		{"unknown, already tainted: kept", node(v1.ConditionUnknown, t0, unreachable), []string{v1.TaintNodeUnreachable}, false},
		{"ready again: removed", node(v1.ConditionTrue, t0, unreachable, other), []string{"dedicated"}, true},
		{"false after unknown: swapped", node(v1.ConditionFalse, t0, unreachable), []string{v1.TaintNodeNotReady}, true},
		{"no Ready condition yet: untouched", node("", t0, other), []string{"dedicated"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := Taints(tt.node, t0)
			var keys []string
			for _, x := range got {
				keys = append(keys, x.Key)
			}
			if changed != tt.changed || len(keys) != len(tt.want) {
				t.Fatalf("taints %v changed %v, want %v %v", keys, changed, tt.want, tt.changed)
			}
			for i := range keys {
				if keys[i] != tt.want[i] {
					t.Errorf("taints %v, want %v", keys, tt.want)
				}
			}
		})
	}
	got, _ := Taints(node(v1.ConditionUnknown, t0, unreachable), t0)
	if !got[0].TimeAdded.Time.Equal(t0.Add(-time.Minute)) {
		t.Error("a kept taint must keep its timeAdded")
	}
}

func TestEvictAt(t *testing.T) {
	added := t0.Add(-10 * time.Second)
	taints := []v1.Taint{
		{Key: v1.TaintNodeUnreachable, Effect: v1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: added}},
		{Key: "dedicated", Effect: v1.TaintEffectNoSchedule},
	}
	tol := func(seconds *int64) v1.Toleration {
		return v1.Toleration{Key: v1.TaintNodeUnreachable, Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute, TolerationSeconds: seconds}
	}
	tests := []struct {
		name  string
		tols  []v1.Toleration
		at    time.Time
		evict bool
	}{
		{"no toleration: now", nil, time.Time{}, true},
		{"tolerated forever: never", []v1.Toleration{tol(nil)}, time.Time{}, false},
		{"300 s: from the taint", []v1.Toleration{tol(ptr.To[int64](300))}, added.Add(300 * time.Second), true},
		{"the shortest wins", []v1.Toleration{tol(ptr.To[int64](300)), tol(ptr.To[int64](5))}, added.Add(5 * time.Second), true},
		{"tolerate everything", []v1.Toleration{{Operator: v1.TolerationOpExists}}, time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at, evict := EvictAt(&v1.Pod{Spec: v1.PodSpec{Tolerations: tt.tols}}, taints)
			if evict != tt.evict || !at.Equal(tt.at) {
				t.Errorf("EvictAt = %v %v, want %v %v", at, evict, tt.at, tt.evict)
			}
		})
	}
}
