package garbagecollector

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	fakediscovery "k8s.io/client-go/discovery/fake"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/controller"
)

// servedKinds is a discovery client whose served resources a test changes.
type servedKinds struct {
	*fakediscovery.FakeDiscovery
	lists  []*metav1.APIResourceList
	failed bool // the widgets group does not answer
}

func (d *servedKinds) result() ([]*metav1.APIResourceList, error) {
	if d.failed {
		return d.lists, &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{{Group: "example.com", Version: "v1"}: errors.New("unavailable")}}
	}
	return d.lists, nil
}

func (d *servedKinds) ServerGroupsAndResources() ([]*metav1.APIGroup, []*metav1.APIResourceList, error) {
	l, err := d.result()
	return nil, l, err
}

func (d *servedKinds) ServerPreferredResources() ([]*metav1.APIResourceList, error) {
	return d.result()
}

var (
	verbs      = metav1.Verbs{"list", "watch", "delete", "get"}
	configMaps = &metav1.APIResourceList{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "configmaps", Kind: "ConfigMap", Namespaced: true, Verbs: verbs}}}
	widgets    = &metav1.APIResourceList{GroupVersion: "example.com/v1", APIResources: []metav1.APIResource{{Name: "widgets", Kind: "Widget", Namespaced: true, Verbs: verbs}}}
	widgetsGVR = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}
)

// A kind served after the collector started gets a monitor at the next
// discovery (started, since the collector runs) and its kind resolves
// owner references; a kind no longer served loses both, unless its group
// only failed to answer.
func TestRediscovery(t *testing.T) {
	client := fake.NewClientset()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), map[schema.GroupVersionResource]string{
		{Version: "v1", Resource: "configmaps"}: "ConfigMapList", widgetsGVR: "WidgetList",
	})
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC))
	gc, err := newController(controller.Context{Client: client, Dynamic: dyn, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	disc := &servedKinds{FakeDiscovery: client.Discovery().(*fakediscovery.FakeDiscovery), lists: []*metav1.APIResourceList{configMaps}}
	gc.discovery = disc
	if _, _, err := gc.discover(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { gc.Run(ctx, 1); close(done) }()
	t.Cleanup(func() { cancel(); gc.ShutDown(); <-done })

	monitored := func() []string {
		gc.mu.RLock()
		defer gc.mu.RUnlock()
		var out []string
		for gvr := range gc.monitors {
			out = append(out, gvr.Resource)
		}
		slices.Sort(out)
		return out
	}
	widgetKnown := func() bool {
		gc.mu.RLock()
		defer gc.mu.RUnlock()
		_, ok := gc.kinds[schema.GroupVersionKind{Group: "example.com", Version: "v1", Kind: "Widget"}]
		return ok
	}
	// step advances the clock by a resync period and waits for the
	// discovery it triggers.
	step := func(want []string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if clk.HasWaiters() {
				clk.Step(ResyncPeriod)
			}
			if slices.Equal(monitored(), want) {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("monitors %v, want %v", monitored(), want)
	}

	if got := monitored(); !slices.Equal(got, []string{"configmaps"}) || widgetKnown() {
		t.Fatalf("monitors %v at start", got)
	}
	disc.lists = []*metav1.APIResourceList{configMaps, widgets}
	step([]string{"configmaps", "widgets"})
	if !widgetKnown() {
		t.Error("Widget kind not resolved after discovery")
	}
	gc.mu.RLock()
	inf := gc.monitors[widgetsGVR].inf
	gc.mu.RUnlock()
	deadline := time.Now().Add(60 * time.Second)
	for !inf.HasSynced() {
		if time.Now().After(deadline) {
			t.Fatal("the new monitor was not started")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The group fails to answer: its monitor stays.
	disc.lists, disc.failed = []*metav1.APIResourceList{configMaps}, true
	if _, _, err := gc.discover(); err != nil {
		t.Fatal(err)
	}
	if got := monitored(); !slices.Equal(got, []string{"configmaps", "widgets"}) || !widgetKnown() {
		t.Fatalf("monitors %v after a partial discovery", got)
	}
	disc.failed = false
	step([]string{"configmaps"})
	if widgetKnown() {
		t.Error("Widget kind still resolved after it went")
	}
}
