package deployment

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	k8stesting "k8s.io/client-go/testing"

	"github.com/skiff-sh/skiff/internal/controller"
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

func (f *fixture) replicaSets() map[string]*appsv1.ReplicaSet {
	list, err := f.Client.AppsV1().ReplicaSets("ns").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	out := map[string]*appsv1.ReplicaSet{}
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

func (f *fixture) deployment() *appsv1.Deployment {
	d, err := f.Client.AppsV1().Deployments("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return d
}

// owned makes r a ReplicaSet of d with d's current template.
func owned(d *appsv1.Deployment, r *appsv1.ReplicaSet, template *v1.PodTemplateSpec) *appsv1.ReplicaSet {
	r.OwnerReferences = []metav1.OwnerReference{*ControllerRef(d)}
	hash := controller.ComputeHash(template, nil)
	r.Labels = withLabel(template.Labels, hash)
	r.Spec.Selector = &metav1.LabelSelector{MatchLabels: r.Labels}
	r.Spec.Template = *template.DeepCopy()
	r.Spec.Template.Labels = r.Labels
	return r
}

func TestSyncNewDeploymentCreatesReplicaSet(t *testing.T) {
	d := newD(3, intstr.FromString("25%"), intstr.FromString("25%"))
	f := newFixture(t, d)
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.Writes(), ","); got != "create replicasets,update deployments/status,update deployments/status" {
		t.Errorf("writes = %s", got)
	}
	rss := f.replicaSets()
	name := "web-" + controller.ComputeHash(&d.Spec.Template, nil)
	r := rss[name]
	if len(rss) != 1 || r == nil || *r.Spec.Replicas != 3 || r.Annotations[RevisionAnnotation] != "1" {
		t.Fatalf("replicasets %v", rss)
	}
	ev := f.Events()
	if len(ev) != 1 || ev[0] != "Normal ScalingReplicaSet Scaled up replica set "+name+" from 0 to 3" {
		t.Errorf("events = %q", ev)
	}
	got := f.deployment()
	p := GetCondition(got.Status, appsv1.DeploymentProgressing)
	if got.Annotations[RevisionAnnotation] != "1" || p == nil || p.Reason != ReasonNewRSCreated || p.Message != `Created new replica set "`+name+`"` {
		t.Errorf("deployment annotations %v progressing %+v", got.Annotations, p)
	}
	if a := GetCondition(got.Status, appsv1.DeploymentAvailable); a == nil || a.Status != v1.ConditionFalse || a.Reason != ReasonMinimumUnavailable {
		t.Errorf("available = %+v", a)
	}
}

func TestSyncRollingUpdateSurgesAndScalesDown(t *testing.T) {
	d := newD(4, intstr.FromInt32(1), intstr.FromInt32(1))
	d.Annotations = map[string]string{RevisionAnnotation: "1"}
	oldTemplate := d.Spec.Template.DeepCopy()
	oldTemplate.Spec.Containers[0].Image = "app:1"
	old := owned(d, rs("web-old", 5, 4, 4, RevisionAnnotation, "1", DesiredReplicasAnnotation, "4", MaxReplicasAnnotation, "5"), oldTemplate)
	f := newFixture(t, d, old)
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	rss := f.replicaSets()
	newName := "web-" + controller.ComputeHash(&d.Spec.Template, nil)
	if n := rss[newName]; n == nil || *n.Spec.Replicas != 1 || n.Annotations[RevisionAnnotation] != "2" {
		t.Fatalf("new replicaset %+v", n)
	}
	// The same sync goes on to the old replicaset: down by maxUnavailable.
	if got := *rss["web-old"].Spec.Replicas; got != 3 {
		t.Errorf("old replicas = %d, want 3", got)
	}
	ev := f.Events()
	want := []string{"Normal ScalingReplicaSet Scaled up replica set " + newName + " from 0 to 1",
		"Normal ScalingReplicaSet Scaled down replica set web-old from 4 to 3"}
	if strings.Join(ev, "\n") != strings.Join(want, "\n") {
		t.Errorf("events = %q", ev)
	}
}

func TestSyncAdoptsOrphanAndReleasesStray(t *testing.T) {
	d := newD(2, intstr.FromInt32(1), intstr.FromInt32(0))
	orphan := owned(d, rs("web-orphan", 5, 2, 2), &d.Spec.Template)
	orphan.OwnerReferences = nil
	stray := owned(d, rs("web-stray", 5, 0, 0), &d.Spec.Template)
	stray.Labels = map[string]string{"app": "other"}
	f := newFixture(t, d, orphan, stray)
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	var patches []string
	for _, a := range f.Client.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok {
			patches = append(patches, p.GetName()+" "+string(p.GetPatch()))
		}
	}
	if len(patches) != 2 || !strings.Contains(strings.Join(patches, "\n"), `web-stray {"metadata":{"ownerReferences":[{"$patch":"delete"`) ||
		!strings.Contains(strings.Join(patches, "\n"), `web-orphan {"metadata":{"ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"web","uid":"d-uid","controller":true`) {
		t.Errorf("patches:\n%s", strings.Join(patches, "\n"))
	}
	// The adopted one is the new replicaset: no creation.
	for _, w := range f.Writes() {
		if w == "create replicasets" {
			t.Error("created a replicaset despite the adopted one")
		}
	}
}

func TestSyncRecreateWaitsForOldPods(t *testing.T) {
	d := newD(2, intstr.FromInt32(1), intstr.FromInt32(0))
	d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	oldTemplate := d.Spec.Template.DeepCopy()
	oldTemplate.Spec.Containers[0].Image = "app:1"
	old := owned(d, rs("web-old", 5, 0, 0, RevisionAnnotation, "1"), oldTemplate)
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web-old-x", Namespace: "ns", Labels: old.Labels,
		OwnerReferences:   []metav1.OwnerReference{*metav1.NewControllerRef(old, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))},
		DeletionTimestamp: &metav1.Time{Time: now}}, Status: v1.PodStatus{Phase: v1.PodRunning}}
	f := newFixture(t, d, old, pod)
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	for _, w := range f.Writes() {
		if w == "create replicasets" {
			t.Fatal("created the new replicaset while an old pod runs")
		}
	}
	// Once the pod is gone, the new replicaset comes at full size.
	g := newFixture(t, d, old)
	if err := g.sync(); err != nil {
		t.Fatal(err)
	}
	if n := g.replicaSets()["web-"+controller.ComputeHash(&d.Spec.Template, nil)]; n == nil || *n.Spec.Replicas != 2 {
		t.Errorf("new replicaset %+v", n)
	}
}

func TestSyncPausedScalesOnly(t *testing.T) {
	d := newD(6, intstr.FromInt32(1), intstr.FromInt32(0))
	d.Spec.Paused = true
	oldTemplate := d.Spec.Template.DeepCopy()
	oldTemplate.Spec.Containers[0].Image = "app:1"
	old := owned(d, rs("web-old", 5, 4, 4, RevisionAnnotation, "1", DesiredReplicasAnnotation, "4", MaxReplicasAnnotation, "5"), oldTemplate)
	f := newFixture(t, d, old)
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	rss := f.replicaSets()
	if len(rss) != 1 || *rss["web-old"].Spec.Replicas != 6 {
		t.Errorf("replicasets %v", rss)
	}
	p := GetCondition(f.deployment().Status, appsv1.DeploymentProgressing)
	if p == nil || p.Reason != ReasonPaused {
		t.Errorf("progressing %+v", p)
	}
}

func TestSyncSelectingAll(t *testing.T) {
	d := newD(1, intstr.FromInt32(1), intstr.FromInt32(0))
	d.Spec.Selector = &metav1.LabelSelector{}
	d.Generation = 2
	f := newFixture(t, d)
	if err := f.sync(); err != nil {
		t.Fatal(err)
	}
	if ev := f.Events(); len(ev) != 1 || ev[0] != "Warning SelectingAll This deployment is selecting all pods. A non-empty selector is required." {
		t.Errorf("events %q", ev)
	}
	if f.deployment().Status.ObservedGeneration != 2 {
		t.Error("observedGeneration not updated")
	}
}
