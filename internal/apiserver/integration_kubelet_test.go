package apiserver_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	gwebsocket "github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"github.com/skiff-sh/skiff/internal/testserver"
)

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

// kubeletCluster is a server with one node, n1, whose kubelet is fake.
type kubeletCluster struct {
	s       *testserver.Server
	c       kubernetes.Interface
	kubelet *fakeKubelet
	logs    *lockedBuffer
}

func newKubeletCluster(t *testing.T) *kubeletCluster {
	logs := &lockedBuffer{}
	s := testserver.Start(t, testserver.Options{Logs: logs})
	k := startFakeKubelet(t, s)
	registerNode(t, s, "n1", k)
	return &kubeletCluster{s: s, c: s.Client(t), kubelet: k, logs: logs}
}

// lockedBuffer collects the server's logs.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// requestLines are the request log lines logged since mark for paths
// containing path.
func (b *lockedBuffer) requestLines(mark int, path string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range strings.Split(b.buf.String()[mark:], "\n") {
		if strings.Contains(l, "msg=request") && strings.Contains(l, path) {
			out = append(out, l)
		}
	}
	return out
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) mark() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

func TestPodLogs(t *testing.T) {
	kc := newKubeletCluster(t)
	c := kc.c
	ctx := context.Background()
	ns := newNamespace(t, c)
	runPod(t, kc.s, ns, "one", "n1", "app")
	runPod(t, kc.s, ns, "two", "n1", "a", "b")
	runPod(t, kc.s, ns, "waits", "n1", "waiting")
	runPod(t, kc.s, ns, "pending", "", "app")

	t.Run("DefaultContainer", func(t *testing.T) {
		out, err := c.CoreV1().Pods(ns).GetLogs("one", &corev1.PodLogOptions{}).DoRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != "app line 1\napp line 2\napp line 3\n" {
			t.Errorf("log = %q", out)
		}
	})
	t.Run("Options", func(t *testing.T) {
		tail, limit := int64(1), int64(100)
		since := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		out, err := c.CoreV1().Pods(ns).GetLogs("two", &corev1.PodLogOptions{Container: "b", TailLines: &tail, LimitBytes: &limit,
			Timestamps: true, Previous: true, SinceTime: &since}).DoRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != "b line 3\n" {
			t.Errorf("log = %q", out)
		}
		want := "GET /containerLogs/" + ns + "/two/b?limitBytes=100&previous=true&sinceTime=2026-01-02T03%3A04%3A05Z&tailLines=1&timestamps=true"
		if got := kc.kubelet.lastRequest(); got != want {
			t.Errorf("kubelet got %q, want %q", got, want)
		}
	})
	t.Run("Follow", func(t *testing.T) {
		stream, err := c.CoreV1().Pods(ns).GetLogs("one", &corev1.PodLogOptions{Follow: true}).Stream(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer stream.Close()
		r := bufio.NewReader(stream)
		for i := 1; i <= 6; i++ {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("line %d: %v", i, err)
			}
			if want := fmt.Sprintf("app line %d\n", i); line != want {
				t.Fatalf("line %d = %q, want %q", i, line, want)
			}
		}
	})
	t.Run("WebSocket", func(t *testing.T) {
		tlsCfg, err := rest.TLSConfigFor(kc.s.Config)
		if err != nil {
			t.Fatal(err)
		}
		d := gwebsocket.Dialer{TLSClientConfig: tlsCfg, Subprotocols: []string{"binary.k8s.io"}}
		u := strings.Replace(kc.s.Config.Host, "https://", "wss://", 1) + "/api/v1/namespaces/" + ns + "/pods/one/log?tailLines=2"
		conn, _, err := d.Dial(u, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var got string
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				break
			}
			got += string(data)
		}
		if got != "app line 2\napp line 3\n" {
			t.Errorf("log over a websocket = %q", got)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		before := kc.kubelet.requestCount()
		tail := int64(-1)
		for _, tc := range []struct {
			pod  string
			opts corev1.PodLogOptions
			code int32
			msg  string
		}{
			{"two", corev1.PodLogOptions{}, 400, "a container name must be specified for pod two, choose one of: [a b]"},
			{"one", corev1.PodLogOptions{Container: "nope"}, 400, "container nope is not valid for pod one"},
			{"one", corev1.PodLogOptions{TailLines: &tail}, 422, `PodLogOptions "one" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0`},
			{"missing", corev1.PodLogOptions{}, 404, `pods "missing" not found`},
		} {
			// Stream, as kubectl logs: DoRaw does not decode error Statuses.
			_, err := c.CoreV1().Pods(ns).GetLogs(tc.pod, &tc.opts).Stream(ctx)
			st := statusOf(t, err)
			if st.Code != tc.code || st.Message != tc.msg {
				t.Errorf("%s %+v: got %d %q, want %d %q", tc.pod, tc.opts, st.Code, st.Message, tc.code, tc.msg)
			}
		}
		if n := kc.kubelet.requestCount(); n != before {
			t.Errorf("invalid requests reached the kubelet: %d requests", n-before)
		}
		_, err := c.CoreV1().Pods(ns).GetLogs("waits", &corev1.PodLogOptions{}).Stream(ctx)
		st := statusOf(t, err)
		if want := `container "waiting" in pod "waits" is waiting to start: ContainerCreating`; st.Code != 400 || st.Reason != metav1.StatusReasonBadRequest || st.Message != want {
			t.Errorf("waiting: got %d %s %q, want 400 BadRequest %q", st.Code, st.Reason, st.Message, want)
		}
		// A kubelet that cannot be reached: upstream's 500 with the
		// dial error, and no reason.
		gone := startFakeKubelet(t, kc.s)
		gone.srv.Close()
		registerNode(t, kc.s, "gone", gone)
		runPod(t, kc.s, ns, "lost", "gone", "app")
		_, err = c.CoreV1().Pods(ns).GetLogs("lost", &corev1.PodLogOptions{}).Stream(ctx)
		st = statusOf(t, err)
		if st.Code != 500 || st.Reason != "" || !strings.HasPrefix(st.Message, fmt.Sprintf(`Get "https://127.0.0.1:%d/containerLogs/%s/lost/app": dial tcp`, gone.port, ns)) {
			t.Errorf("unreachable kubelet: %d %q %q", st.Code, st.Reason, st.Message)
		}
		// A pod on no node has no log yet: 204, nothing written.
		resp := rawDo(t, kc.s.Config, "GET", "/api/v1/namespaces/"+ns+"/pods/pending/log", "", nil)
		if resp.code != http.StatusNoContent || len(resp.body) != 0 {
			t.Errorf("pending pod: %d %q", resp.code, resp.body)
		}
	})
}

// statusOf returns the API status err carries.
func statusOf(t *testing.T, err error) metav1.Status {
	t.Helper()
	var st interface{ Status() metav1.Status }
	if !errors.As(err, &st) {
		t.Fatalf("got %T %v, want an API status", err, err)
	}
	return st.Status()
}

func execURL(cfg *rest.Config, ns, pod, sub string, q url.Values) *url.URL {
	u, _ := url.Parse(cfg.Host + "/api/v1/namespaces/" + ns + "/pods/" + pod + "/" + sub)
	u.RawQuery = q.Encode()
	return u
}

func TestPodExecAttach(t *testing.T) {
	kc := newKubeletCluster(t)
	ns := newNamespace(t, kc.c)
	runPod(t, kc.s, ns, "one", "n1", "app")
	runPod(t, kc.s, ns, "pending", "", "app")
	cfg := kc.s.Config

	executors := map[string]func(u *url.URL) (remotecommand.Executor, error){
		"SPDY": func(u *url.URL) (remotecommand.Executor, error) { return remotecommand.NewSPDYExecutor(cfg, "POST", u) },
		"WebSocket": func(u *url.URL) (remotecommand.Executor, error) {
			return remotecommand.NewWebSocketExecutor(cfg, "GET", u.String())
		},
	}
	for name, newExec := range executors {
		t.Run(name, func(t *testing.T) {
			run := func(sub string, q url.Values, stdin string) (string, string, error) {
				e, err := newExec(execURL(cfg, ns, "one", sub, q))
				if err != nil {
					t.Fatal(err)
				}
				var stdout, stderr bytes.Buffer
				opts := remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}
				if stdin != "" {
					opts.Stdin = strings.NewReader(stdin)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				err = e.StreamWithContext(ctx, opts)
				return stdout.String(), stderr.String(), err
			}
			out, _, err := run("exec", url.Values{"command": {"echo", "hello", "world"}, "stdout": {"true"}, "stderr": {"true"}}, "")
			if err != nil || out != "hello world\n" {
				t.Errorf("echo: %q, %v", out, err)
			}
			_, errOut, err := run("exec", url.Values{"command": {"stderr", "oops"}, "stdout": {"true"}, "stderr": {"true"}}, "")
			if err != nil || errOut != "oops\n" {
				t.Errorf("stderr: %q, %v", errOut, err)
			}
			out, _, err = run("exec", url.Values{"command": {"cat"}, "stdin": {"true"}, "stdout": {"true"}}, "some input\n")
			if err != nil || out != "some input\n" {
				t.Errorf("cat: %q, %v", out, err)
			}
			_, _, err = run("exec", url.Values{"command": {"exit", "3"}, "stdout": {"true"}}, "")
			var exitErr exec.CodeExitError
			if !errors.As(err, &exitErr) || exitErr.Code != 3 {
				t.Errorf("exit 3: %v", err)
			}
			out, _, err = run("attach", url.Values{"stdin": {"true"}, "stdout": {"true"}}, "attached\n")
			if err != nil || out != "attached\n" {
				t.Errorf("attach: %q, %v", out, err)
			}
			// A terminal: stdin, stdout and the resize channel.
			e, err := newExec(execURL(cfg, ns, "one", "exec", url.Values{"command": {"cat"}, "stdin": {"true"}, "stdout": {"true"}, "tty": {"true"}}))
			if err != nil {
				t.Fatal(err)
			}
			var stdout bytes.Buffer
			sizes := &sizeQueue{sizes: []remotecommand.TerminalSize{{Width: 80, Height: 24}, {Width: 120, Height: 40}}}
			err = e.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdin: strings.NewReader("typed\n"), Stdout: &stdout, Tty: true, TerminalSizeQueue: sizes})
			if err != nil || stdout.String() != "typed\n" {
				t.Errorf("tty cat: %q, %v", stdout.String(), err)
			}
		})
	}
	t.Run("Errors", func(t *testing.T) {
		before := kc.kubelet.requestCount()
		// Not an upgrade.
		resp := rawDo(t, cfg, "POST", "/api/v1/namespaces/"+ns+"/pods/one/exec?command=ls&stdout=true", "", nil)
		if resp.code != http.StatusBadRequest || !strings.Contains(string(resp.body), "Upgrade request required") {
			t.Errorf("plain POST: %d %s", resp.code, resp.body)
		}
		resp = rawDo(t, cfg, "POST", "/api/v1/namespaces/"+ns+"/pods/pending/exec?command=ls&stdout=true", "", nil)
		if resp.code != http.StatusBadRequest || !strings.Contains(string(resp.body), `"message":"pod pending does not have a host assigned"`) {
			t.Errorf("unbound pod: %d %s", resp.code, resp.body)
		}
		resp = rawDo(t, cfg, "POST", "/api/v1/namespaces/"+ns+"/pods/one/exec?command=ls&container=nope", "", nil)
		if resp.code != http.StatusBadRequest || !strings.Contains(string(resp.body), `"message":"container nope is not valid for pod one"`) {
			t.Errorf("unknown container: %d %s", resp.code, resp.body)
		}
		if n := kc.kubelet.requestCount(); n != before {
			t.Errorf("failed requests reached the kubelet: %d", n-before)
		}
	})
}

// sizeQueue hands out its sizes, then reports the end of resizes.
type sizeQueue struct {
	mu    sync.Mutex
	sizes []remotecommand.TerminalSize
}

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.sizes) == 0 {
		return nil
	}
	s := q.sizes[0]
	q.sizes = q.sizes[1:]
	return &s
}

func TestPodPortForward(t *testing.T) {
	kc := newKubeletCluster(t)
	ns := newNamespace(t, kc.c)
	runPod(t, kc.s, ns, "one", "n1", "app")
	cfg := kc.s.Config
	u := execURL(cfg, ns, "one", "portforward", nil)

	dialers := map[string]func() (httpstream.Dialer, error){
		"SPDY": func() (httpstream.Dialer, error) {
			rt, upgrader, err := spdy.RoundTripperFor(cfg)
			if err != nil {
				return nil, err
			}
			return spdy.NewDialer(upgrader, &http.Client{Transport: rt}, "POST", u), nil
		},
		"WebSocketTunnel": func() (httpstream.Dialer, error) { return portforward.NewSPDYOverWebsocketDialer(u, cfg) },
	}
	for name, newDialer := range dialers {
		t.Run(name, func(t *testing.T) {
			d, err := newDialer()
			if err != nil {
				t.Fatal(err)
			}
			stop, ready := make(chan struct{}), make(chan struct{})
			out, errOut := &lockedBuffer{}, &lockedBuffer{}
			pf, err := portforward.New(d, []string{"0:8080"}, stop, ready, out, errOut)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- pf.ForwardPorts() }()
			select {
			case <-ready:
			case err := <-done:
				t.Fatalf("port-forward ended: %v (%s)", err, errOut.String())
			case <-time.After(20 * time.Second):
				t.Fatal("port-forward not ready")
			}
			ports, err := pf.GetPorts()
			if err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
			if err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(conn)
			greeting, err := r.ReadString('\n')
			if err != nil || greeting != "port 8080\n" {
				t.Errorf("greeting %q, %v", greeting, err)
			}
			_, _ = io.WriteString(conn, "ping\n")
			echo, err := r.ReadString('\n')
			if err != nil || echo != "ping\n" {
				t.Errorf("echo %q, %v", echo, err)
			}
			conn.Close()
			close(stop)
			<-done
		})
	}
}

func TestProxySubresources(t *testing.T) {
	kc := newKubeletCluster(t)
	resp := rawDo(t, kc.s.Config, "GET", "/api/v1/nodes/n1/proxy/healthz", "", nil)
	if resp.code != http.StatusOK || string(resp.body) != "ok" {
		t.Errorf("healthz through the node proxy: %d %q", resp.code, resp.body)
	}
	out, err := kc.c.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes/n1/proxy/metrics/resource").DoRaw(context.Background())
	if err != nil || !strings.Contains(string(out), "node_cpu_usage_seconds_total") {
		t.Errorf("metrics/resource through the node proxy: %v %.200s", err, out)
	}
	resp = rawDo(t, kc.s.Config, "GET", "/api/v1/nodes/nope/proxy/healthz", "", nil)
	if resp.code != http.StatusNotFound {
		t.Errorf("unknown node: %d %s", resp.code, resp.body)
	}

	// A server on the host's own address stands in for a pod (endpoints
	// and pod proxies refuse loopback addresses).
	ip := hostIP(t)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s auth=%q", r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"))
	}))
	backend.Listener.Close()
	backend.Listener = ln
	backend.Start()
	defer backend.Close()
	ctx := context.Background()
	ns := newNamespace(t, kc.c)
	for _, name := range []string{"web", "empty"} {
		if _, err := kc.c.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Name: "http", Port: 80}}}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	port := backend.Listener.Addr().(*net.TCPAddr).Port
	if _, err := kc.c.CoreV1().Endpoints(ns).Create(ctx, &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: ip}}, Ports: []corev1.EndpointPort{{Name: "http", Port: int32(port)}}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.c.CoreV1().Endpoints(ns).Create(ctx, &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "empty"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web:http", "web:80", "http:web:http"} {
		resp = rawDo(t, kc.s.Config, "GET", "/api/v1/namespaces/"+ns+"/services/"+name+"/proxy/a/b/?x=1", "", nil)
		if resp.code != http.StatusOK || string(resp.body) != `GET /a/b/?x=1 auth=""` {
			t.Errorf("service proxy to %s: %d %s", name, resp.code, resp.body)
		}
	}
	for path, want := range map[string]string{
		"services/empty/proxy/": `"message":"no endpoints available for service \"empty\""`,
		// As upstream, a named port must be named.
		"services/web/proxy/":    `"message":"no endpoints available for service \"web\""`,
		"services/web:81/proxy/": `"message":"no service port 81 found for service \"web\""`,
	} {
		resp = rawDo(t, kc.s.Config, "GET", "/api/v1/namespaces/"+ns+"/"+path, "", nil)
		if resp.code != http.StatusServiceUnavailable || !strings.Contains(string(resp.body), want) {
			t.Errorf("%s: %d %s", path, resp.code, resp.body)
		}
	}
	// A pod, by its IP; a loopback one is refused, as upstream.
	for name, podIP := range map[string]string{"pod": ip, "local": "127.0.0.1"} {
		pod := runPod(t, kc.s, ns, name, "n1", "app")
		pod.Status.PodIP, pod.Status.PodIPs = podIP, []corev1.PodIP{{IP: podIP}}
		if _, err := kc.c.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	resp = rawDo(t, kc.s.Config, "GET", fmt.Sprintf("/api/v1/namespaces/%s/pods/pod:%d/proxy/x", ns, port), "", nil)
	if resp.code != http.StatusOK || string(resp.body) != `GET /x auth=""` {
		t.Errorf("pod proxy: %d %s", resp.code, resp.body)
	}
	resp = rawDo(t, kc.s.Config, "GET", "/api/v1/namespaces/"+ns+"/pods/local:8080/proxy/", "", nil)
	if resp.code != http.StatusBadRequest || !strings.Contains(string(resp.body), `"message":"address not allowed"`) {
		t.Errorf("pod proxy to loopback: %d %s", resp.code, resp.body)
	}
}

// hostIP is a global unicast IPv4 address of this host.
func hostIP(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.String()
		}
	}
	t.Skip("no non-loopback IPv4 address on this host")
	return ""
}

func TestMetricsAPI(t *testing.T) {
	kc := newKubeletCluster(t)
	ctx := context.Background()
	if _, err := kc.c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "metrics"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	runPod(t, kc.s, "metrics", "web", "n1", "app", "sidecar")
	runPod(t, kc.s, "metrics", "db", "n1", "db")
	runPod(t, kc.s, "metrics", "idle", "", "app")
	// n2's kubelet is gone: metrics-server leaves such nodes out.
	gone := startFakeKubelet(t, kc.s)
	gone.srv.Close()
	registerNode(t, kc.s, "n2", gone)
	runPod(t, kc.s, "metrics", "lost", "n2", "app")

	groups, err := kc.c.Discovery().ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, g := range groups.Groups {
		found = found || (g.Name == "metrics.k8s.io" && g.PreferredVersion.Version == "v1beta1")
	}
	if !found {
		t.Fatalf("metrics.k8s.io/v1beta1 is not in discovery: %+v", groups.Groups)
	}

	mc, err := metricsclient.NewForConfig(kc.s.Config)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := mc.MetricsV1beta1().NodeMetricses().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes.Items) != 1 || nodes.Items[0].Name != "n1" {
		t.Fatalf("node metrics = %+v", nodes.Items)
	}
	n := nodes.Items[0]
	if cpu := n.Usage.Cpu().MilliValue(); cpu < 450 || cpu > 550 {
		t.Errorf("node cpu = %dm, want about 500m", cpu)
	}
	if mem := n.Usage.Memory().Value(); mem != nodeMemory {
		t.Errorf("node memory = %d, want %d", mem, nodeMemory)
	}
	if n.Window.Duration <= 0 || n.Timestamp.IsZero() || n.Labels["kubernetes.io/hostname"] != "n1" {
		t.Errorf("node metrics meta: window %v timestamp %v labels %v", n.Window, n.Timestamp, n.Labels)
	}

	pods, err := mc.MetricsV1beta1().PodMetricses("metrics").List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pods.Items {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "db,web" {
		t.Fatalf("pod metrics for %v, want db,web", names)
	}
	web := pods.Items[1]
	if len(web.Containers) != 2 || web.Containers[0].Name != "app" || web.Containers[1].Name != "sidecar" {
		t.Fatalf("web containers = %+v", web.Containers)
	}
	if cpu := web.Containers[0].Usage.Cpu().MilliValue(); cpu < 200 || cpu > 300 {
		t.Errorf("web/app cpu = %dm, want about 250m", cpu)
	}
	sel, err := mc.MetricsV1beta1().PodMetricses("metrics").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(sel.Items) != 1 || sel.Items[0].Name != "web" {
		t.Errorf("app=web selects %+v, %v", sel, err)
	}
	if _, err := mc.MetricsV1beta1().PodMetricses("metrics").Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Error(err)
	}
	_, err = mc.MetricsV1beta1().PodMetricses("metrics").Get(ctx, "idle", metav1.GetOptions{})
	if st := statusOf(t, err); st.Code != 404 || st.Message != `podmetrics.metrics.k8s.io "metrics/idle" not found` {
		t.Errorf("idle pod: %d %q", st.Code, st.Message)
	}
	_, err = mc.MetricsV1beta1().NodeMetricses().Get(ctx, "nope", metav1.GetOptions{})
	if st := statusOf(t, err); st.Code != 404 || st.Message != `nodes "nope" not found` {
		t.Errorf("unknown node: %d %q", st.Code, st.Message)
	}
}
