package framework_test

import (
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
)

func TestRequiredNodeAffinity(t *testing.T) {
	node := st.Node("n1").Label("zone", "a", "gen", "5").Obj()
	tests := []struct {
		name string
		pod  *v1.Pod
		want bool
	}{
		{"no constraints", st.Pod("p").Obj(), true},
		{"nodeSelector matches", st.Pod("p").NodeSelector("zone", "a").Obj(), true},
		{"nodeSelector does not match", st.Pod("p").NodeSelector("zone", "b").Obj(), false},
		{"In", st.Pod("p").RequiredNodeTerm(st.Term(st.Expr("zone", v1.NodeSelectorOpIn, "a", "b"))).Obj(), true},
		{"NotIn", st.Pod("p").RequiredNodeTerm(st.Term(st.Expr("zone", v1.NodeSelectorOpNotIn, "a"))).Obj(), false},
		{"Exists", st.Pod("p").RequiredNodeTerm(st.Term(st.Expr("gen", v1.NodeSelectorOpExists))).Obj(), true},
		{"DoesNotExist", st.Pod("p").RequiredNodeTerm(st.Term(st.Expr("gpu", v1.NodeSelectorOpDoesNotExist))).Obj(), true},
		{"Gt", st.Pod("p").RequiredNodeTerm(st.Term(st.Expr("gen", v1.NodeSelectorOpGt, "4"))).Obj(), true},
		{"Lt", st.Pod("p").RequiredNodeTerm(st.Term(st.Expr("gen", v1.NodeSelectorOpLt, "4"))).Obj(), false},
		{"terms are ORed", st.Pod("p").
			RequiredNodeTerm(st.Term(st.Expr("zone", v1.NodeSelectorOpIn, "b"))).
			RequiredNodeTerm(st.Term(st.Expr("zone", v1.NodeSelectorOpIn, "a"))).Obj(), true},
		{"expressions are ANDed", st.Pod("p").RequiredNodeTerm(st.Term(
			st.Expr("zone", v1.NodeSelectorOpIn, "a"), st.Expr("gen", v1.NodeSelectorOpIn, "6"))).Obj(), false},
		{"selector and affinity both apply", st.Pod("p").NodeSelector("zone", "b").
			RequiredNodeTerm(st.Term(st.Expr("zone", v1.NodeSelectorOpIn, "a"))).Obj(), false},
		{"an empty term matches nothing", st.Pod("p").RequiredNodeTerm(v1.NodeSelectorTerm{}).Obj(), false},
		{"a bad operator never matches", st.Pod("p").RequiredNodeTerm(st.Term(st.Expr("zone", "Near", "a"))).Obj(), false},
		{"matchFields metadata.name", st.Pod("p").RequiredNodeTerm(v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{
			st.Expr("metadata.name", v1.NodeSelectorOpIn, "n1")}}).Obj(), true},
		{"matchFields other name", st.Pod("p").RequiredNodeTerm(v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{
			st.Expr("metadata.name", v1.NodeSelectorOpIn, "n2")}}).Obj(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := framework.GetRequiredNodeAffinity(tt.pod).Match(node); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPreferredSchedulingTerms(t *testing.T) {
	terms, err := framework.NewPreferredSchedulingTerms([]v1.PreferredSchedulingTerm{
		{Weight: 5, Preference: st.Term(st.Expr("zone", v1.NodeSelectorOpIn, "a"))},
		{Weight: 3, Preference: st.Term(st.Expr("disk", v1.NodeSelectorOpIn, "ssd"))},
		{Weight: 0, Preference: st.Term(st.Expr("zone", v1.NodeSelectorOpIn, "a"))},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := terms.Score(st.Node("n").Label("zone", "a", "disk", "ssd").Obj()); got != 8 {
		t.Errorf("score = %d, want 8", got)
	}
	if _, err := framework.NewPreferredSchedulingTerms([]v1.PreferredSchedulingTerm{
		{Weight: 1, Preference: st.Term(st.Expr("zone", "Near"))}}); err == nil {
		t.Error("a bad operator should be an error")
	}
}

func TestTolerations(t *testing.T) {
	taint := v1.Taint{Key: "k", Value: "v", Effect: v1.TaintEffectNoSchedule}
	tests := []struct {
		name string
		tol  v1.Toleration
		want bool
	}{
		{"equal", v1.Toleration{Key: "k", Operator: v1.TolerationOpEqual, Value: "v", Effect: v1.TaintEffectNoSchedule}, true},
		{"other value", v1.Toleration{Key: "k", Operator: v1.TolerationOpEqual, Value: "w"}, false},
		{"exists, any effect", v1.Toleration{Key: "k", Operator: v1.TolerationOpExists}, true},
		{"empty key exists tolerates all", v1.Toleration{Operator: v1.TolerationOpExists}, true},
		{"other effect", v1.Toleration{Key: "k", Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute}, false},
		{"Gt is off by default", v1.Toleration{Key: "k", Operator: "Gt", Value: "1"}, false},
	}
	for _, tt := range tests {
		if got := framework.TolerationsTolerateTaint([]v1.Toleration{tt.tol}, &taint); got != tt.want {
			t.Errorf("%s: tolerates = %v, want %v", tt.name, got, tt.want)
		}
	}
}
