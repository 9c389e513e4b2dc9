package apiserver_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// Integration tests share one server per file (per top-level test), and
// each subtest works in a namespace of its own so that subtests may run in
// parallel.

var nsCounter atomic.Int64

// newNamespace creates a namespace with a unique name for one subtest.
func newNamespace(t *testing.T, c kubernetes.Interface) string {
	t.Helper()
	name := fmt.Sprintf("it-%d-%s", nsCounter.Add(1), strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name())))
	if len(name) > 63 {
		name = strings.TrimRight(name[:63], "-")
	}
	_, err := c.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	return name
}

// jsonConfig is cfg speaking JSON instead of protobuf.
func jsonConfig(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.ContentType = "application/json"
	c.AcceptContentTypes = "application/json"
	return c
}

func jsonClient(t *testing.T, s *testserver.Server) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(jsonConfig(s.Config))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantStatus checks that err is an API status with the given code and
// reason, and returns it.
func wantStatus(t *testing.T, err error, code int32, reason metav1.StatusReason) metav1.Status {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %d %s", code, reason)
	}
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		t.Fatalf("got %T %v, want an API status %d %s", err, err, code, reason)
	}
	got := st.Status()
	if got.Code != code || got.Reason != reason {
		t.Fatalf("got %d %s (%q), want %d %s", got.Code, got.Reason, got.Message, code, reason)
	}
	return got
}

// rawResponse is one answer of rawDo.
type rawResponse struct {
	code   int
	body   []byte
	header http.Header
}

// rawDo sends one request as the admin user (or without credentials when
// anonymous) and returns the answer whole.
func rawDo(t *testing.T, cfg *rest.Config, method, path, contentType string, body []byte) rawResponse {
	t.Helper()
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, cfg.Host+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return rawResponse{code: resp.StatusCode, body: data, header: resp.Header}
}

// anonymousConfig is cfg without a client certificate: it trusts the
// server and presents nothing.
func anonymousConfig(cfg *rest.Config) *rest.Config {
	c := rest.AnonymousClientConfig(cfg)
	c.QPS, c.Burst = -1, 0
	return c
}

// revision is the store's current revision, as a list of namespaces
// reports it (lists read at the latest etcd revision).
func revision(t *testing.T, c kubernetes.Interface) int64 {
	t.Helper()
	l, err := c.CoreV1().Namespaces().List(context.Background(), metav1.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	rv, err := strconv.ParseInt(l.ResourceVersion, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return rv
}

// eventRecorder collects a watch's events in the background.
type eventRecorder struct {
	mu     sync.Mutex
	events []watch.Event
	w      watch.Interface
	done   chan struct{}
}

func record(w watch.Interface) *eventRecorder {
	r := &eventRecorder{w: w, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for ev := range w.ResultChan() {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *eventRecorder) stop() {
	r.w.Stop()
	<-r.done
}

func (r *eventRecorder) snapshot() []watch.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]watch.Event(nil), r.events...)
}

// waitFor waits until the recorded events satisfy ok.
func (r *eventRecorder) waitFor(t *testing.T, what string, ok func([]watch.Event) bool) []watch.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := r.snapshot()
		if ok(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; got %s", what, describeEvents(evs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitCount waits for at least n events.
func (r *eventRecorder) waitCount(t *testing.T, n int) []watch.Event {
	t.Helper()
	return r.waitFor(t, fmt.Sprintf("%d events", n), func(evs []watch.Event) bool { return len(evs) >= n })
}

func describeEvents(evs []watch.Event) string {
	var parts []string
	for _, ev := range evs {
		name := ""
		if m, ok := ev.Object.(metav1.Object); ok {
			name = m.GetName() + "@" + m.GetResourceVersion()
		}
		if st, ok := ev.Object.(*metav1.Status); ok {
			name = fmt.Sprintf("%d %s %s", st.Code, st.Reason, st.Message)
		}
		parts = append(parts, fmt.Sprintf("%s %s", ev.Type, name))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// eventSummary is "TYPE name" per event, bookmarks as "BOOKMARK".
func eventSummary(evs []watch.Event) []string {
	var out []string
	for _, ev := range evs {
		if ev.Type == watch.Bookmark {
			out = append(out, "BOOKMARK")
			continue
		}
		name := ""
		if m, ok := ev.Object.(metav1.Object); ok {
			name = m.GetName()
		}
		out = append(out, string(ev.Type)+" "+name)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func bg() context.Context { return context.Background() }

// eventually retries f for a few seconds until it returns nil.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
}

func testConfigMap(name string, labels map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Data: map[string]string{"k": "v"}}
}
