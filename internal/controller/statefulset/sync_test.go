package statefulset

import (
	"context"
	"errors"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
)

// fixture is the controller on a controllertest.Fixture (fake
// clientset, informers preloaded with objs); sync is called directly.
type fixture struct {
	*controllertest.Fixture
	t *testing.T
	c *Controller
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	fx, c := controllertest.Build(t, now, newController, objs...)
	return &fixture{Fixture: fx, t: t, c: c}
}

func (f *fixture) sync() error {
	f.t.Helper()
	return f.c.sync(context.Background(), "ns/web")
}

// writes lists the write actions as "verb resource[/sub] [name]".
func (f *fixture) writes() string {
	return strings.Join(f.NamedWrites("patch", "delete", "create", "update"), ", ")
}

// revisionOf is set's first revision, as the controller names it.
func revisionOf(t *testing.T, set *appsv1.StatefulSet, n int64) *appsv1.ControllerRevision {
	t.Helper()
	r, err := NewSetRevision(set, n, ptr.To[int32](0))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ownedBy(set *appsv1.StatefulSet) func(*v1.Pod) {
	return func(p *v1.Pod) { p.OwnerReferences = []metav1.OwnerReference{*ControllerRef(set)} }
}

func TestSyncNewSetCreatesRevisionAndFirstPod(t *testing.T) {
	set := newSet(3)
	f := newFixture(t, set)
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	rev := revisionOf(t, set, 1)
	want := "create controllerrevisions " + rev.Name + ", create pods web-0, update statefulsets/status"
	if got := f.writes(); got != want {
		t.Errorf("writes:\n got %s\nwant %s", got, want)
	}
	pod, err := f.Client.CoreV1().Pods("ns").Get(context.Background(), "web-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Labels[RevisionLabel] != rev.Name || pod.Spec.Hostname != "web-0" || pod.Spec.Subdomain != "web-svc" {
		t.Errorf("pod labels %v hostname %s subdomain %s", pod.Labels, pod.Spec.Hostname, pod.Spec.Subdomain)
	}
	if ev := f.Events(); len(ev) != 1 || ev[0] != "Normal SuccessfulCreate create Pod web-0 in StatefulSet web successful" {
		t.Errorf("events %q", ev)
	}
	got, _ := f.Client.AppsV1().StatefulSets("ns").Get(context.Background(), "web", metav1.GetOptions{})
	st := got.Status
	if st.CurrentRevision != rev.Name || st.UpdateRevision != rev.Name || st.ObservedGeneration != 2 || st.CollisionCount == nil || *st.CollisionCount != 0 {
		t.Errorf("status %+v", st)
	}
}

func TestSyncScalesDownHighestFirst(t *testing.T) {
	set := newSet(1)
	rev := revisionOf(t, set, 1)
	set.Status = appsv1.StatefulSetStatus{ObservedGeneration: 2, Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, CurrentReplicas: 3,
		UpdatedReplicas: 3, CurrentRevision: rev.Name, UpdateRevision: rev.Name, CollisionCount: ptr.To[int32](0)}
	f := newFixture(t, set, rev, member(0, ownedBy(set), atRev(rev.Name)), member(1, ownedBy(set), atRev(rev.Name)), member(2, ownedBy(set), atRev(rev.Name)))
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	if got := f.writes(); got != "delete pods web-2, update statefulsets/status" {
		t.Errorf("writes: %s", got)
	}
	if ev := f.Events(); len(ev) != 1 || ev[0] != "Normal SuccessfulDelete delete Pod web-2 in StatefulSet web successful" {
		t.Errorf("events %q", ev)
	}
}

func TestSyncAdoptsOrphanMembers(t *testing.T) {
	set := newSet(1)
	rev := revisionOf(t, set, 1)
	orphan := member(0, atRev(rev.Name))
	f := newFixture(t, set, rev, orphan)
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	if got := f.writes(); !strings.HasPrefix(got, "patch pods web-0") || strings.Contains(got, "create pods") {
		t.Errorf("writes: %s", got)
	}
	p, _ := f.Client.CoreV1().Pods("ns").Get(context.Background(), "web-0", metav1.GetOptions{})
	if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != set.UID {
		t.Errorf("not adopted: %+v", p.OwnerReferences)
	}
}

func TestSyncRollbackRenumbersTheOldRevision(t *testing.T) {
	set := newSet(1)
	old := revisionOf(t, set, 1)
	changed := set.DeepCopy()
	changed.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	newer := revisionOf(t, changed, 2)
	// The template is back at revision 1's.
	set.Status = appsv1.StatefulSetStatus{CurrentRevision: newer.Name, UpdateRevision: newer.Name, CollisionCount: ptr.To[int32](0)}
	f := newFixture(t, set, old, newer, member(0, ownedBy(set), atRev(newer.Name)))
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	if got := f.writes(); !strings.HasPrefix(got, "update controllerrevisions "+old.Name+", delete pods web-0") {
		t.Errorf("writes: %s", got)
	}
	r, _ := f.Client.AppsV1().ControllerRevisions("ns").Get(context.Background(), old.Name, metav1.GetOptions{})
	if r.Revision != 3 {
		t.Errorf("revision number %d, want 3", r.Revision)
	}
}

func TestSyncCreatesClaimsWhenServed(t *testing.T) {
	set := newSet(1, func(s *appsv1.StatefulSet) {
		s.Spec.VolumeClaimTemplates = []v1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "www"}}}
	})
	f := newFixture(t, set)
	f.Client.Resources = []*metav1.APIResourceList{{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "persistentvolumeclaims", Namespaced: true}}}}
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	if got := f.writes(); !strings.Contains(got, "create persistentvolumeclaims www-web-0, create pods web-0") {
		t.Errorf("writes: %s", got)
	}
	ev := f.Events()
	if len(ev) != 2 || ev[0] != "Normal SuccessfulCreate create Claim www-web-0 Pod web-0 in StatefulSet web success" {
		t.Errorf("events %q", ev)
	}
}

func TestSyncWithoutClaimsServedStillMountsTheVolume(t *testing.T) {
	set := newSet(1, func(s *appsv1.StatefulSet) {
		s.Spec.VolumeClaimTemplates = []v1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "www"}}}
	})
	f := newFixture(t, set)
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	if got := f.writes(); strings.Contains(got, "persistentvolumeclaims") {
		t.Errorf("writes: %s", got)
	}
	p, err := f.Client.CoreV1().Pods("ns").Get(context.Background(), "web-0", metav1.GetOptions{})
	if err != nil || len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "www-web-0" {
		t.Errorf("pod %v %v", p, err)
	}
}

func TestSyncRecreatesFailedPod(t *testing.T) {
	set := newSet(1)
	rev := revisionOf(t, set, 1)
	set.Status = appsv1.StatefulSetStatus{CurrentRevision: rev.Name, UpdateRevision: rev.Name, CollisionCount: ptr.To[int32](0)}
	f := newFixture(t, set, rev, member(0, ownedBy(set), atRev(rev.Name), failed))
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	if got := f.writes(); !strings.HasPrefix(got, "delete pods web-0") {
		t.Errorf("writes: %s", got)
	}
	ev := f.Events()
	if len(ev) != 2 || ev[0] != "Warning RecreatingFailedPod StatefulSet ns/web is recreating failed Pod web-0" {
		t.Errorf("events %q", ev)
	}
}

func TestSyncParallelCreatesInSlowStartBatches(t *testing.T) {
	f := newFixture(t, newSet(7, parallel))
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(f.writes(), "create pods"); n != 7 {
		t.Errorf("%d pods created, want 7: %s", n, f.writes())
	}

	// A template the API server rejects costs one request, not seven.
	f = newFixture(t, newSet(7, parallel))
	f.Client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(v1.Resource("pods"), "", errors.New("quota"))
	})
	if err := f.sync(); err == nil {
		t.Fatal("a failed creation must be retried")
	}
	if n := strings.Count(f.writes(), "create pods"); n != 1 {
		t.Errorf("%d creations sent, want 1: %s", n, f.writes())
	}
	if ev := f.Events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning FailedCreate create Pod web-0 in StatefulSet web failed error: ") {
		t.Errorf("events %q", ev)
	}
}
