package statefulset

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

const (
	rev1 = "web-rev1"
	rev2 = "web-rev2"
)

func newSet(n int32, opts ...func(*appsv1.StatefulSet)) *appsv1.StatefulSet {
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "set-uid", Generation: 2},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To(n),
			ServiceName: "web-svc",
			Selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "nginx:1"}}},
			},
			PodManagementPolicy: appsv1.OrderedReadyPodManagement,
			UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func parallel(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }
func onDelete(s *appsv1.StatefulSet) {
	s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
}
func partitioned(p int32) func(*appsv1.StatefulSet) {
	return func(s *appsv1.StatefulSet) {
		s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To(p)}
	}
}
func maxUnavailable(n int) func(*appsv1.StatefulSet) {
	return func(s *appsv1.StatefulSet) {
		s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{MaxUnavailable: ptr.To(intstr.FromInt(n))}
	}
}
func startAt(n int32) func(*appsv1.StatefulSet) {
	return func(s *appsv1.StatefulSet) { s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: n} }
}
func minReady(sec int32) func(*appsv1.StatefulSet) {
	return func(s *appsv1.StatefulSet) { s.Spec.MinReadySeconds = sec }
}

// member is set web's healthy pod ord at rev1; opts tweak it.
func member(ord int, opts ...func(*v1.Pod)) *v1.Pod {
	name := fmt.Sprintf("web-%d", ord)
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name),
			Labels: map[string]string{"app": "web", PodNameLabel: name, PodIndexLabel: fmt.Sprint(ord), RevisionLabel: rev1}},
		Status: v1.PodStatus{Phase: v1.PodRunning, Conditions: []v1.PodCondition{
			{Type: v1.PodReady, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-time.Hour))}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func pending(p *v1.Pod) { p.Status = v1.PodStatus{Phase: v1.PodPending} }
func failed(p *v1.Pod)  { p.Status.Phase = v1.PodFailed }
func terminating(p *v1.Pod) {
	p.DeletionTimestamp = ptr.To(metav1.NewTime(now))
}
func atRev(r string) func(*v1.Pod) { return func(p *v1.Pod) { p.Labels[RevisionLabel] = r } }
func readySince(d time.Duration) func(*v1.Pod) {
	return func(p *v1.Pod) { p.Status.Conditions[0].LastTransitionTime = metav1.NewTime(now.Add(-d)) }
}
func unlabelled(p *v1.Pod) { delete(p.Labels, PodIndexLabel) }

// show renders a plan's actions as "create 2", "create 2@current",
// "delete 4 (scale down)", "fix 1".
func show(p Plan) []string {
	out := []string{}
	for _, a := range p.Actions {
		switch a.Op {
		case Create:
			s := fmt.Sprintf("create %d", a.Ordinal)
			if a.Current {
				s += "@current"
			}
			out = append(out, s)
		case Delete:
			out = append(out, fmt.Sprintf("delete %d (%s)", a.Ordinal, a.Why))
		case FixIdentity:
			out = append(out, fmt.Sprintf("fix %d", a.Ordinal))
		}
	}
	return out
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name        string
		set         *appsv1.StatefulSet
		pods        []*v1.Pod
		update      string // default rev1
		want        []string
		wantBlocked string
	}{
		{name: "ordered: creates ordinal 0 first", set: newSet(3), want: []string{"create 0"}, wantBlocked: "web-0"},
		{name: "ordered: next ordinal once the previous is ready", set: newSet(3),
			pods: []*v1.Pod{member(0)}, want: []string{"create 1"}, wantBlocked: "web-1"},
		{name: "ordered: waits for a pending predecessor", set: newSet(3),
			pods: []*v1.Pod{member(0), member(1, pending)}, want: []string{}, wantBlocked: "web-1"},
		{name: "ordered: waits for minReadySeconds", set: newSet(3, minReady(30)),
			pods: []*v1.Pod{member(0, readySince(10*time.Second))}, want: []string{}, wantBlocked: "web-0"},
		{name: "ordered: available after minReadySeconds", set: newSet(3, minReady(30)),
			pods: []*v1.Pod{member(0, readySince(time.Minute))}, want: []string{"create 1"}, wantBlocked: "web-1"},
		{name: "ordered: a gap is filled before anything else", set: newSet(3),
			pods: []*v1.Pod{member(0), member(2)}, want: []string{"create 1"}, wantBlocked: "web-1"},
		{name: "parallel: creates every missing ordinal at once", set: newSet(3, parallel),
			pods: []*v1.Pod{member(1, pending)}, want: []string{"create 0", "create 2"}},
		{name: "ordinals.start shifts the names", set: newSet(2, startAt(5), parallel),
			want: []string{"create 5", "create 6"}},
		{name: "members below ordinals.start are condemned", set: newSet(1, startAt(1)),
			pods: []*v1.Pod{member(0), member(1)}, want: []string{"delete 0 (scale down)"}},
		{name: "ordered scale down: highest first, one at a time", set: newSet(1),
			pods: []*v1.Pod{member(0), member(1), member(2)}, want: []string{"delete 2 (scale down)"}},
		{name: "ordered scale down waits for the termination", set: newSet(1),
			pods: []*v1.Pod{member(0), member(1), member(2, terminating)}, want: []string{}, wantBlocked: "web-2"},
		{name: "ordered scale down waits for unhealthy members", set: newSet(1),
			pods: []*v1.Pod{member(0, pending), member(1), member(2)}, want: []string{}, wantBlocked: "web-0"},
		{name: "ordered scale down may delete the first unhealthy pod", set: newSet(1),
			pods: []*v1.Pod{member(0), member(1), member(2, pending)}, want: []string{"delete 2 (scale down)"}},
		{name: "ordered scale down: a healthy highest pod goes even if a lower one is not", set: newSet(1),
			pods: []*v1.Pod{member(0), member(1, pending), member(2)}, want: []string{"delete 2 (scale down)"}},
		{name: "ordered scale down: an unhealthy pod waits for a lower unhealthy one", set: newSet(1),
			pods: []*v1.Pod{member(0), member(1, pending), member(2, pending)}, want: []string{}, wantBlocked: "web-2"},
		{name: "parallel scale down: all at once", set: newSet(1, parallel),
			pods: []*v1.Pod{member(0), member(1, pending), member(2), member(3, terminating)},
			want: []string{"delete 2 (scale down)", "delete 1 (scale down)"}},
		{name: "failed member is deleted to be recreated", set: newSet(2),
			pods: []*v1.Pod{member(0, failed), member(1)}, want: []string{"delete 0 (failed)"}, wantBlocked: "web-0"},
		{name: "succeeded member is deleted to be recreated", set: newSet(1),
			pods: []*v1.Pod{member(0, func(p *v1.Pod) { p.Status.Phase = v1.PodSucceeded })}, want: []string{"delete 0 (terminated)"}, wantBlocked: "web-0"},
		{name: "missing identity labels are fixed", set: newSet(2),
			pods: []*v1.Pod{member(0, unlabelled), member(1)}, want: []string{"fix 0"}},
		{name: "rolling update: highest ordinal first", set: newSet(3), update: rev2,
			pods: []*v1.Pod{member(0), member(1), member(2)}, want: []string{"delete 2 (update)"}},
		{name: "rolling update: waits for the replacement", set: newSet(3), update: rev2,
			pods: []*v1.Pod{member(0), member(1), member(2, atRev(rev2), pending)}, want: []string{}, wantBlocked: "web-2"},
		{name: "rolling update: next once the replacement is healthy", set: newSet(3), update: rev2,
			pods: []*v1.Pod{member(0), member(1), member(2, atRev(rev2))}, want: []string{"delete 1 (update)"}},
		{name: "rolling update: a partition stops it", set: newSet(3, partitioned(2)), update: rev2,
			pods: []*v1.Pod{member(0), member(1), member(2, atRev(rev2))}, want: []string{}},
		{name: "rolling update: below the partition a recreated pod keeps the current revision", set: newSet(3, partitioned(2)), update: rev2,
			pods: []*v1.Pod{member(1), member(2, atRev(rev2))}, want: []string{"create 0@current"}, wantBlocked: "web-0"},
		{name: "rolling update: above the partition a recreated pod gets the update revision", set: newSet(3, partitioned(1)), update: rev2,
			pods: []*v1.Pod{member(0), member(1)}, want: []string{"create 2"}, wantBlocked: "web-2"},
		{name: "rolling update: maxUnavailable 2 replaces two at once", set: newSet(4, maxUnavailable(2)), update: rev2,
			pods: []*v1.Pod{member(0), member(1), member(2), member(3)}, want: []string{"delete 3 (update)", "delete 2 (update)"}},
		{name: "rolling update: maxUnavailable counts unhealthy members", set: newSet(4, maxUnavailable(2), parallel), update: rev2,
			pods: []*v1.Pod{member(0), member(1), member(2), member(3, atRev(rev2), pending)}, want: []string{"delete 2 (update)"}},
		{name: "OnDelete: never deletes for an update", set: newSet(2, onDelete), update: rev2,
			pods: []*v1.Pod{member(0), member(1)}, want: []string{}},
		{name: "OnDelete: a deleted pod comes back at the update revision", set: newSet(2, onDelete), update: rev2,
			pods: []*v1.Pod{member(0)}, want: []string{"create 1"}, wantBlocked: "web-1"},
		{name: "being deleted: nothing", set: newSet(3, func(s *appsv1.StatefulSet) { s.DeletionTimestamp = ptr.To(metav1.NewTime(now)) }),
			want: []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			update := tt.update
			if update == "" {
				update = rev1
			}
			p := Decide(Input{Set: tt.set, Pods: tt.pods, CurrentRevision: rev1, UpdateRevision: update, Now: now})
			if got := show(p); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("actions = %q, want %q", got, tt.want)
			}
			if p.Blocked != tt.wantBlocked {
				t.Errorf("blocked on %q, want %q", p.Blocked, tt.wantBlocked)
			}
		})
	}
}

func TestStatus(t *testing.T) {
	set := newSet(3, minReady(30))
	pods := []*v1.Pod{
		member(0),
		member(1, readySince(5*time.Second), atRev(rev2)),
		member(2, pending, atRev(rev2)),
		member(3, terminating),
	}
	st := Status(set, pods, rev1, rev2, now)
	want := appsv1.StatefulSetStatus{ObservedGeneration: 2, Replicas: 4, ReadyReplicas: 3, AvailableReplicas: 2,
		CurrentReplicas: 1, UpdatedReplicas: 2, CurrentRevision: rev1, UpdateRevision: rev2}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("status = %+v\nwant %+v", st, want)
	}
	// All updated and ready: the rollout is complete.
	done := Status(newSet(2), []*v1.Pod{member(0, atRev(rev2)), member(1, atRev(rev2))}, rev1, rev2, now)
	if done.CurrentRevision != rev2 || done.CurrentReplicas != 2 {
		t.Errorf("completed rollout: status %+v", done)
	}
	// OnDelete never completes by itself.
	od := Status(newSet(1, onDelete), []*v1.Pod{member(0, atRev(rev2))}, rev1, rev2, now)
	if od.CurrentRevision != rev1 {
		t.Errorf("OnDelete: currentRevision %s", od.CurrentRevision)
	}
}

func TestNewPod(t *testing.T) {
	set := newSet(3, func(s *appsv1.StatefulSet) {
		s.Spec.VolumeClaimTemplates = []v1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "www"}}}
		s.Spec.Template.Spec.Volumes = []v1.Volume{{Name: "cfg"}, {Name: "www"}}
	})
	p := NewPod(set, rev1, 2)
	if p.Name != "web-2" || p.GenerateName != "web-" || p.Spec.Hostname != "web-2" || p.Spec.Subdomain != "web-svc" {
		t.Errorf("identity: name %s generateName %s hostname %s subdomain %s", p.Name, p.GenerateName, p.Spec.Hostname, p.Spec.Subdomain)
	}
	wantLabels := map[string]string{"app": "web", PodNameLabel: "web-2", PodIndexLabel: "2", RevisionLabel: rev1}
	if !reflect.DeepEqual(p.Labels, wantLabels) {
		t.Errorf("labels %v", p.Labels)
	}
	if len(p.Spec.Volumes) != 2 || p.Spec.Volumes[0].PersistentVolumeClaim == nil ||
		p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "www-web-2" || p.Spec.Volumes[1].Name != "cfg" {
		t.Errorf("volumes %+v", p.Spec.Volumes)
	}
	if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != set.UID || ref.Kind != "StatefulSet" {
		t.Errorf("controller %+v", ref)
	}
	if set.Spec.Template.Labels[PodNameLabel] != "" {
		t.Error("NewPod changed the set's template")
	}
	c := Claims(set, 2)
	if len(c) != 1 || c[0].Name != "www-web-2" || c[0].Labels["app"] != "web" {
		t.Errorf("claims %+v", c)
	}
}

func TestParentAndOrdinal(t *testing.T) {
	for name, want := range map[string]int{"web-0": 0, "my-web-12": 12, "web": -1, "web-x": -1, "web-": -1} {
		if _, got := ParentAndOrdinal(name); got != want {
			t.Errorf("%s: ordinal %d, want %d", name, got, want)
		}
	}
	if parent, _ := ParentAndOrdinal("my-web-12"); parent != "my-web" {
		t.Errorf("parent %q", parent)
	}
}

func TestClaim(t *testing.T) {
	set := newSet(3)
	sel := labels.SelectorFromSet(labels.Set{"app": "web"})
	owned := func(p *v1.Pod) { p.OwnerReferences = []metav1.OwnerReference{*ControllerRef(set)} }
	other := func(p *v1.Pod) {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "x", UID: "x", Controller: ptr.To(true)}}
	}
	stranger := member(5)
	stranger.Name = "db-0"
	relabelled := member(2, owned)
	relabelled.Labels["app"] = "debug"
	c := Claim(set, sel, []*v1.Pod{member(0, owned), member(1), relabelled, member(3, other), stranger, member(4, terminating)})
	got := fmt.Sprintf("adopt %s release %s owned %s", names(c.Adopt), names(c.Release), names(c.Owned))
	if want := "adopt web-1 release web-2 owned web-0,web-1"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
}

func names(pods []*v1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return strings.Join(out, ",")
}

func TestNextAvailable(t *testing.T) {
	set := newSet(2, minReady(30))
	pods := []*v1.Pod{member(0, readySince(20*time.Second)), member(1, readySince(time.Hour))}
	if got := NextAvailable(set, pods, now); !got.Equal(now.Add(10 * time.Second)) {
		t.Errorf("next available %v", got)
	}
	if got := NextAvailable(newSet(2), pods, now); !got.IsZero() {
		t.Errorf("no minReadySeconds: %v", got)
	}
}

func TestDecideStatusLeavesOutTheDeleted(t *testing.T) {
	// Rolling update: web-2 goes, so only web-0 and web-1 remain at the
	// current revision (a recreated web-2 must not count as current).
	p := Decide(Input{Set: newSet(3), Pods: []*v1.Pod{member(0), member(1), member(2)}, CurrentRevision: rev1, UpdateRevision: rev2, Now: now})
	if p.Status.CurrentReplicas != 2 || p.Status.UpdatedReplicas != 0 || p.Status.Replicas != 3 {
		t.Errorf("status %+v", p.Status)
	}
	// Scale down at one revision: both counts drop; the rollout stays complete.
	p = Decide(Input{Set: newSet(1), Pods: []*v1.Pod{member(0), member(1)}, CurrentRevision: rev1, UpdateRevision: rev1, Now: now})
	if p.Status.CurrentReplicas != 1 || p.Status.UpdatedReplicas != 1 || p.Status.CurrentRevision != rev1 {
		t.Errorf("status %+v", p.Status)
	}
}
