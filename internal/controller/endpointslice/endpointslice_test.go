package endpointslice

import (
	"context"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
)

func newFixture(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset) {
	t.Helper()
	f, c := controllertest.Build(t, time.Now(), newController, objs...)
	return c, f.Client
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
