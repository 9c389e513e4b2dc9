package deployment

import (
	"fmt"
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

var now = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func newD(replicas int32, surge, unavailable intstr.IntOrString) *appsv1.Deployment {
	labels := map[string]string{"app": "web"}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "d-uid", Generation: 1},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "app", Image: "app:2"}}},
			},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &surge, MaxUnavailable: &unavailable}},
			RevisionHistoryLimit:    ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
		},
	}
}

// rs is a ReplicaSet named name, created age minutes ago, with spec
// replicas and available pods (all counted in status).
func rs(name string, age int, replicas, available int32, annotations ...string) *appsv1.ReplicaSet {
	r := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name + "-uid"),
			CreationTimestamp: metav1.NewTime(now.Add(-time.Duration(age) * time.Minute)), Annotations: map[string]string{}},
		Spec:   appsv1.ReplicaSetSpec{Replicas: ptr.To(replicas)},
		Status: appsv1.ReplicaSetStatus{Replicas: replicas, ReadyReplicas: available, AvailableReplicas: available},
	}
	for i := 0; i+1 < len(annotations); i += 2 {
		r.Annotations[annotations[i]] = annotations[i+1]
	}
	return r
}

func scales(s []Scale) string {
	var parts []string
	for _, x := range s {
		parts = append(parts, fmt.Sprintf("%s=%d", x.RS.Name, x.To))
	}
	return strings.Join(parts, ",")
}

func TestResolveFenceposts(t *testing.T) {
	for _, tc := range []struct {
		surge, unavailable intstr.IntOrString
		desired            int32
		wantS, wantU       int32
	}{
		{intstr.FromString("25%"), intstr.FromString("25%"), 10, 3, 2},
		{intstr.FromString("25%"), intstr.FromString("25%"), 1, 1, 0},
		{intstr.FromInt32(0), intstr.FromInt32(0), 5, 0, 1},
		{intstr.FromString("0%"), intstr.FromString("10%"), 5, 0, 1},
		{intstr.FromInt32(2), intstr.FromString("50%"), 7, 2, 3},
	} {
		s, u := ResolveFenceposts(&tc.surge, &tc.unavailable, tc.desired)
		if s != tc.wantS || u != tc.wantU {
			t.Errorf("%s/%s of %d = %d/%d, want %d/%d", tc.surge.String(), tc.unavailable.String(), tc.desired, s, u, tc.wantS, tc.wantU)
		}
	}
	d := newD(2, intstr.FromInt32(0), intstr.FromInt32(5))
	if got := MaxUnavailable(d); got != 2 {
		t.Errorf("MaxUnavailable capped = %d, want 2", got)
	}
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	if MaxSurge(d) != 0 || MaxUnavailable(d) != 0 {
		t.Error("recreate has surge or unavailable")
	}
}

func TestComputeHash(t *testing.T) {
	d := newD(1, intstr.FromInt32(1), intstr.FromInt32(0))
	a := controller.ComputeHash(&d.Spec.Template, nil)
	if a != controller.ComputeHash(d.Spec.Template.DeepCopy(), nil) {
		t.Error("hash not stable")
	}
	if strings.ContainsAny(a, "aeiou013") || len(a) < 8 {
		t.Errorf("hash %q is not a safe encoding", a)
	}
	if a == controller.ComputeHash(&d.Spec.Template, ptr.To[int32](1)) {
		t.Error("collision count does not change the hash")
	}
	d.Spec.Template.Spec.Containers[0].Image = "app:3"
	if a == controller.ComputeHash(&d.Spec.Template, nil) {
		t.Error("template change does not change the hash")
	}
	r := NewReplicaSet(d)
	h := r.Labels[PodTemplateHashLabel]
	if r.Name != "web-"+h || r.Spec.Selector.MatchLabels[PodTemplateHashLabel] != h || r.Spec.Template.Labels[PodTemplateHashLabel] != h ||
		d.Spec.Template.Labels[PodTemplateHashLabel] != "" || !EqualIgnoreHash(&r.Spec.Template, &d.Spec.Template) {
		t.Errorf("new replicaset %+v", r.ObjectMeta)
	}
	if ref := r.OwnerReferences[0]; ref.Kind != "Deployment" || !*ref.Controller || ref.UID != d.UID {
		t.Errorf("owner %+v", ref)
	}
}

func TestNewRSReplicas(t *testing.T) {
	for _, tc := range []struct {
		name       string
		d          *appsv1.Deployment
		olds       []*appsv1.ReplicaSet
		cur, want  int32
		recreateTo int32
	}{
		{"fresh deployment takes all", newD(3, intstr.FromString("25%"), intstr.FromString("25%")), nil, 0, 3, 3},
		{"surge over old", newD(10, intstr.FromInt32(3), intstr.FromInt32(2)), []*appsv1.ReplicaSet{rs("old", 5, 10, 10)}, 0, 3, 10},
		{"no room", newD(10, intstr.FromInt32(3), intstr.FromInt32(2)), []*appsv1.ReplicaSet{rs("old", 5, 10, 10)}, 3, 3, 10},
		{"room after scale-down", newD(10, intstr.FromInt32(3), intstr.FromInt32(2)), []*appsv1.ReplicaSet{rs("old", 5, 8, 8)}, 3, 5, 10},
		{"never past replicas", newD(4, intstr.FromInt32(3), intstr.FromInt32(0)), []*appsv1.ReplicaSet{rs("old", 5, 1, 1)}, 3, 4, 4},
	} {
		n := rs("new", 1, tc.cur, 0)
		if got := NewRSReplicas(tc.d, append(tc.olds, n), n); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
		tc.d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		if got := NewRSReplicas(tc.d, append(tc.olds, n), n); got != tc.recreateTo {
			t.Errorf("%s recreate: %d, want %d", tc.name, got, tc.recreateTo)
		}
	}
}

func TestScaleDownOld(t *testing.T) {
	d := newD(10, intstr.FromInt32(3), intstr.FromInt32(2))
	for _, tc := range []struct {
		name  string
		newRS *appsv1.ReplicaSet
		olds  []*appsv1.ReplicaSet
		want  string
	}{
		{"down to min available", rs("new", 1, 3, 0), []*appsv1.ReplicaSet{rs("old", 5, 10, 10)}, "old=8"},
		{"new pods unavailable hold it", rs("new", 1, 5, 0), []*appsv1.ReplicaSet{rs("old", 5, 8, 8)}, ""},
		{"new pods available free it", rs("new", 1, 5, 5), []*appsv1.ReplicaSet{rs("old", 5, 8, 8)}, "old=3"},
		{"unhealthy old pods go first, oldest first", rs("new", 1, 3, 0),
			[]*appsv1.ReplicaSet{rs("mid", 3, 4, 2), rs("oldest", 9, 6, 6)}, "mid=2"},
		{"unhealthy then healthy", rs("new", 1, 3, 3),
			[]*appsv1.ReplicaSet{rs("mid", 3, 4, 2), rs("oldest", 9, 6, 6)}, "oldest=3,mid=2"},
		{"only active old replicasets count", rs("new", 1, 3, 0), []*appsv1.ReplicaSet{rs("old", 5, 10, 10), rs("gone", 9, 0, 0)}, "old=8"},
		{"nothing old", rs("new", 1, 10, 10), []*appsv1.ReplicaSet{rs("gone", 9, 0, 0)}, ""},
	} {
		if got := scales(ScaleDownOld(d, tc.newRS, tc.olds)); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestProportionalScale(t *testing.T) {
	mid := func() (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
		return rs("new", 1, 5, 0, MaxReplicasAnnotation, "13", DesiredReplicasAnnotation, "10"),
			[]*appsv1.ReplicaSet{rs("old", 5, 8, 8, MaxReplicasAnnotation, "13", DesiredReplicasAnnotation, "10")}
	}
	for _, tc := range []struct {
		name     string
		replicas int32
		setup    func() (*appsv1.ReplicaSet, []*appsv1.ReplicaSet)
		want     string
		op       string
	}{
		{"up mid-rollout", 20, mid, "old=14,new=9", "up"},
		{"down mid-rollout", 5, mid, "old=5,new=3", "down"},
		{"to zero", 0, mid, "old=0,new=0", "down"},
		{"one active takes all", 7, func() (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
			return rs("new", 1, 3, 3), []*appsv1.ReplicaSet{rs("old", 5, 0, 0)}
		}, "new=7", ""},
		{"nothing active: the new one", 2, func() (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
			return rs("new", 1, 0, 0), []*appsv1.ReplicaSet{rs("old", 5, 0, 0)}
		}, "new=2", ""},
		{"saturated new: old ones to zero", 10, func() (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
			return rs("new", 1, 10, 10, DesiredReplicasAnnotation, "10"), []*appsv1.ReplicaSet{rs("old", 5, 2, 2)}
		}, "old=0", ""},
	} {
		d := newD(tc.replicas, intstr.FromInt32(3), intstr.FromInt32(2))
		d.Status.Replicas = 13
		n, o := tc.setup()
		got, op := ProportionalScale(d, n, o)
		if scales(got) != tc.want || op != tc.op {
			t.Errorf("%s: %q %q, want %q %q", tc.name, scales(got), op, tc.want, tc.op)
		}
	}
	d := newD(10, intstr.FromInt32(3), intstr.FromInt32(2))
	n, o := mid()
	if IsScalingEvent(d, append(o, n)) {
		t.Error("scaling event at the annotated size")
	}
	d.Spec.Replicas = ptr.To[int32](11)
	if !IsScalingEvent(d, append(o, n)) {
		t.Error("no scaling event at another size")
	}
}

func TestToCleanUp(t *testing.T) {
	d := newD(1, intstr.FromInt32(1), intstr.FromInt32(0))
	d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
	busy := rs("r2", 8, 1, 1, RevisionAnnotation, "2")
	unobserved := rs("r3", 7, 0, 0, RevisionAnnotation, "3")
	unobserved.Generation = 2
	olds := []*appsv1.ReplicaSet{
		rs("r4", 6, 0, 0, RevisionAnnotation, "4"), busy, unobserved,
		rs("r1", 9, 0, 0, RevisionAnnotation, "1"), rs("r5", 5, 0, 0, RevisionAnnotation, "5"),
	}
	var names []string
	for _, r := range ToCleanUp(d, olds) {
		names = append(names, r.Name)
	}
	// Five old, keep one: r1..r4 are candidates; r2 has replicas, r3 is
	// not observed.
	if strings.Join(names, ",") != "r1,r4" {
		t.Errorf("clean up %v, want r1,r4", names)
	}
	d.Spec.RevisionHistoryLimit = nil
	if len(ToCleanUp(d, olds)) != 0 {
		t.Error("no limit cleans up")
	}
}

func TestSetNewRSAnnotations(t *testing.T) {
	d := newD(3, intstr.FromInt32(1), intstr.FromInt32(0))
	d.Annotations = map[string]string{"kubernetes.io/change-cause": "v2", v1.LastAppliedConfigAnnotation: "{}", RevisionAnnotation: "7"}
	fresh := rs("new", 0, 0, 0)
	if !SetNewRSAnnotations(d, fresh, 3, false) {
		t.Fatal("no change on a fresh replicaset")
	}
	want := map[string]string{"kubernetes.io/change-cause": "v2", RevisionAnnotation: "3", DesiredReplicasAnnotation: "3", MaxReplicasAnnotation: "4"}
	if fmt.Sprint(fresh.Annotations) != fmt.Sprint(want) {
		t.Errorf("fresh annotations %v, want %v", fresh.Annotations, want)
	}
	// A rollback brings back revision 1 as revision 5.
	back := rs("back", 9, 0, 0, RevisionAnnotation, "1", "kubernetes.io/change-cause", "v2")
	if !SetNewRSAnnotations(d, back, 5, true) || back.Annotations[RevisionAnnotation] != "5" || back.Annotations[RevisionHistoryAnnotation] != "1" {
		t.Errorf("rolled back annotations %v", back.Annotations)
	}
	if SetNewRSAnnotations(d, back, 5, true) {
		t.Error("second call changed something")
	}
	back.Annotations[RevisionAnnotation] = "2"
	SetNewRSAnnotations(d, back, 6, true)
	if back.Annotations[RevisionHistoryAnnotation] != "1,2" {
		t.Errorf("history %q, want 1,2", back.Annotations[RevisionHistoryAnnotation])
	}
}

func TestRolloutStatus(t *testing.T) {
	progress := func(reason string, status v1.ConditionStatus, age time.Duration) []appsv1.DeploymentCondition {
		return []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: status, Reason: reason,
			LastUpdateTime: metav1.NewTime(now.Add(-age)), LastTransitionTime: metav1.NewTime(now.Add(-age))}}
	}
	for _, tc := range []struct {
		name       string
		stored     appsv1.DeploymentStatus
		newRS      *appsv1.ReplicaSet
		olds       []*appsv1.ReplicaSet
		wantReason string
		wantMsg    string
		available  v1.ConditionStatus
	}{
		{"complete", appsv1.DeploymentStatus{Conditions: progress(ReasonReplicaSetUpdated, v1.ConditionTrue, time.Minute)},
			rs("web-abc", 1, 4, 4), nil, ReasonNewRSAvailable, `ReplicaSet "web-abc" has successfully progressed.`, v1.ConditionTrue},
		{"progress", appsv1.DeploymentStatus{Replicas: 4, Conditions: progress(ReasonNewRSCreated, v1.ConditionTrue, time.Minute)},
			rs("web-abc", 1, 1, 0), []*appsv1.ReplicaSet{rs("old", 5, 4, 4)}, ReasonReplicaSetUpdated, `ReplicaSet "web-abc" is progressing.`, v1.ConditionTrue},
		{"no progress within the deadline", appsv1.DeploymentStatus{Replicas: 5, UpdatedReplicas: 1, AvailableReplicas: 3, ReadyReplicas: 3,
			Conditions: progress(ReasonReplicaSetUpdated, v1.ConditionTrue, time.Minute)},
			rs("web-abc", 1, 1, 0), []*appsv1.ReplicaSet{rs("old", 5, 4, 3)}, ReasonReplicaSetUpdated, "", v1.ConditionTrue},
		{"deadline passed", appsv1.DeploymentStatus{Replicas: 5, UpdatedReplicas: 1, AvailableReplicas: 2, ReadyReplicas: 2,
			Conditions: progress(ReasonReplicaSetUpdated, v1.ConditionTrue, 11*time.Minute)},
			rs("web-abc", 1, 1, 0), []*appsv1.ReplicaSet{rs("old", 5, 4, 2)}, ReasonTimedOut, `ReplicaSet "web-abc" has timed out progressing.`, v1.ConditionFalse},
	} {
		d := newD(4, intstr.FromInt32(1), intstr.FromInt32(1))
		d.Status = tc.stored
		d.Status.ObservedGeneration = 1
		st := RolloutStatus(d, append(tc.olds, tc.newRS), tc.newRS, now)
		p := GetCondition(st, appsv1.DeploymentProgressing)
		if p == nil || p.Reason != tc.wantReason || (tc.wantMsg != "" && p.Message != tc.wantMsg) {
			t.Errorf("%s: progressing %+v, want %s %q", tc.name, p, tc.wantReason, tc.wantMsg)
		}
		if a := GetCondition(st, appsv1.DeploymentAvailable); a == nil || a.Status != tc.available {
			t.Errorf("%s: available %+v, want %s", tc.name, a, tc.available)
		}
	}
	// Counts.
	d := newD(4, intstr.FromInt32(1), intstr.FromInt32(1))
	st := CalculateStatus(d, []*appsv1.ReplicaSet{rs("old", 5, 3, 2), rs("new", 1, 2, 1)}, rs("new", 1, 2, 1), now)
	if st.Replicas != 5 || st.UpdatedReplicas != 2 || st.AvailableReplicas != 3 || st.ReadyReplicas != 3 || st.UnavailableReplicas != 2 || st.ObservedGeneration != 1 {
		t.Errorf("status %+v", st)
	}
	if after, ok := RecheckAfter(&appsv1.Deployment{Spec: d.Spec, Status: appsv1.DeploymentStatus{Conditions: progress(ReasonReplicaSetUpdated, v1.ConditionTrue, time.Minute)}}, st, now); !ok || after != 9*time.Minute+time.Second {
		t.Errorf("recheck after %v %v, want 9m1s", after, ok)
	}
}

func TestPausedCondition(t *testing.T) {
	d := newD(1, intstr.FromInt32(1), intstr.FromInt32(0))
	d.Spec.Paused = true
	c := PausedCondition(d, now)
	if c == nil || c.Reason != ReasonPaused || c.Status != v1.ConditionUnknown || c.Message != "Deployment is paused" {
		t.Fatalf("paused: %+v", c)
	}
	d.Status.Conditions = []appsv1.DeploymentCondition{*c}
	if PausedCondition(d, now) != nil {
		t.Error("paused twice")
	}
	d.Spec.Paused = false
	if c := PausedCondition(d, now); c == nil || c.Reason != ReasonResumed || c.Message != "Deployment is resumed" {
		t.Errorf("resumed: %+v", c)
	}
	d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Reason: ReasonTimedOut}}
	d.Spec.Paused = true
	if PausedCondition(d, now) != nil {
		t.Error("a timed-out rollout's condition was replaced")
	}
}
