package daemonset

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller"
)

var now = time.Date(2026, 12, 4, 5, 0, 0, 0, time.UTC)

func newDS(opts ...func(*appsv1.DaemonSet)) *appsv1.DaemonSet {
	lbls := map[string]string{"app": "agent"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: "ns", UID: "ds-uid", Generation: 1},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: lbls},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: lbls},
				Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "agent:1"}}},
			},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1)), MaxSurge: ptr.To(intstr.FromInt32(0))}},
			RevisionHistoryLimit: ptr.To[int32](10),
		},
	}
	for _, o := range opts {
		o(ds)
	}
	return ds
}

func withNodeSelector(k, v string) func(*appsv1.DaemonSet) {
	return func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeSelector = map[string]string{k: v} }
}

func withToleration(t v1.Toleration) func(*appsv1.DaemonSet) {
	return func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Spec.Tolerations = append(ds.Spec.Template.Spec.Tolerations, t)
	}
}

func withSurge(surge, unavailable int32) func(*appsv1.DaemonSet) {
	return func(ds *appsv1.DaemonSet) {
		ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{
			MaxUnavailable: ptr.To(intstr.FromInt32(unavailable)), MaxSurge: ptr.To(intstr.FromInt32(surge))}
	}
}

func newNode(name string, opts ...func(*v1.Node)) *v1.Node {
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	for _, o := range opts {
		o(n)
	}
	return n
}

func labelled(k, v string) func(*v1.Node) { return func(n *v1.Node) { n.Labels[k] = v } }

func tainted(key string, effect v1.TaintEffect) func(*v1.Node) {
	return func(n *v1.Node) { n.Spec.Taints = append(n.Spec.Taints, v1.Taint{Key: key, Effect: effect}) }
}

func nodes(names ...string) []*v1.Node {
	out := make([]*v1.Node, len(names))
	for i, n := range names {
		out[i] = newNode(n)
	}
	return out
}

// dpod is a pod of the "agent" daemon set on node with the given
// controller-revision-hash; options change its state.
func dpod(name, node, hash string, opts ...func(*v1.Pod)) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name + "-uid"),
			Labels:            map[string]string{"app": "agent", appsv1.DefaultDaemonSetUniqueLabelKey: hash},
			CreationTimestamp: metav1.NewTime(now.Add(-time.Hour)),
			OwnerReferences:   []metav1.OwnerReference{*ControllerRef(newDS())}},
		Spec:   v1.PodSpec{NodeName: node},
		Status: v1.PodStatus{Phase: v1.PodRunning},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func ready(p *v1.Pod) {
	p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Minute))}}
}

func phase(ph v1.PodPhase) func(*v1.Pod) { return func(p *v1.Pod) { p.Status.Phase = ph } }

func age(d time.Duration) func(*v1.Pod) {
	return func(p *v1.Pod) { p.CreationTimestamp = metav1.NewTime(now.Add(-d)) }
}

func deleting(p *v1.Pod) { p.DeletionTimestamp = ptr.To(metav1.NewTime(now)) }

func unscheduledFor(node string) func(*v1.Pod) {
	return func(p *v1.Pod) {
		p.Spec.NodeName = ""
		p.Spec.Affinity = nodeNameAffinity(nil, node)
	}
}

func TestNodeShouldRun(t *testing.T) {
	tests := []struct {
		name           string
		ds             *appsv1.DaemonSet
		node           *v1.Node
		run, mayRemain bool
	}{
		{"plain node", newDS(), newNode("a"), true, true},
		{"nodeSelector matches", newDS(withNodeSelector("disk", "ssd")), newNode("a", labelled("disk", "ssd")), true, true},
		{"nodeSelector does not", newDS(withNodeSelector("disk", "ssd")), newNode("a"), false, false},
		{"required affinity does not match", newDS(func(ds *appsv1.DaemonSet) {
			ds.Spec.Template.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{
				NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchExpressions: []v1.NodeSelectorRequirement{{Key: "zone", Operator: v1.NodeSelectorOpIn, Values: []string{"z1"}}}}}}}}
		}), newNode("a", labelled("zone", "z2")), false, false},
		{"template nodeName elsewhere", newDS(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.NodeName = "b" }), newNode("a"), false, false},
		{"NoSchedule taint: no new pod, the old may stay", newDS(), newNode("a", tainted("dedicated", v1.TaintEffectNoSchedule)), false, true},
		{"NoExecute taint: none at all", newDS(), newNode("a", tainted("dedicated", v1.TaintEffectNoExecute)), false, false},
		{"PreferNoSchedule is no obstacle", newDS(), newNode("a", tainted("dedicated", v1.TaintEffectPreferNoSchedule)), true, true},
		{"tolerated taint", newDS(withToleration(v1.Toleration{Key: "dedicated", Operator: v1.TolerationOpExists})),
			newNode("a", tainted("dedicated", v1.TaintEffectNoExecute)), true, true},
		{"unschedulable node: tolerated by default", newDS(), newNode("a", tainted(v1.TaintNodeUnschedulable, v1.TaintEffectNoSchedule)), true, true},
		{"not-ready node: tolerated by default", newDS(), newNode("a", tainted(v1.TaintNodeNotReady, v1.TaintEffectNoExecute)), true, true},
		{"network unavailable: only hostNetwork pods", newDS(), newNode("a", tainted(v1.TaintNodeNetworkUnavailable, v1.TaintEffectNoSchedule)), false, true},
		{"network unavailable, hostNetwork", newDS(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.HostNetwork = true }),
			newNode("a", tainted(v1.TaintNodeNetworkUnavailable, v1.TaintEffectNoSchedule)), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, remain := NodeShouldRun(tt.node, tt.ds)
			if run != tt.run || remain != tt.mayRemain {
				t.Errorf("NodeShouldRun = %v, %v; want %v, %v", run, remain, tt.run, tt.mayRemain)
			}
		})
	}
}

func TestAddDaemonTolerations(t *testing.T) {
	spec := &v1.PodSpec{HostNetwork: true, Tolerations: []v1.Toleration{
		{Key: v1.TaintNodeNotReady, Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
		{Key: "mine", Operator: v1.TolerationOpEqual, Value: "x"},
	}}
	AddDaemonTolerations(spec)
	var got []string
	for _, tol := range spec.Tolerations {
		s := fmt.Sprintf("%s %s %s", tol.Key, tol.Operator, tol.Effect)
		if tol.TolerationSeconds != nil {
			s += fmt.Sprintf(" %ds", *tol.TolerationSeconds)
		}
		got = append(got, s)
	}
	want := []string{
		"node.kubernetes.io/not-ready Exists NoExecute", // the user's 300 s is replaced: a daemon pod stays
		"mine Equal ",
		"node.kubernetes.io/unreachable Exists NoExecute",
		"node.kubernetes.io/disk-pressure Exists NoSchedule",
		"node.kubernetes.io/memory-pressure Exists NoSchedule",
		"node.kubernetes.io/pid-pressure Exists NoSchedule",
		"node.kubernetes.io/unschedulable Exists NoSchedule",
		"node.kubernetes.io/network-unavailable Exists NoSchedule",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tolerations:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestNewPod(t *testing.T) {
	ds := newDS(func(ds *appsv1.DaemonSet) {
		ds.Annotations = map[string]string{TemplateGenerationAnnotation: "3"}
		ds.Spec.Template.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &v1.NodeSelector{
			NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchExpressions: []v1.NodeSelectorRequirement{{Key: "zone", Operator: v1.NodeSelectorOpExists}}}}}}}
	})
	p := NewPod(ds, "abc", "n1")
	if p.GenerateName != "agent-" || p.Labels["app"] != "agent" || p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != "abc" || p.Labels[TemplateGenerationLabel] != "3" {
		t.Errorf("meta = %+v", p.ObjectMeta)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.Kind != "DaemonSet" || ref.UID != ds.UID || !*ref.BlockOwnerDeletion {
		t.Errorf("owner = %+v", p.OwnerReferences)
	}
	if n, ok := TargetNode(p); !ok || n != "n1" || p.Spec.NodeName != "" {
		t.Errorf("target node %q %v, nodeName %q: the scheduler binds it", n, ok, p.Spec.NodeName)
	}
	terms := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	if len(terms) != 1 || len(terms[0].MatchExpressions) != 0 || terms[0].MatchFields[0].Key != "metadata.name" {
		t.Errorf("terms = %+v", terms)
	}
	if len(p.Spec.Tolerations) != 6 {
		t.Errorf("%d tolerations, want the 6 defaults", len(p.Spec.Tolerations))
	}
	if ds.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions == nil ||
		len(ds.Spec.Template.Spec.Tolerations) != 0 {
		t.Error("NewPod changed the daemon set's template")
	}
}

// names renders a plan as "create a,b delete x,y failed z".
func names(p Plan) string {
	var del, failed []string
	for _, x := range p.Delete {
		del = append(del, x.Name)
	}
	for _, x := range p.Failed {
		failed = append(failed, x.Name)
	}
	sort.Strings(del)
	return fmt.Sprintf("create %s delete %s failed %s", strings.Join(p.Create, ","), strings.Join(del, ","), strings.Join(failed, ","))
}

func TestManage(t *testing.T) {
	tests := []struct {
		name  string
		ds    *appsv1.DaemonSet
		nodes []*v1.Node
		pods  []*v1.Pod
		want  string
	}{
		{"a pod for every node", newDS(), nodes("a", "b", "c"), nil, "create a,b,c delete  failed "},
		{"only the nodes without one", newDS(), nodes("a", "b"), []*v1.Pod{dpod("pa", "a", "h")}, "create b delete  failed "},
		{"an unscheduled pod counts for its node", newDS(), nodes("a"), []*v1.Pod{dpod("pa", "", "h", unscheduledFor("a"))}, "create  delete  failed "},
		{"nodeSelector subset", newDS(withNodeSelector("role", "edge")),
			[]*v1.Node{newNode("a", labelled("role", "edge")), newNode("b")}, nil, "create a delete  failed "},
		{"a node that stopped qualifying loses its pod", newDS(withNodeSelector("role", "edge")),
			[]*v1.Node{newNode("a")}, []*v1.Pod{dpod("pa", "a", "h")}, "create  delete pa failed "},
		{"NoSchedule taint keeps the running pod", newDS(),
			[]*v1.Node{newNode("a", tainted("x", v1.TaintEffectNoSchedule))}, []*v1.Pod{dpod("pa", "a", "h")}, "create  delete  failed "},
		{"NoExecute taint evicts it", newDS(),
			[]*v1.Node{newNode("a", tainted("x", v1.TaintEffectNoExecute))}, []*v1.Pod{dpod("pa", "a", "h")}, "create  delete pa failed "},
		{"failed pods are replaced, succeeded ones removed", newDS(), nodes("a", "b"),
			[]*v1.Pod{dpod("pa", "a", "h", phase(v1.PodFailed)), dpod("pb", "b", "h", phase(v1.PodSucceeded))}, "create  delete pb failed pa"},
		{"a duplicate goes, the oldest stays", newDS(), nodes("a"),
			[]*v1.Pod{dpod("young", "a", "h", age(time.Minute)), dpod("old", "a", "h", age(time.Hour))}, "create  delete young failed "},
		{"pods being deleted are left alone", newDS(), nodes("a"),
			[]*v1.Pod{dpod("going", "a", "h", deleting), dpod("pa", "a", "h")}, "create  delete  failed "},
		{"an unscheduled pod for a node that is gone", newDS(), nodes("a"),
			[]*v1.Pod{dpod("pa", "a", "h"), dpod("orphaned", "", "h", unscheduledFor("gone"))}, "create  delete orphaned failed "},
		{"surge: old and new pod may share a node", newDS(withSurge(1, 0)), nodes("a"),
			[]*v1.Pod{dpod("old", "a", "h1", ready), dpod("new", "a", "h2", age(time.Minute))}, "create  delete  failed "},
		{"surge: the old pod goes once the new one is available", newDS(withSurge(1, 0)), nodes("a"),
			[]*v1.Pod{dpod("old", "a", "h1", ready), dpod("new", "a", "h2", ready, age(time.Minute))}, "create  delete old failed "},
		{"surge: a not-ready old pod goes at once", newDS(withSurge(1, 0)), nodes("a"),
			[]*v1.Pod{dpod("old", "a", "h1"), dpod("new", "a", "h2", age(time.Minute))}, "create  delete old failed "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := names(Manage(tt.ds, tt.nodes, ByNode(tt.pods), "h2", now))
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestRollingUpdate(t *testing.T) {
	old := func(name, node string, opts ...func(*v1.Pod)) *v1.Pod {
		return dpod(name, node, "old", append([]func(*v1.Pod){ready}, opts...)...)
	}
	cur := func(name, node string, opts ...func(*v1.Pod)) *v1.Pod { return dpod(name, node, "new", opts...) }
	tests := []struct {
		name  string
		ds    *appsv1.DaemonSet
		nodes []*v1.Node
		pods  []*v1.Pod
		want  string
	}{
		{"maxUnavailable 1: one old pod at a time", newDS(), nodes("a", "b", "c"),
			[]*v1.Pod{old("pa", "a"), old("pb", "b"), old("pc", "c")}, "create  delete pa failed "},
		{"wait while a new pod is not available", newDS(), nodes("a", "b", "c"),
			[]*v1.Pod{cur("pa", "a"), old("pb", "b"), old("pc", "c")}, "create  delete  failed "},
		{"next one once it is", newDS(), nodes("a", "b", "c"),
			[]*v1.Pod{cur("pa", "a", ready), old("pb", "b"), old("pc", "c")}, "create  delete pb failed "},
		{"a node still without a pod counts as unavailable", newDS(), nodes("a", "b"),
			[]*v1.Pod{old("pb", "b")}, "create  delete  failed "},
		{"unavailable old pods go regardless", newDS(), nodes("a", "b", "c"),
			[]*v1.Pod{cur("pa", "a"), dpod("pb", "b", "old"), old("pc", "c")}, "create  delete pb failed "},
		{"maxUnavailable 50% of 4 is 2", newDS(func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromString("50%"))
		}), nodes("a", "b", "c", "d"),
			[]*v1.Pod{old("pa", "a"), old("pb", "b"), old("pc", "c"), old("pd", "d")}, "create  delete pa,pb failed "},
		{"up to date: nothing", newDS(), nodes("a"), []*v1.Pod{cur("pa", "a", ready)}, "create  delete  failed "},
		{"surge 1: a new pod beside an old one", newDS(withSurge(1, 0)), nodes("a", "b"),
			[]*v1.Pod{old("pa", "a"), old("pb", "b")}, "create a delete  failed "},
		{"surge: wait for the surged pod", newDS(withSurge(1, 0)), nodes("a", "b"),
			[]*v1.Pod{old("pa", "a"), cur("na", "a", age(time.Minute)), old("pb", "b")}, "create  delete  failed "},
		{"surge: old pod goes when the new is available, next node surges", newDS(withSurge(1, 0)), nodes("a", "b"),
			[]*v1.Pod{old("pa", "a"), cur("na", "a", ready, age(time.Minute)), old("pb", "b")}, "create b delete pa failed "},
		{"surge: an unavailable old pod is replaced beyond maxSurge", newDS(withSurge(1, 0)), nodes("a", "b"),
			[]*v1.Pod{old("pa", "a"), cur("na", "a", age(time.Minute)), dpod("pb", "b", "old")}, "create b delete  failed "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := names(RollingUpdate(tt.ds, tt.nodes, ByNode(tt.pods), "new", now))
			if got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	ds := newDS(withNodeSelector("role", "edge"), func(ds *appsv1.DaemonSet) { ds.Spec.MinReadySeconds = 120 })
	ns := []*v1.Node{newNode("a", labelled("role", "edge")), newNode("b", labelled("role", "edge")),
		newNode("c", labelled("role", "edge")), newNode("d")}
	longReady := func(p *v1.Pod) {
		p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}
	}
	pods := []*v1.Pod{
		dpod("pa", "a", "new", longReady),
		dpod("pb", "b", "old", ready), // ready for a minute: not available yet
		dpod("pd", "d", "new"),        // misscheduled
	}
	got := Status(ds, ns, ByNode(pods), "new", now)
	want := appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 2, NumberMisscheduled: 1,
		NumberReady: 2, NumberAvailable: 1, UpdatedNumberScheduled: 1, NumberUnavailable: 2}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("status = %+v\nwant     %+v", got, want)
	}
}

func TestHistory(t *testing.T) {
	ds := newDS()
	data, err := HistoryData(ds)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), `{"spec":{"template":{"$patch":"replace","metadata":{`) {
		t.Errorf("data = %s", data)
	}
	h1 := controller.ComputeHash(&ds.Spec.Template, nil)
	if h1 != controller.ComputeHash(&ds.Spec.Template, nil) || h1 == controller.ComputeHash(&ds.Spec.Template, ptr.To[int32](1)) {
		t.Error("the hash must be stable and change with the collision count")
	}
	changed := newDS(func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.Containers[0].Image = "agent:2" })
	if controller.ComputeHash(&changed.Spec.Template, nil) == h1 {
		t.Error("a new template must hash differently")
	}
	rev, err := NewRevision(ds, 3)
	if err != nil {
		t.Fatal(err)
	}
	if rev.Name != "agent-"+h1 || rev.Revision != 3 || rev.Labels["app"] != "agent" || rev.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != h1 ||
		metav1.GetControllerOf(rev).UID != ds.UID {
		t.Errorf("revision = %+v", rev.ObjectMeta)
	}

	revs := func(hashes ...string) []*appsv1.ControllerRevision {
		var out []*appsv1.ControllerRevision
		for i, h := range hashes {
			out = append(out, &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: "r-" + h,
				Labels: map[string]string{appsv1.DefaultDaemonSetUniqueLabelKey: h}}, Revision: int64(i + 1)})
		}
		return out
	}
	gone := RevisionsToDelete(revs("a", "b", "c", "d"), 2, []*v1.Pod{dpod("p", "n", "a")})
	var got []string
	for _, r := range gone {
		got = append(got, r.Name)
	}
	if strings.Join(got, ",") != "r-b,r-c" {
		t.Errorf("deleted %v; want the oldest two no pod runs", got)
	}
	if RevisionsToDelete(revs("a"), 10, nil) != nil {
		t.Error("nothing beyond the limit")
	}
}
