package apiserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rcconst "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/util/cert"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"

	"github.com/skiff-sh/skiff/internal/pki"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// fakeKubelet is a test-only kubelet API: HTTPS with a self-signed
// certificate, client certificates verified against the cluster CA and
// required to be in system:masters, as Skiff's kubelet does. It serves
// just enough of /containerLogs, /exec, /attach, /portForward and
// /metrics/resource for the API server's proxying to be checked end to
// end. Containers are scripted by name:
//
//   - "waiting": its logs answer 400, as a kubelet does for a container
//     that has not started;
//   - any other: its log is the lines "<container> line 1".."<container> line 3",
//     and with follow=true a new line every 50ms until the client leaves.
//
// Exec runs a tiny shell: "echo ARGS" prints ARGS, "cat" copies stdin to
// stdout, "exit N" exits with N, "stderr ARGS" prints to stderr. Attach
// behaves as "cat". A forwarded port answers "port N\n" and then echoes.
type fakeKubelet struct {
	srv  *httptest.Server
	port int

	mu       sync.Mutex
	requests []string // request paths with queries, in order
	// started is when metrics counters began; cpu grows at nodeCores and
	// containerCores from then.
	started time.Time
}

const (
	nodeCores      = 0.5
	containerCores = 0.25
	nodeMemory     = 512 << 20
	containerMem   = 64 << 20
)

func startFakeKubelet(t *testing.T, s *testserver.Server) *fakeKubelet {
	t.Helper()
	caPEM, err := os.ReadFile(filepath.Join(s.DataDir, "pki", pki.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := cert.NewPoolFromBytes(caPEM)
	if err != nil {
		t.Fatal(err)
	}
	k := &fakeKubelet{started: time.Now()}
	mux := http.NewServeMux()
	mux.HandleFunc("/containerLogs/", k.logs)
	mux.HandleFunc("/exec/", k.exec)
	mux.HandleFunc("/attach/", k.exec)
	mux.HandleFunc("/portForward/", k.portForward)
	mux.HandleFunc("/metrics/resource", k.metrics)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	k.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		k.requests = append(k.requests, r.Method+" "+r.URL.RequestURI())
		k.mu.Unlock()
		if len(r.TLS.PeerCertificates) == 0 || !slices.Contains(r.TLS.PeerCertificates[0].Subject.Organization, "system:masters") {
			http.Error(w, "Forbidden", http.StatusForbidden)
			return
		}
		if r.Header.Get("Authorization") != "" {
			http.Error(w, "credentials leaked to the kubelet", http.StatusTeapot)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	k.srv.TLS = &tls.Config{ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	k.srv.StartTLS()
	t.Cleanup(k.srv.Close)
	k.port = k.srv.Listener.Addr().(*net.TCPAddr).Port
	return k
}

func (k *fakeKubelet) lastRequest() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.requests) == 0 {
		return ""
	}
	return k.requests[len(k.requests)-1]
}

func (k *fakeKubelet) requestCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.requests)
}

// pathParts splits /kind/ns/pod/container.
func pathParts(p string) []string { return strings.Split(strings.Trim(p, "/"), "/") }

func (k *fakeKubelet) logs(w http.ResponseWriter, r *http.Request) {
	parts := pathParts(r.URL.Path)
	if len(parts) != 4 {
		http.NotFound(w, r)
		return
	}
	pod, container := parts[2], parts[3]
	if container == "waiting" {
		// As go-restful's WriteError: the text, no newline.
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "container %q in pod %q is waiting to start: ContainerCreating", container, pod)
		return
	}
	lines := []string{container + " line 1", container + " line 2", container + " line 3"}
	if n, err := strconv.Atoi(r.URL.Query().Get("tailLines")); err == nil && n < len(lines) {
		lines = lines[len(lines)-n:]
	}
	w.Header().Set("Content-Type", "text/plain")
	for _, l := range lines {
		_, _ = io.WriteString(w, l+"\n")
	}
	if r.URL.Query().Get("follow") != "true" {
		return
	}
	for i := 4; ; i++ {
		http.NewResponseController(w).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
		if _, err := fmt.Fprintf(w, "%s line %d\n", container, i); err != nil {
			return
		}
	}
}

// upgradeSPDY negotiates protocol and upgrades to SPDY; the client's
// streams arrive on the channel. A nil connection means the upgrade
// failed and has been answered.
func upgradeSPDY(w http.ResponseWriter, r *http.Request, protocol string) (httpstream.Connection, chan httpstream.Stream) {
	if _, err := httpstream.Handshake(r, w, []string{protocol}); err != nil {
		return nil, nil
	}
	streams := make(chan httpstream.Stream, 8)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(s httpstream.Stream, replySent <-chan struct{}) error {
		streams <- s
		return nil
	})
	return conn, streams
}

// exec speaks remotecommand v4 over SPDY as a container runtime's
// streaming server does.
func (k *fakeKubelet) exec(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	want := 1 // the error stream
	for _, p := range []string{"input", "output", "error"} {
		if q.Get(p) == "1" {
			want++
		}
	}
	if strings.HasSuffix(r.URL.Path, "/waiting") {
		http.Error(w, `container not found ("waiting")`, http.StatusNotFound)
		return
	}
	tty := q.Get("tty") == "1"
	if tty {
		want++ // resize
	}
	conn, streams := upgradeSPDY(w, r, rcconst.StreamProtocolV4Name)
	if conn == nil {
		return
	}
	defer conn.Close()
	byType := map[string]httpstream.Stream{}
	timeout := time.After(10 * time.Second)
	for len(byType) < want {
		select {
		case s := <-streams:
			byType[s.Headers().Get(corev1.StreamType)] = s
		case <-timeout:
			return
		}
	}
	command := q["command"]
	if strings.HasPrefix(r.URL.Path, "/attach/") {
		command = []string{"cat"}
	}
	stdout, stderr, stdin := byType[corev1.StreamTypeStdout], byType[corev1.StreamTypeStderr], byType[corev1.StreamTypeStdin]
	status := metav1.Status{Status: metav1.StatusSuccess}
	switch {
	case len(command) > 0 && command[0] == "echo" && stdout != nil:
		_, _ = io.WriteString(stdout, strings.Join(command[1:], " ")+"\n")
	case len(command) > 0 && command[0] == "stderr" && stderr != nil:
		_, _ = io.WriteString(stderr, strings.Join(command[1:], " ")+"\n")
	case len(command) > 0 && command[0] == "cat" && stdin != nil && stdout != nil:
		_, _ = io.Copy(stdout, stdin)
	case len(command) > 1 && command[0] == "exit":
		status = metav1.Status{Status: metav1.StatusFailure, Reason: rcconst.NonZeroExitCodeReason,
			Message: "command terminated with non-zero exit code: exit " + command[1],
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: rcconst.ExitCodeCauseType, Message: command[1]}}}}
	default:
		status = metav1.Status{Status: metav1.StatusFailure, Message: fmt.Sprintf("unknown command %v", command)}
	}
	for _, s := range []httpstream.Stream{stdout, stderr} {
		if s != nil {
			s.Close()
		}
	}
	data, _ := json.Marshal(status)
	errStream := byType[corev1.StreamTypeError]
	_, _ = errStream.Write(data)
	errStream.Close()
	// Give the client a moment to read before the connection goes.
	time.Sleep(50 * time.Millisecond)
}

// portForward speaks portforward.k8s.io over SPDY: each data stream gets
// "port N\n", then its own bytes back.
func (k *fakeKubelet) portForward(w http.ResponseWriter, r *http.Request) {
	conn, streams := upgradeSPDY(w, r, "portforward.k8s.io")
	if conn == nil {
		return
	}
	defer conn.Close()
	for {
		select {
		case <-conn.CloseChan():
			return
		case s := <-streams:
			if s.Headers().Get(corev1.StreamType) != corev1.StreamTypeData {
				continue // error streams stay open and silent
			}
			go func() {
				defer s.Close()
				_, _ = io.WriteString(s, "port "+s.Headers().Get(corev1.PortHeader)+"\n")
				_, _ = io.Copy(s, bufio.NewReader(s))
			}()
		}
	}
}

// metrics answers /metrics/resource for the node and the running pods
// it is told about through the pods query (ns/name/container,...).
func (k *fakeKubelet) metrics(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	elapsed := now.Sub(k.started).Seconds() + 100
	ms := now.UnixMilli()
	fmt.Fprintf(w, "# HELP node_cpu_usage_seconds_total Cumulative cpu time consumed by the node in core-seconds\n# TYPE node_cpu_usage_seconds_total counter\n")
	fmt.Fprintf(w, "node_cpu_usage_seconds_total %g %d\n", nodeCores*elapsed, ms)
	fmt.Fprintf(w, "# HELP node_memory_working_set_bytes Current working set of the node in bytes\n# TYPE node_memory_working_set_bytes gauge\n")
	fmt.Fprintf(w, "node_memory_working_set_bytes %d %d\n", nodeMemory, ms)
	k.mu.Lock()
	pods := metricsPods
	k.mu.Unlock()
	fmt.Fprintf(w, "# TYPE container_cpu_usage_seconds_total counter\n")
	for _, p := range pods {
		fmt.Fprintf(w, "container_cpu_usage_seconds_total{container=%q,namespace=%q,pod=%q} %g %d\n", p[2], p[0], p[1], containerCores*elapsed, ms)
	}
	fmt.Fprintf(w, "# TYPE container_memory_working_set_bytes gauge\n")
	for _, p := range pods {
		fmt.Fprintf(w, "container_memory_working_set_bytes{container=%q,namespace=%q,pod=%q} %d %d\n", p[2], p[0], p[1], containerMem, ms)
	}
	fmt.Fprintf(w, "# TYPE container_start_time_seconds gauge\n")
	for _, p := range pods {
		fmt.Fprintf(w, "container_start_time_seconds{container=%q,namespace=%q,pod=%q} %d %d\n", p[2], p[0], p[1], k.started.Add(-time.Hour).Unix(), ms)
	}
}

// metricsPods are the containers every fake kubelet reports metrics for
// (namespace, pod, container).
var metricsPods = [][3]string{{"metrics", "web", "app"}, {"metrics", "web", "sidecar"}, {"metrics", "db", "db"}}

// registerNode creates a ready node whose kubelet is k.
func registerNode(t *testing.T, s *testserver.Server, name string, k *fakeKubelet) {
	t.Helper()
	c := s.Client(t)
	ctx := context.Background()
	node, err := c.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	node.Status = corev1.NodeStatus{
		Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}, {Type: corev1.NodeHostName, Address: name}},
		DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(k.port)}},
		Capacity:        corev1.ResourceList{corev1.ResourceCPU: mustQuantity("2"), corev1.ResourceMemory: mustQuantity("4Gi"), corev1.ResourcePods: mustQuantity("110")},
		Allocatable:     corev1.ResourceList{corev1.ResourceCPU: mustQuantity("2"), corev1.ResourceMemory: mustQuantity("4Gi"), corev1.ResourcePods: mustQuantity("110")},
		Conditions:      []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
	}
	if _, err := c.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// runPod creates a pod bound to node (none when node is empty) and marks
// it Running with its containers started.
func runPod(t *testing.T, s *testserver.Server, ns, name, node string, containers ...string) *corev1.Pod {
	t.Helper()
	c := s.Client(t)
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"app": name}}, Spec: corev1.PodSpec{NodeName: node}}
	for _, cn := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: cn, Image: "busybox"})
	}
	pod, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if node == "" {
		return pod
	}
	pod.Status.Phase = corev1.PodRunning
	for _, cn := range containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{Name: cn, Image: "busybox", Ready: true,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}})
	}
	pod, err = c.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pod
}
