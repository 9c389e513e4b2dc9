package controllertest

import (
	"context"
	"reflect"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

func TestFixture(t *testing.T) {
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: "ns"} }
	f := NewFixture(t, time.Unix(100, 0), &v1.Pod{ObjectMeta: meta("p")}, &appsv1.ReplicaSet{ObjectMeta: meta("rs")},
		&v1.Endpoints{ObjectMeta: meta("svc")}, &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}})
	// Each object is in its own type's lister.
	pods, _ := f.Informers.Core().V1().Pods().Lister().List(labels.Everything())
	rss, _ := f.Informers.Apps().V1().ReplicaSets().Lister().List(labels.Everything())
	eps, _ := f.Informers.Core().V1().Endpoints().Lister().List(labels.Everything())
	nodes, _ := f.Informers.Core().V1().Nodes().Lister().List(labels.Everything())
	if len(pods) != 1 || len(rss) != 1 || len(eps) != 1 || len(nodes) != 1 {
		t.Errorf("listers hold %d pods, %d replicasets, %d endpoints, %d nodes", len(pods), len(rss), len(eps), len(nodes))
	}
	if !f.Context().Clock.Now().Equal(time.Unix(100, 0)) || len(f.Client.Actions()) != 0 {
		t.Error("clock or actions at the start")
	}

	ctx := context.Background()
	created, _ := f.Client.CoreV1().Pods("ns").Create(ctx, &v1.Pod{ObjectMeta: metav1.ObjectMeta{GenerateName: "web-"}}, metav1.CreateOptions{})
	if created.Name != "web-00001" {
		t.Errorf("generated name %q", created.Name)
	}
	_, _ = f.Client.CoreV1().Pods("ns").Get(ctx, "p", metav1.GetOptions{})
	_, _ = f.Client.CoreV1().Pods("ns").Patch(ctx, "p", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{})
	_, _ = f.Client.AppsV1().ReplicaSets("ns").UpdateStatus(ctx, rss[0], metav1.UpdateOptions{})
	_ = f.Client.CoreV1().Pods("ns").Delete(ctx, "p", metav1.DeleteOptions{})
	for _, tc := range []struct {
		name string
		got  []string
		want []string
	}{
		{"plain", f.Writes(), []string{"create pods", "patch pods", "update replicasets/status", "delete pods"}},
		{"deletions named", f.NamedWrites("delete"), []string{"create pods", "patch pods", "update replicasets/status", "delete pods p"}},
		// The action holds the pod as sent, before its name was generated.
		{"all named", f.NamedWrites("create", "patch", "update", "delete"), []string{"create pods", "patch pods p", "update replicasets/status", "delete pods p"}},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}

	f.Context().Recorder("x").Event(rss[0], v1.EventTypeNormal, "A", "one")
	f.Context().Recorder("x").Event(rss[0], v1.EventTypeNormal, "B", "two")
	if e := f.Event(); e != "Normal A one" {
		t.Errorf("event %q", e)
	}
	if got := f.Events(); !reflect.DeepEqual(got, []string{"Normal B two"}) || f.Event() != "" {
		t.Errorf("events %q", got)
	}
}
