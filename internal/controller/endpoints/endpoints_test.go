package endpoints

import (
	"context"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
)

func newFixture(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset) {
	t.Helper()
	f, c := controllertest.Build(t, time.Now(), newController, objs...)
	return c, f.Client
}

func TestSyncWritesEndpointsOnce(t *testing.T) {
	svc := service()
	c, client := newFixture(t, svc, pod("a", "10.42.0.5", true))
	if err := c.sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	ep, err := client.CoreV1().Endpoints("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil || len(ep.Subsets) != 1 || ep.Subsets[0].Addresses[0].IP != "10.42.0.5" {
		t.Fatalf("endpoints = %+v, %v", ep, err)
	}
	// Up to date: no write.
	c2, client2 := newFixture(t, svc, pod("a", "10.42.0.5", true), ep)
	if err := c2.sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	if len(client2.Actions()) != 0 {
		t.Errorf("rewrote unchanged endpoints: %v", client2.Actions())
	}
}

func TestSyncLeavesSelectorlessServicesAndDeletesOrphans(t *testing.T) {
	manual := service(func(s *v1.Service) { s.Spec.Selector = nil })
	mine := &v1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"}, Subsets: []v1.EndpointSubset{{Addresses: []v1.EndpointAddress{{IP: "192.0.2.1"}}}}}
	c, client := newFixture(t, manual, mine)
	if err := c.sync(context.Background(), "ns/web"); err != nil || len(client.Actions()) != 0 {
		t.Errorf("touched the endpoints of a service without selector: %v %v", err, client.Actions())
	}
	c, client = newFixture(t, mine)
	if err := c.sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	if a := client.Actions(); len(a) != 1 || a[0].GetVerb() != "delete" {
		t.Errorf("endpoints of a deleted service not deleted: %v", a)
	}
}
