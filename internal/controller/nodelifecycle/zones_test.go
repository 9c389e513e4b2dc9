package nodelifecycle

import (
	"fmt"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller"
)

// zoned is a node in zone z (region r) with the given Ready status.
func zoned(name, zone string, ready v1.ConditionStatus) *v1.Node {
	n := node(ready, t0)
	n.Name = name
	if zone != "" {
		n.Labels = map[string]string{v1.LabelTopologyRegion: "r", v1.LabelTopologyZone: zone}
	}
	return n
}

func nodesOf(zone string, ready, notReady int) []*v1.Node {
	var out []*v1.Node
	for i := range ready {
		out = append(out, zoned(fmt.Sprintf("%s-ready-%d", zone, i), zone, v1.ConditionTrue))
	}
	for i := range notReady {
		out = append(out, zoned(fmt.Sprintf("%s-down-%d", zone, i), zone, v1.ConditionUnknown))
	}
	return out
}

func TestZoneKey(t *testing.T) {
	for _, tc := range []struct {
		labels map[string]string
		want   string
	}{
		{nil, ""},
		{map[string]string{v1.LabelTopologyRegion: "eu", v1.LabelTopologyZone: "eu-1"}, "eu:\x00:eu-1"},
		{map[string]string{v1.LabelFailureDomainBetaRegion: "us", v1.LabelFailureDomainBetaZone: "us-2"}, "us:\x00:us-2"},
		{map[string]string{v1.LabelTopologyZone: "z"}, ":\x00:z"},
	} {
		n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Labels: tc.labels}}
		if got := ZoneKey(n); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.labels, got, tc.want)
		}
	}
}

func TestZoneStates(t *testing.T) {
	cat := func(lists ...[]*v1.Node) []*v1.Node {
		var out []*v1.Node
		for _, l := range lists {
			out = append(out, l...)
		}
		return out
	}
	excluded := zoned("excluded", "c", v1.ConditionTrue)
	excluded.Labels[labelExcludeDisruption] = ""
	neverPosted := zoned("new", "d", "")
	for _, tc := range []struct {
		name  string
		nodes []*v1.Node
		want  map[string]ZoneState
		all   bool
	}{
		{name: "no nodes", want: map[string]ZoneState{}},
		{name: "healthy", nodes: nodesOf("a", 3, 0), want: map[string]ZoneState{"r:\x00:a": ZoneNormal}},
		{name: "two down of three is not partial (more than two needed)", nodes: nodesOf("a", 1, 2), want: map[string]ZoneState{"r:\x00:a": ZoneNormal}},
		{name: "three down of five is partial", nodes: nodesOf("a", 2, 3), want: map[string]ZoneState{"r:\x00:a": ZonePartialDisruption}},
		{name: "three down of six is not (50% < 55%)", nodes: nodesOf("a", 3, 3), want: map[string]ZoneState{"r:\x00:a": ZoneNormal}},
		{name: "one zone down", nodes: cat(nodesOf("a", 0, 2), nodesOf("b", 1, 0)),
			want: map[string]ZoneState{"r:\x00:a": ZoneFullDisruption, "r:\x00:b": ZoneNormal}},
		{name: "every zone down", nodes: cat(nodesOf("a", 0, 2), nodesOf("b", 0, 1)),
			want: map[string]ZoneState{"r:\x00:a": ZoneFullDisruption, "r:\x00:b": ZoneFullDisruption}, all: true},
		{name: "an excluded ready node does not count", nodes: cat(nodesOf("c", 0, 1), []*v1.Node{excluded}),
			want: map[string]ZoneState{"r:\x00:c": ZoneFullDisruption}, all: true},
		{name: "a node never posting counts as not ready", nodes: []*v1.Node{neverPosted},
			want: map[string]ZoneState{"r:\x00:d": ZoneFullDisruption}, all: true},
		{name: "unzoned nodes share a zone", nodes: nodesOf("", 1, 1), want: map[string]ZoneState{"": ZoneNormal}},
	} {
		got, _ := ZoneStates(tc.nodes, DefaultUnhealthyZoneThreshold)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		if AllDisrupted(got) != tc.all {
			t.Errorf("%s: all disrupted %v, want %v", tc.name, !tc.all, tc.all)
		}
	}
}

func TestZoneRate(t *testing.T) {
	e := evictionDefaults(controller.NodeEviction{})
	for _, tc := range []struct {
		state ZoneState
		size  int
		want  float32
	}{
		{ZoneNormal, 3, 0.1},
		{ZoneFullDisruption, 3, 0.1},
		{ZonePartialDisruption, 50, 0},
		{ZonePartialDisruption, 51, 0.01},
	} {
		if got := ZoneRate(tc.state, tc.size, e); got != tc.want {
			t.Errorf("%s size %d: %v, want %v", tc.state, tc.size, got, tc.want)
		}
	}
}

func TestNewlyTaintedAndUntainted(t *testing.T) {
	unreachable := v1.Taint{Key: v1.TaintNodeUnreachable, Effect: v1.TaintEffectNoExecute}
	notReady := v1.Taint{Key: v1.TaintNodeNotReady, Effect: v1.TaintEffectNoExecute}
	other := v1.Taint{Key: "dedicated", Effect: v1.TaintEffectNoExecute}
	if !NewlyTainted([]v1.Taint{other}, []v1.Taint{other, unreachable}) {
		t.Error("adding unreachable is new")
	}
	if NewlyTainted([]v1.Taint{notReady}, []v1.Taint{unreachable}) {
		t.Error("a swap is not new")
	}
	if NewlyTainted([]v1.Taint{unreachable}, nil) {
		t.Error("a removal is not new")
	}
	out, changed := Untainted([]v1.Taint{other, unreachable, notReady})
	if !changed || len(out) != 1 || out[0].Key != "dedicated" {
		t.Errorf("untainted %v %v", out, changed)
	}
	if _, changed := Untainted([]v1.Taint{other}); changed {
		t.Error("nothing to untaint")
	}
}
