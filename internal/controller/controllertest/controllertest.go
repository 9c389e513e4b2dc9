// Package controllertest is the fixture the controllers' sync tests
// share: a fake clientset and a shared informer factory preloaded with
// the same objects (each in its type's informer indexer), a fake event
// recorder and a fake clock, and what the clientset was asked to write.
// A test builds its controller on Fixture.Context and calls its sync
// directly (see replicaset/sync_test.go).
package controllertest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/kubernetes/scheme"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Fixture is a fake API: Client holds the objects, Informers' indexers
// hold them too (the informers are never started: a sync reads what
// was preloaded).
type Fixture struct {
	Client    *fake.Clientset
	Informers informers.SharedInformerFactory
	Recorder  *record.FakeRecorder
	Clock     *clocktesting.FakeClock
}

// NewFixture makes the fixture at time now with objs, each put in the
// fake clientset and in its type's informer indexer (an object of a
// type the factory has no informer for fails the test). The clientset
// names what is created with only a generateName (<generateName>00001,
// ...), as the API server would, and starts with no actions recorded.
func NewFixture(t testing.TB, now time.Time, objs ...runtime.Object) *Fixture {
	t.Helper()
	f := &Fixture{Client: fake.NewClientset(objs...), Recorder: record.NewFakeRecorder(100), Clock: clocktesting.NewFakeClock(now)}
	f.Informers = informers.NewSharedInformerFactory(f.Client, 0)
	for _, o := range objs {
		kinds, _, err := scheme.Scheme.ObjectKinds(o)
		if err != nil {
			t.Fatalf("fixture: %T: %v", o, err)
		}
		gvr, _ := meta.UnsafeGuessKindToResource(kinds[0])
		if kinds[0].Kind == "Endpoints" {
			gvr.Resource = "endpoints" // the kind whose plural the guess gets wrong
		}
		inf, err := f.Informers.ForResource(gvr)
		if err != nil {
			t.Fatalf("fixture: %T: %v", o, err)
		}
		if err := inf.Informer().GetIndexer().Add(o); err != nil {
			t.Fatalf("fixture: %T: %v", o, err)
		}
	}
	n := 0
	f.Client.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if m, ok := a.(k8stesting.CreateAction).GetObject().(metav1.Object); ok && m.GetName() == "" && m.GetGenerateName() != "" {
			n++
			m.SetName(fmt.Sprintf("%s%05d", m.GetGenerateName(), n))
		}
		return false, nil, nil
	})
	f.Client.ClearActions()
	return f
}

// Build is NewFixture and the controller newController builds on its
// Context (a failure fails the test).
func Build[C any](t testing.TB, now time.Time, newController func(controller.Context) (C, error), objs ...runtime.Object) (*Fixture, C) {
	t.Helper()
	f := NewFixture(t, now, objs...)
	c, err := newController(f.Context())
	if err != nil {
		t.Fatalf("fixture: new controller: %v", err)
	}
	return f, c
}

// Context is the controller.Context a controller under test is built
// on: the fake client, the informers, the fake clock, the recorder for
// every source.
func (f *Fixture) Context() controller.Context {
	return controller.Context{Client: f.Client, Informers: f.Informers, Clock: f.Clock,
		Recorder: func(string) record.EventRecorder { return f.Recorder }}
}

// Writes lists the write actions as "verb resource[/subresource]", in
// order; gets, lists and watches are left out.
func (f *Fixture) Writes() []string { return writes(f.Client.Actions(), nil) }

// NamedWrites is Writes with the object's name after the writes whose
// verb is one of verbs ("patch pods web-0"): the action's name for a
// patch or delete, the object's for a create or update of no
// subresource (none for a create by generateName: the action holds the
// object as sent).
func (f *Fixture) NamedWrites(verbs ...string) []string { return writes(f.Client.Actions(), verbs) }

func writes(actions []k8stesting.Action, named []string) []string {
	var out []string
	for _, a := range actions {
		verb := a.GetVerb()
		if verb == "get" || verb == "list" || verb == "watch" {
			continue
		}
		s := verb + " " + a.GetResource().Resource
		if a.GetSubresource() != "" {
			s += "/" + a.GetSubresource()
		}
		if slices.Contains(named, verb) {
			if name := actionName(a); name != "" {
				s += " " + name
			}
		}
		out = append(out, s)
	}
	return out
}

func actionName(a k8stesting.Action) string {
	switch a := a.(type) {
	case k8stesting.PatchAction:
		return a.GetName()
	case k8stesting.DeleteAction:
		return a.GetName()
	case k8stesting.CreateAction:
		if m, ok := a.GetObject().(metav1.Object); ok && a.GetSubresource() == "" {
			return m.GetName()
		}
	case k8stesting.UpdateAction:
		if m, ok := a.GetObject().(metav1.Object); ok && a.GetSubresource() == "" {
			return m.GetName()
		}
	}
	return ""
}

// Events empties the recorder and returns its events ("Type Reason
// Message"), oldest first.
func (f *Fixture) Events() []string { return Events(f.Recorder) }

// Event takes the oldest event from the recorder, "" when there is none.
func (f *Fixture) Event() string {
	select {
	case e := <-f.Recorder.Events:
		return e
	default:
		return ""
	}
}

// Events empties r and returns its events, oldest first.
func Events(r *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}
