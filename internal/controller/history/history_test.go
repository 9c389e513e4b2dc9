package history

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

var setKind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

func parent() *appsv1.StatefulSet {
	return &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u1"}}
}

func TestNew(t *testing.T) {
	data := runtime.RawExtension{Raw: []byte(`{"a":1}`)}
	r := New(parent(), setKind, map[string]string{"app": "web"}, data, 4, ptr.To[int32](0))
	hash := r.Labels[HashLabel]
	if hash == "" || r.Name != "web-"+hash || r.Revision != 4 || r.Labels["app"] != "web" {
		t.Errorf("revision %s #%d labels %v", r.Name, r.Revision, r.Labels)
	}
	if ref := metav1.GetControllerOf(r); ref == nil || ref.UID != "u1" || ref.Kind != "StatefulSet" {
		t.Errorf("controller %+v", ref)
	}
	for _, tc := range []struct {
		name      string
		data      string
		revision  int64
		collision int32
		same      bool
	}{
		{"another number", `{"a":1}`, 5, 0, true},
		{"another collision count", `{"a":1}`, 4, 1, false},
		{"other data", `{"a":2}`, 4, 0, false},
	} {
		o := New(parent(), setKind, nil, runtime.RawExtension{Raw: []byte(tc.data)}, tc.revision, &tc.collision)
		if (o.Name == r.Name) != tc.same {
			t.Errorf("%s: name %s, first %s", tc.name, o.Name, r.Name)
		}
	}
	if got := Name(strings.Repeat("x", 300), "h"); len(got) != 225 {
		t.Errorf("long name cut to %d", len(got))
	}
}

func TestTemplatePatch(t *testing.T) {
	tmpl := &v1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "nginx:1"}}}}
	got, err := TemplatePatch(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"spec":{"template":{"$patch":"replace","metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"image":"nginx:1","name":"c","resources":{}}]}}}}` {
		t.Errorf("data %s", got)
	}
}

func TestEqual(t *testing.T) {
	rev := func(raw string) *appsv1.ControllerRevision {
		return &appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: []byte(raw)}}
	}
	for _, tc := range []struct {
		name string
		a, b *appsv1.ControllerRevision
		want bool
	}{
		{"same bytes", rev(`{"a":1}`), rev(`{"a":1}`), true},
		{"re-encoded", rev(`{"a":1,"b":[1,2]}`), rev(`{ "b": [1, 2], "a": 1 }`), true},
		{"other data", rev(`{"a":1}`), rev(`{"a":2}`), false},
		{"nil and not", rev(`{"a":1}`), nil, false},
		{"nil and nil", nil, nil, true},
	} {
		if got := Equal(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: Equal = %v", tc.name, got)
		}
	}
	revs := []*appsv1.ControllerRevision{rev(`{"a":1}`), rev(`{"a":2}`), rev(`{ "a": 1 }`)}
	if got := FindEqual(revs, rev(`{"a":1}`)); len(got) != 2 || got[0] != revs[0] || got[1] != revs[2] {
		t.Errorf("FindEqual %v", got)
	}
}

func TestOrderAndPruning(t *testing.T) {
	rev := func(name string, n int64) *appsv1.ControllerRevision {
		return &appsv1.ControllerRevision{ObjectMeta: metav1.ObjectMeta{Name: name}, Revision: n}
	}
	revs := []*appsv1.ControllerRevision{rev("c", 3), rev("a", 1), rev("e", 5), rev("b", 2), rev("d", 4)}
	Sort(revs)
	if got := names(revs); got != "a,b,c,d,e" {
		t.Errorf("sorted %s", got)
	}
	if Next(revs) != 6 || Next(nil) != 1 {
		t.Error("Next")
	}
	live := map[string]bool{"b": true, "e": true}
	for _, tc := range []struct {
		name string
		got  []*appsv1.ControllerRevision
		want string
	}{
		// b and e are live (a pod, the update revision); keep 1 of a, c, d.
		{"prune to 1", ToPrune(revs, live, 1), "a,c"},
		{"under the limit", ToPrune(revs, nil, 10), ""},
		{"oldest 2 unused", OldestUnused(revs, live, 2), "a,c"},
		{"oldest 0", OldestUnused(revs, live, 0), ""},
		{"oldest -1", OldestUnused(revs, live, -1), ""},
	} {
		if got := names(tc.got); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func names(revs []*appsv1.ControllerRevision) string {
	s := make([]string, len(revs))
	for i, r := range revs {
		s[i] = r.Name
	}
	return strings.Join(s, ",")
}

func TestCreateCollision(t *testing.T) {
	want := New(parent(), setKind, nil, runtime.RawExtension{Raw: []byte(`{"a":1}`)}, 1, ptr.To[int32](0))
	want.Namespace = "ns"
	// Another revision already holds the name, with other data.
	squatter := want.DeepCopy()
	squatter.Data.Raw = []byte(`{"other":true}`)
	client := fake.NewClientset(squatter)
	if _, collided, err := CreateOrFind(context.Background(), client, want); !collided || err != nil {
		t.Errorf("CreateOrFind on a squatter: collided %v, %v", collided, err)
	}
	collisions := int32(0)
	got, err := Create(context.Background(), client, "ns", "web", want, &collisions)
	if err != nil {
		t.Fatal(err)
	}
	if collisions != 1 || got.Name == want.Name || got.Labels[HashLabel] != got.Name[len("web-"):] {
		t.Errorf("collisions %d, created %s", collisions, got.Name)
	}
	// An equal revision under the name is taken as is.
	again, err := Create(context.Background(), client, "ns", "web", want, &collisions)
	if err != nil || again.Name != got.Name || collisions != 1 {
		t.Errorf("second create: %v %v collisions %d", again, err, collisions)
	}
	// Renumbering writes only a change.
	up, err := Renumber(context.Background(), client, got, 7)
	if err != nil || up.Revision != 7 {
		t.Errorf("renumber: %v %v", up, err)
	}
	if same, _ := Renumber(context.Background(), nil, up, 7); same != up {
		t.Error("renumber to the same number wrote")
	}
}
