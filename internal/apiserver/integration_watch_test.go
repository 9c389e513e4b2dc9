package apiserver_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/testserver"
)

func rvOf(t *testing.T, obj any) int64 {
	t.Helper()
	m, ok := obj.(metav1.Object)
	if !ok {
		t.Fatalf("%T has no metadata", obj)
	}
	n, err := strconv.ParseInt(m.GetResourceVersion(), 10, 64)
	if err != nil {
		t.Fatalf("resourceVersion %q: %v", m.GetResourceVersion(), err)
	}
	return n
}

// TestIntegrationWatch covers watches and informers on one server.
func TestIntegrationWatch(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	c := s.Client(t)
	jc := jsonClient(t, s)

	t.Run("FromResourceVersion", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		before, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("before", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, client := range []kubernetes.Interface{c, jc} {
			name := fmt.Sprintf("w-%p", client)
			w, err := client.CoreV1().ConfigMaps(ns).Watch(bg(), metav1.ListOptions{ResourceVersion: before.ResourceVersion})
			if err != nil {
				t.Fatal(err)
			}
			rec := record(w)
			cm, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap(name, nil), metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cm.Data["k"] = "2"
			upd, err := c.CoreV1().ConfigMaps(ns).Update(bg(), cm, metav1.UpdateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.CoreV1().ConfigMaps(ns).Delete(bg(), name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			evs := rec.waitFor(t, "ADDED MODIFIED DELETED", func(evs []watch.Event) bool {
				return slices.Contains(eventSummary(evs), "DELETED "+name)
			})
			rec.stop()
			var mine []watch.Event
			for _, ev := range evs {
				if m, ok := ev.Object.(metav1.Object); ok && m.GetName() == name {
					mine = append(mine, ev)
				}
			}
			if got := strings.Join(eventSummary(mine), ";"); got != "ADDED "+name+";MODIFIED "+name+";DELETED "+name {
				t.Fatalf("events = %s", got)
			}
			if rvOf(t, mine[0].Object) != rvOf(t, cm) || rvOf(t, mine[1].Object) != rvOf(t, upd) ||
				rvOf(t, mine[2].Object) <= rvOf(t, upd) {
				t.Errorf("event versions: %s (create %s, update %s)", describeEvents(mine), cm.ResourceVersion, upd.ResourceVersion)
			}
			if mine[1].Object.(*corev1.ConfigMap).Data["k"] != "2" {
				t.Errorf("MODIFIED object = %+v", mine[1].Object)
			}
			// The object "before" (at the watch's version) is not replayed.
			for _, ev := range evs {
				if m, ok := ev.Object.(metav1.Object); ok && m.GetName() == "before" {
					t.Errorf("watch from %s replayed %s", before.ResourceVersion, describeEvents([]watch.Event{ev}))
				}
			}
		}
	})

	t.Run("InitialEventsWithoutResourceVersion", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		for i := 0; i < 3; i++ {
			if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap(fmt.Sprintf("cm%d", i), nil), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, client := range []kubernetes.Interface{c, jc} {
			for _, rv := range []string{"", "0"} {
				w, err := client.CoreV1().ConfigMaps(ns).Watch(bg(), metav1.ListOptions{ResourceVersion: rv})
				if err != nil {
					t.Fatal(err)
				}
				rec := record(w)
				evs := rec.waitCount(t, 3)
				if got := strings.Join(eventSummary(evs), ";"); got != "ADDED cm0;ADDED cm1;ADDED cm2" {
					t.Errorf("rv=%q initial events = %s", rv, got)
				}
				rec.stop()
			}
		}
	})

	t.Run("WatchList", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		for i := 0; i < 3; i++ {
			if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap(fmt.Sprintf("cm%d", i), map[string]string{"i": strconv.Itoa(i % 2)}), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, client := range []kubernetes.Interface{c, jc} {
			w, err := client.CoreV1().ConfigMaps(ns).Watch(bg(), metav1.ListOptions{
				SendInitialEvents: ptr(true), ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan, AllowWatchBookmarks: true})
			if err != nil {
				t.Fatal(err)
			}
			rec := record(w)
			evs := rec.waitCount(t, 4)
			if got := strings.Join(eventSummary(evs[:4]), ";"); got != "ADDED cm0;ADDED cm1;ADDED cm2;BOOKMARK" {
				t.Errorf("watch-list events = %s", got)
			}
			bm, ok := evs[3].Object.(*corev1.ConfigMap)
			if !ok || bm.Annotations[metav1.InitialEventsAnnotationKey] != "true" {
				t.Errorf("bookmark = %#v", evs[3].Object)
			} else if rvOf(t, bm) < rvOf(t, evs[2].Object) {
				t.Errorf("bookmark at %s before the last object at %d", bm.ResourceVersion, rvOf(t, evs[2].Object))
			}
			// Then changes follow.
			if _, err := c.CoreV1().ConfigMaps(ns).Patch(bg(), "cm1", types.MergePatchType, []byte(fmt.Sprintf(`{"data":{"x":"%p"}}`, client)), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			rec.waitFor(t, "MODIFIED cm1", func(evs []watch.Event) bool { return slices.Contains(eventSummary(evs), "MODIFIED cm1") })
			rec.stop()
		}
		// With a label selector, only matches are sent.
		w, err := c.CoreV1().ConfigMaps(ns).Watch(bg(), metav1.ListOptions{LabelSelector: "i=0",
			SendInitialEvents: ptr(true), ResourceVersionMatch: metav1.ResourceVersionMatchNotOlderThan, AllowWatchBookmarks: true})
		if err != nil {
			t.Fatal(err)
		}
		rec := record(w)
		evs := rec.waitCount(t, 3)
		if got := strings.Join(eventSummary(evs[:3]), ";"); got != "ADDED cm0;ADDED cm2;BOOKMARK" {
			t.Errorf("selective watch-list events = %s", got)
		}
		rec.stop()
		// sendInitialEvents without resourceVersionMatch=NotOlderThan is 422.
		_, err = c.CoreV1().ConfigMaps(ns).Watch(bg(), metav1.ListOptions{SendInitialEvents: ptr(true)})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid)
	})

	t.Run("Bookmarks", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		cm, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("cm", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := c.CoreV1().ConfigMaps(ns).Watch(bg(), metav1.ListOptions{ResourceVersion: cm.ResourceVersion, AllowWatchBookmarks: true})
		if err != nil {
			t.Fatal(err)
		}
		rec := record(w)
		defer rec.stop()
		// Progress comes every few seconds on an idle watch.
		deadline := time.Now().Add(15 * time.Second)
		for {
			evs := rec.snapshot()
			if i := slices.IndexFunc(evs, func(ev watch.Event) bool { return ev.Type == watch.Bookmark }); i >= 0 {
				bm := evs[i].Object.(*corev1.ConfigMap)
				if rvOf(t, bm) < rvOf(t, cm) || bm.Name != "" || bm.Annotations[metav1.InitialEventsAnnotationKey] != "" {
					t.Errorf("bookmark = %+v", bm)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no bookmark in 15s; events %s", describeEvents(evs))
			}
			time.Sleep(50 * time.Millisecond)
		}
		// Without allowWatchBookmarks there are none (checked on the same
		// server by the other watches, which never see BOOKMARK unasked).
	})

	t.Run("SelectorWatch", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("a", map[string]string{"sel": "yes"}), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, client := range []kubernetes.Interface{c, jc} {
			w, err := client.CoreV1().ConfigMaps(ns).Watch(bg(), metav1.ListOptions{LabelSelector: "sel=yes"})
			if err != nil {
				t.Fatal(err)
			}
			rec := record(w)
			rec.waitCount(t, 1)
			patch := func(v string) {
				t.Helper()
				if _, err := c.CoreV1().ConfigMaps(ns).Patch(bg(), "a", types.MergePatchType, []byte(`{"metadata":{"labels":{"sel":"`+v+`"}}}`), metav1.PatchOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			patch("no")
			patch("no2")
			patch("yes")
			if _, err := c.CoreV1().ConfigMaps(ns).Patch(bg(), "a", types.MergePatchType, []byte(`{"data":{"n":"`+fmt.Sprintf("%p", client)+`"}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := c.CoreV1().ConfigMaps(ns).Delete(bg(), "a", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			evs := rec.waitCount(t, 5)
			if got := strings.Join(eventSummary(evs), ";"); got != "ADDED a;DELETED a;ADDED a;MODIFIED a;DELETED a" {
				t.Errorf("selector watch = %s", got)
			}
			// DELETED for "stopped matching" carries the new version and the
			// last matching state? upstream sends the new object; its labels
			// show why it left.
			if len(evs) >= 2 && rvOf(t, evs[1].Object) <= rvOf(t, evs[0].Object) {
				t.Errorf("DELETED on leaving the selector carries an old version: %s", describeEvents(evs))
			}
			rec.stop()
			if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("a", map[string]string{"sel": "yes"}), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		// Field selector watch on pods: binding a pod to another node.
		if _, err := c.CoreV1().Pods(ns).Create(bg(), testPod("p"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		w, err := c.CoreV1().Pods(ns).Watch(bg(), metav1.ListOptions{FieldSelector: "spec.nodeName=n1"})
		if err != nil {
			t.Fatal(err)
		}
		rec := record(w)
		defer rec.stop()
		if err := c.CoreV1().Pods(ns).Bind(bg(), &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		evs := rec.waitCount(t, 1)
		if got := strings.Join(eventSummary(evs), ";"); got != "ADDED p" {
			t.Errorf("binding seen as %s", got)
		}
	})

	t.Run("Informer", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		for i := 0; i < 3; i++ {
			if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap(fmt.Sprintf("pre%d", i), nil), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, client := range []kubernetes.Interface{c, jc} {
			var mu sync.Mutex
			var seen []string
			note := func(s string) {
				mu.Lock()
				seen = append(seen, s)
				mu.Unlock()
			}
			stop := make(chan struct{})
			f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns))
			inf := f.Core().V1().ConfigMaps().Informer()
			if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
				AddFunc: func(obj any) { note("add " + obj.(*corev1.ConfigMap).Name) },
				UpdateFunc: func(old, obj any) {
					if old.(*corev1.ConfigMap).ResourceVersion != obj.(*corev1.ConfigMap).ResourceVersion {
						note("update " + obj.(*corev1.ConfigMap).Name + " " + obj.(*corev1.ConfigMap).Data["k"])
					}
				},
				DeleteFunc: func(obj any) {
					if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
						obj = d.Obj
					}
					note("delete " + obj.(*corev1.ConfigMap).Name)
				},
			}); err != nil {
				t.Fatal(err)
			}
			f.Start(stop)
			synced := f.WaitForCacheSync(stop)
			for typ, ok := range synced {
				if !ok {
					t.Fatalf("%v did not sync", typ)
				}
			}
			lister := f.Core().V1().ConfigMaps().Lister().ConfigMaps(ns)
			if l, _ := lister.List(everything()); len(l) != 3 {
				t.Errorf("synced cache holds %d", len(l))
			}
			name := fmt.Sprintf("inf-%p", client)
			cm, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap(name, nil), metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			cm.Data["k"] = "2"
			if _, err := c.CoreV1().ConfigMaps(ns).Update(bg(), cm, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := c.CoreV1().ConfigMaps(ns).Delete(bg(), name, metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			// The initial adds come in any order; the changes in order.
			want := []string{"add pre0", "add pre1", "add pre2", "add " + name, "update " + name + " 2", "delete " + name}
			eventually(t, "informer events", func() error {
				mu.Lock()
				defer mu.Unlock()
				got := slices.Clone(seen)
				if len(got) >= 3 {
					slices.Sort(got[:3])
				}
				if !slices.Equal(got, want) {
					return fmt.Errorf("seen %v, want %v", seen, want)
				}
				return nil
			})
			close(stop)
			f.Shutdown()
		}
	})

	t.Run("WatchErrors", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		// A watch of one object by name (fieldSelector metadata.name), as
		// kubectl get -w does.
		w, err := c.CoreV1().ConfigMaps(ns).Watch(bg(), metav1.ListOptions{FieldSelector: "metadata.name=one"})
		if err != nil {
			t.Fatal(err)
		}
		rec := record(w)
		defer rec.stop()
		for _, n := range []string{"two", "one"} {
			if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap(n, nil), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		evs := rec.waitCount(t, 1)
		time.Sleep(100 * time.Millisecond)
		if got := strings.Join(eventSummary(rec.snapshot()), ";"); got != "ADDED one" {
			t.Errorf("name watch = %s (%d)", got, len(evs))
		}
		// timeoutSeconds ends a watch.
		start := time.Now()
		w2, err := c.CoreV1().ConfigMaps(ns).Watch(bg(), metav1.ListOptions{TimeoutSeconds: ptr(int64(1)), ResourceVersion: revisionString(t, c)})
		if err != nil {
			t.Fatal(err)
		}
		for range w2.ResultChan() {
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("timeoutSeconds=1 watch lasted %v", d)
		}
	})
}

func everything() labels.Selector { return labels.Everything() }

func revisionString(t *testing.T, c kubernetes.Interface) string {
	return strconv.FormatInt(revision(t, c), 10)
}

// TestIntegrationWatchRestart resumes a watch across a server restart.
func TestIntegrationWatchRestart(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	c := s.Client(t)
	ns := newNamespace(t, c)
	if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("a", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	w, err := c.CoreV1().ConfigMaps(ns).Watch(bg(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rec := record(w)
	svc, err := c.CoreV1().Services(ns).Create(bg(), nodePortService("np", 80), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("b", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	evs := rec.waitCount(t, 2)
	last := evs[len(evs)-1].Object.(*corev1.ConfigMap).ResourceVersion

	s.Restart(t)
	// The old watch ended with the server.
	select {
	case <-rec.done:
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not end when the server stopped")
	}
	// It ended cleanly, not with an error event.
	for _, ev := range rec.snapshot() {
		if ev.Type == watch.Error {
			t.Errorf("watch ended with %s", describeEvents([]watch.Event{ev}))
		}
	}
	c = s.Client(t)
	// Changes while no one watched.
	if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("c", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CoreV1().ConfigMaps(ns).Patch(bg(), "a", types.MergePatchType, []byte(`{"data":{"k":"2"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := c.CoreV1().ConfigMaps(ns).Delete(bg(), "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Allocations survive the restart.
	_, err = c.CoreV1().Services(ns).Create(bg(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "dup"},
		Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.1", Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
	wantStatus(t, err, 422, metav1.StatusReasonInvalid)
	if svc.Spec.Ports[0].NodePort != 0 {
		dup := nodePortService("dup", 80)
		dup.Spec.Ports[0].NodePort = svc.Spec.Ports[0].NodePort
		_, err = c.CoreV1().Services(ns).Create(bg(), dup, metav1.CreateOptions{})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid)
	}
	w, err = c.CoreV1().ConfigMaps(ns).Watch(bg(), metav1.ListOptions{ResourceVersion: last})
	if err != nil {
		t.Fatal(err)
	}
	rec = record(w)
	defer rec.stop()
	evs = rec.waitCount(t, 3)
	if got := strings.Join(eventSummary(evs), ";"); got != "ADDED c;MODIFIED a;DELETED b" {
		t.Errorf("resumed watch = %s", got)
	}
}

// TestIntegrationExpired checks 410 Gone once history is compacted.
func TestIntegrationExpired(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{CompactionInterval: 500 * time.Millisecond})
	c := s.Client(t)
	ns := newNamespace(t, c)
	for i := 0; i < 3; i++ {
		if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap(fmt.Sprintf("cm%d", i), nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	page, err := c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	old := page.ResourceVersion
	// Keep writing until the old revision is compacted away: a list at it
	// fails with 410.
	n := 0
	eventually(t, "compaction", func() error {
		n++
		if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap(fmt.Sprintf("later%d", n), nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{ResourceVersion: old, ResourceVersionMatch: metav1.ResourceVersionMatchExact})
		if err == nil {
			return fmt.Errorf("revision %s still readable", old)
		}
		st := wantStatus(t, err, 410, metav1.StatusReasonExpired)
		if st.Message != "The resourceVersion for the provided list is too old." {
			t.Errorf("exact list message = %q", st.Message)
		}
		return nil
	})
	_, err = c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{Limit: 1, Continue: page.Continue})
	st := wantStatus(t, err, 410, metav1.StatusReasonExpired)
	want := "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter."
	if st.Message != want {
		t.Errorf("continue message = %q", st.Message)
	}
	for _, client := range []kubernetes.Interface{c, jsonClient(t, s)} {
		w, err := client.CoreV1().ConfigMaps(ns).Watch(bg(), metav1.ListOptions{ResourceVersion: old})
		if err != nil {
			// Upstream may answer the watch request itself with 410.
			wantStatus(t, err, 410, metav1.StatusReasonExpired)
			continue
		}
		rec := record(w)
		evs := rec.waitCount(t, 1)
		rec.stop()
		ev := evs[0]
		st, ok := ev.Object.(*metav1.Status)
		if ev.Type != watch.Error || !ok || st.Code != 410 || st.Reason != metav1.StatusReasonExpired ||
			!strings.HasPrefix(st.Message, "too old resource version: "+old) {
			t.Errorf("old watch = %s %#v", ev.Type, ev.Object)
		}
	}
	// An informer recovers from 410 by relisting: it still syncs.
	f := informers.NewSharedInformerFactoryWithOptions(c, 0, informers.WithNamespace(ns))
	inf := f.Core().V1().ConfigMaps().Informer()
	stop := make(chan struct{})
	f.Start(stop)
	if !cache.WaitForCacheSync(stop, inf.HasSynced) {
		t.Fatal("informer did not sync")
	}
	close(stop)
	f.Shutdown()
}
