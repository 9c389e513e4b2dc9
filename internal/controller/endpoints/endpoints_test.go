package endpoints

import (
	"context"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/controller"
)

func newFixture(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	inf := informers.NewSharedInformerFactory(client, 0)
	c, err := newController(controller.Context{Client: client, Informers: inf, Clock: clocktesting.NewFakeClock(time.Now())})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		switch o := o.(type) {
		case *v1.Service:
			_ = inf.Core().V1().Services().Informer().GetIndexer().Add(o)
		case *v1.Pod:
			_ = inf.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *v1.Endpoints:
			_ = inf.Core().V1().Endpoints().Informer().GetIndexer().Add(o)
		}
	}
	client.ClearActions()
	return c, client
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
