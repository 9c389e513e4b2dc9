package statefulset

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/history"
)

func TestNewSetRevision(t *testing.T) {
	set := newSet(1, func(s *appsv1.StatefulSet) { s.Annotations = map[string]string{"kubernetes.io/change-cause": "v1"} })
	r, err := NewSetRevision(set, 4, ptr.To[int32](0))
	if err != nil {
		t.Fatal(err)
	}
	hash := r.Labels[history.HashLabel]
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
	if other.Name == r.Name || history.Equal(r, other) || !history.Equal(r, again) {
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
