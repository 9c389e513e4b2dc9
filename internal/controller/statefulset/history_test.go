package statefulset

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

func TestNewSetRevision(t *testing.T) {
	set := newSet(1, func(s *appsv1.StatefulSet) { s.Annotations = map[string]string{"kubernetes.io/change-cause": "v1"} })
	r, err := NewSetRevision(set, 4, ptr.To[int32](0))
	if err != nil {
		t.Fatal(err)
	}
	hash := r.Labels[RevisionHashLabel]
	if hash == "" || r.Name != "web-"+hash || r.Namespace != "ns" || r.Revision != 4 || r.Labels["app"] != "web" {
		t.Errorf("revision %s/%s #%d labels %v", r.Namespace, r.Name, r.Revision, r.Labels)
	}
	if r.Annotations["kubernetes.io/change-cause"] != "v1" {
		t.Errorf("annotations %v", r.Annotations)
	}
	if ref := metav1.GetControllerOf(r); ref == nil || ref.UID != set.UID {
		t.Errorf("controller %+v", ref)
	}
	// The data is the strategic merge patch kubectl rollout undo applies.
	if got := string(r.Data.Raw); got != `{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"image":"nginx:1","name":"c","resources":{}}]}}}}` {
		t.Errorf("data %s", got)
	}
	again, _ := NewSetRevision(set, 5, ptr.To[int32](0))
	if again.Name != r.Name {
		t.Error("the name depends on the revision number")
	}
	bumped, _ := NewSetRevision(set, 4, ptr.To[int32](1))
	if bumped.Name == r.Name {
		t.Error("the collision count does not change the name")
	}
	changed := set.DeepCopy()
	changed.Spec.Template.Spec.Containers[0].Image = "nginx:2"
	other, _ := NewSetRevision(changed, 5, ptr.To[int32](0))
	if other.Name == r.Name || EqualRevision(r, other) || !EqualRevision(r, again) {
		t.Error("revisions of different templates compare equal, or of equal ones not")
	}
	// ApplyRevision puts the old template back.
	back, err := ApplyRevision(changed, r)
	if err != nil {
		t.Fatal(err)
	}
	if back.Spec.Template.Spec.Containers[0].Image != "nginx:1" || back.Name != "web" || *back.Spec.Replicas != 1 {
		t.Errorf("applied: %+v", back.Spec)
	}
}

func TestEqualRevisionIgnoresEncoding(t *testing.T) {
	a := &appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: []byte(`{"a":1,"b":[1,2]}`)}}
	b := &appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: []byte(`{ "b": [1, 2], "a": 1 }`)}}
	c := &appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: []byte(`{"a":2}`)}}
	if !EqualRevision(a, b) || EqualRevision(a, c) || EqualRevision(a, nil) || !EqualRevision(nil, nil) {
		t.Error("EqualRevision")
	}
}

func TestHistoryOrderAndPruning(t *testing.T) {
	rev := func(name string, n int64) *appsv1.ControllerRevision {
		return &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Revision: n}
	}
	revs := []*appsv1.ControllerRevision{rev("c", 3), rev("a", 1), rev("e", 5), rev("b", 2), rev("d", 4)}
	SortRevisions(revs)
	if got := revNames(revs); got != "a,b,c,d,e" {
		t.Errorf("sorted %s", got)
	}
	if NextRevision(revs) != 6 || NextRevision(nil) != 1 {
		t.Error("NextRevision")
	}
	// b and e are live (a pod, the update revision); keep 1 of a, c, d.
	if got := revNames(RevisionsToPrune(revs, map[string]bool{"b": true, "e": true}, 1)); got != "a,c" {
		t.Errorf("pruned %s", got)
	}
	if got := RevisionsToPrune(revs, nil, 10); got != nil {
		t.Errorf("pruned %v under the limit", revNames(got))
	}
}

func revNames(revs []*appsv1.ControllerRevision) string {
	s := ""
	for i, r := range revs {
		if i > 0 {
			s += ","
		}
		s += r.Name
	}
	return s
}

func TestCreateRevisionCollision(t *testing.T) {
	set := newSet(1)
	want, _ := NewSetRevision(set, 1, ptr.To[int32](0))
	// Another revision already holds the name, with other data.
	squatter := want.DeepCopy()
	squatter.Data.Raw = []byte(`{"other":true}`)
	client := fake.NewClientset(squatter)
	collisions := int32(0)
	got, err := CreateRevision(context.Background(), client, "ns", "web", want, &collisions)
	if err != nil {
		t.Fatal(err)
	}
	if collisions != 1 || got.Name == want.Name || got.Labels[RevisionHashLabel] != got.Name[len("web-"):] {
		t.Errorf("collisions %d, created %s", collisions, got.Name)
	}
	// An equal revision under the name is taken as is.
	again, err := CreateRevision(context.Background(), client, "ns", "web", want, &collisions)
	if err != nil || again.Name != got.Name || collisions != 1 {
		t.Errorf("second create: %v %v collisions %d", again, err, collisions)
	}
}
