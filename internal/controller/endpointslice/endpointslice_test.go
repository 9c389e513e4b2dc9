package endpointslice

import (
	"context"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
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
		case *discoveryv1.EndpointSlice:
			_ = inf.Discovery().V1().EndpointSlices().Informer().GetIndexer().Add(o)
		}
	}
	client.ClearActions()
	return c, client
}

func verbs(client *fake.Clientset) []string {
	var out []string
	for _, a := range client.Actions() {
		out = append(out, a.GetVerb())
	}
	return out
}

func TestSyncCreatesOnceWhileInFlight(t *testing.T) {
	c, client := newFixture(t, service(), pod("a", "10.42.0.5", true))
	client.PrependReactor("create", "endpointslices", func(a k8stesting.Action) (bool, runtime.Object, error) {
		s := a.(k8stesting.CreateAction).GetObject().(*discoveryv1.EndpointSlice)
		s.Name = s.GenerateName + "abcde"
		return false, nil, nil
	})
	for range 2 {
		if err := c.sync(context.Background(), "ns/web"); err != nil {
			t.Fatal(err)
		}
	}
	if v := verbs(client); len(v) != 1 || v[0] != "create" {
		t.Errorf("actions = %v; want one create while it is in flight", v)
	}
}

func TestSyncDeletesTheSlicesOfAGoneService(t *testing.T) {
	s := Desired(service(), nil)[0]
	s.Name = "web-abcde"
	c, client := newFixture(t, s)
	if err := c.sync(context.Background(), "ns/web"); err != nil {
		t.Fatal(err)
	}
	if v := verbs(client); len(v) != 1 || v[0] != "delete" {
		t.Errorf("actions = %v", v)
	}
	if _, err := client.DiscoveryV1().EndpointSlices("ns").Get(context.Background(), "web-abcde", metav1.GetOptions{}); err == nil {
		t.Error("slice still there")
	}
}
