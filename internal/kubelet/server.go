package kubelet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/proxy"
	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The kubelet's HTTPS API, as upstream's pkg/kubelet/server: what the API
// server proxies `kubectl logs`, `exec`, `attach`, `port-forward` and `top`
// (through metrics-server) to.
//
//	GET  /healthz                                  ok
//	GET  /pods                                     PodList of the pods bound here
//	GET  /containerLogs/{ns}/{pod}/{container}     ?follow&tailLines&timestamps&previous&sinceSeconds&sinceTime&limitBytes&stream
//	GET|POST /exec/{ns}/{pod}[/{uid}]/{container}  ?command=…&stdin&stdout&stderr&tty, upgraded (SPDY or websocket)
//	GET|POST /attach/{ns}/{pod}[/{uid}]/{container}
//	GET|POST /portForward/{ns}/{pod}[/{uid}]       ?port=… (websocket)
//	GET  /stats/summary                            stats/v1alpha1 Summary
//	GET  /metrics/resource                         Prometheus text
//	GET  /metrics                                  Prometheus text
//
// Exec, attach and port-forward ask the CRI for a streaming URL and proxy
// the upgraded connection to the runtime's streaming server, as upstream
// does for a remote runtime.

// DefaultServerPort is upstream's kubelet port.
const DefaultServerPort = 10250

// Self-signed serving certificate files in CertDir, as upstream's.
const (
	selfSignedCertFile = "kubelet.crt"
	selfSignedKeyFile  = "kubelet.key"
)

// streamPollPeriod is how often a followed log is read again.
const streamPollPeriod = 200 * time.Millisecond

// serverTLS is the serving certificate and client CA pool of the
// kubelet's server.
func (k *Kubelet) serverTLS() (*tls.Config, error) {
	certFile, keyFile := k.cfg.TLSCertFile, k.cfg.TLSKeyFile
	if certFile == "" {
		var err error
		if certFile, keyFile, err = ensureSelfSignedCert(k.cfg.CertDir, k.cfg.NodeName, []string{k.cfg.Hostname}, []string{k.cfg.NodeIP}); err != nil {
			return nil, err
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("kubelet: serving certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(k.clientCA) {
		return nil, errors.New("kubelet: the client CA holds no PEM certificate")
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		// A request without a certificate gets upstream's 401 from the
		// handler rather than a handshake failure.
		ClientAuth: tls.VerifyClientCertIfGiven,
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"http/1.1"}, // upgrades (exec, port-forward) need HTTP/1.1
	}, nil
}

// ensureSelfSignedCert returns dir's kubelet.crt and kubelet.key, creating
// a self-signed pair for the node's name, hostnames and IPs if either is
// missing, as upstream does when no serving certificate is configured.
func ensureSelfSignedCert(dir, nodeName string, hosts, ips []string) (string, string, error) {
	certFile, keyFile := filepath.Join(dir, selfSignedCertFile), filepath.Join(dir, selfSignedKeyFile)
	if ok, _ := certutil.CanReadCertAndKey(certFile, keyFile); ok {
		return certFile, keyFile, nil
	}
	var dns []string
	for _, h := range hosts {
		if h != "" && h != nodeName {
			dns = append(dns, h)
		}
	}
	var addrs []net.IP
	for _, s := range ips {
		if ip := net.ParseIP(s); ip != nil {
			addrs = append(addrs, ip)
		}
	}
	certPEM, keyPEM, err := certutil.GenerateSelfSignedCertKey(nodeName, addrs, dns)
	if err != nil {
		return "", "", fmt.Errorf("kubelet: self-signed serving certificate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("kubelet: %w", err)
	}
	if err := keyutil.WriteKey(keyFile, keyPEM); err != nil {
		return "", "", fmt.Errorf("kubelet: write %s: %w", keyFile, err)
	}
	if err := certutil.WriteCert(certFile, certPEM); err != nil {
		return "", "", fmt.Errorf("kubelet: write %s: %w", certFile, err)
	}
	return certFile, keyFile, nil
}

// startServer listens on ServerAddress:ServerPort and serves the API
// until ctx ends; the returned wait blocks until the server stopped. A
// port already in use is returned as an error at once.
func (k *Kubelet) startServer(ctx context.Context) (wait func(), err error) {
	tlsConfig, err := k.serverTLS()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(k.cfg.ServerAddress, strconv.Itoa(k.cfg.ServerPort))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("kubelet: server: %w", err)
	}
	srv := &http.Server{
		Handler:           k.handler(),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 30 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		// TLS handshake failures (clients of another CA) are worth a
		// debug line, not stderr.
		ErrorLog: slog.NewLogLogger(k.log.Handler(), slog.LevelDebug),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.ServeTLS(l, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			k.log.Error("kubelet server stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		// Close, not Shutdown: followed logs and exec streams would hold
		// a graceful shutdown forever.
		_ = srv.Close()
	}()
	k.log.Info("kubelet server listening", "address", l.Addr().String())
	return func() { <-done }, nil
}

// handler is the kubelet API behind authentication and authorization.
func (k *Kubelet) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	mux.HandleFunc("GET /pods", k.servePods)
	mux.HandleFunc("GET /pods/", k.servePods)
	mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", k.serveContainerLogs)
	for _, kind := range []string{"exec", "attach"} {
		mux.HandleFunc("/"+kind+"/{ns}/{pod}/{container}", k.serveStream(kind))
		mux.HandleFunc("/"+kind+"/{ns}/{pod}/{uid}/{container}", k.serveStream(kind))
	}
	mux.HandleFunc("/portForward/{ns}/{pod}", k.servePortForward)
	mux.HandleFunc("/portForward/{ns}/{pod}/{uid}", k.servePortForward)
	mux.HandleFunc("GET /stats/summary", k.serveSummary)
	mux.HandleFunc("GET /metrics/resource", k.serveResourceMetrics)
	mux.HandleFunc("GET /metrics", k.serveMetrics)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, msg := authorizeRequest(requestUserOf(r), r.Method, r.URL.Path)
		if code != http.StatusOK {
			k.log.Debug("kubelet API request refused", "path", r.URL.Path, "code", code, "reason", msg)
			http.Error(w, msg, code)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// podByName is the pod bound here with that namespace and name.
func (k *Kubelet) podByName(ns, name string) (*v1.Pod, bool) {
	obj, ok, err := k.podInformer.GetIndexer().GetByKey(ns + "/" + name)
	if err != nil || !ok {
		return nil, false
	}
	pod, ok := obj.(*v1.Pod)
	return pod, ok
}

func (k *Kubelet) servePods(w http.ResponseWriter, _ *http.Request) {
	list := v1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}}
	for _, obj := range k.podInformer.GetIndexer().List() {
		if pod, ok := obj.(*v1.Pod); ok {
			list.Items = append(list.Items, *pod)
		}
	}
	writeJSON(w, &list)
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// flushWriter flushes after every write so that a followed log reaches
// the client line by line.
type flushWriter struct {
	w       http.ResponseWriter
	f       http.Flusher
	written bool
}

func (fw *flushWriter) Write(p []byte) (int, error) {
	n, err := fw.w.Write(p)
	fw.written = fw.written || n > 0
	fw.f.Flush()
	return n, err
}

func (k *Kubelet) serveContainerLogs(w http.ResponseWriter, r *http.Request) {
	ns, podName, name := r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container")
	opts, err := parseLogQuery(r.URL.Query())
	if err != nil {
		http.Error(w, `{"message": "Unable to decode query."}`, http.StatusBadRequest)
		return
	}
	if err := validateLogOptions(opts); err != nil {
		http.Error(w, `{"message": "Invalid request."}`, http.StatusUnprocessableEntity)
		return
	}
	pod, ok := k.podByName(ns, podName)
	if !ok {
		http.Error(w, fmt.Sprintf("pod %q does not exist", podName), http.StatusNotFound)
		return
	}
	if isMirrorPod(pod) {
		k.serveStaticPodLogs(w, r, pod, name, opts)
		return
	}
	if findSpec(pod, name) == nil {
		http.Error(w, fmt.Sprintf("container %q not found in pod %q", name, podName), http.StatusNotFound)
		return
	}
	id, err := logContainerID(pod, name, opts.Previous)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	st, err := k.cfg.Runtime.ContainerStatus(ctx, id, false)
	if err != nil {
		http.Error(w, fmt.Sprintf("failed to get container status %q: %v", id, err), http.StatusBadRequest)
		return
	}
	path := st.GetStatus().GetLogPath()
	if path != "" && !filepath.IsAbs(path) {
		path = filepath.Join(k.podLogDir(pod), path)
	}
	if path == "" {
		http.Error(w, fmt.Sprintf("container %q in pod %q has no log file", name, podName), http.StatusBadRequest)
		return
	}
	running := func(ctx context.Context) (bool, error) {
		st, err := k.cfg.Runtime.ContainerStatus(ctx, id, false)
		if err != nil {
			if status.Code(err) == codes.NotFound {
				return false, nil
			}
			return false, err
		}
		return st.GetStatus().GetState() == runtimeapi.ContainerState_CONTAINER_RUNNING, nil
	}
	k.serveLogFile(w, r, pod, name, path, opts, running)
}

// serveLogFile writes the CRI log file at path as opts ask; a follow
// polls it while running says the container runs.
func (k *Kubelet) serveLogFile(w http.ResponseWriter, r *http.Request, pod *v1.Pod, name, path string, opts *v1.PodLogOptions, running func(context.Context) (bool, error)) {
	ctx := r.Context()
	f, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "unable to convert the response into http.Flusher, cannot show logs", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	poll := func(ctx context.Context) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-k.clock.After(streamPollPeriod):
			return nil
		}
	}
	lo := newLogOptions(opts, k.clock.Now())
	fw := &flushWriter{w: w, f: f}
	if err := readLogFile(ctx, path, lo, fw, poll, running); err != nil && ctx.Err() == nil {
		if fw.written {
			// Too late for a status: the client sees the stream end.
			k.log.Warn("container log stream failed", "pod", pod.Namespace+"/"+pod.Name, "container", name, "err", err)
			return
		}
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
}

// podLogDir is the directory the runtime writes a pod's logs to.
func (k *Kubelet) podLogDir(pod *v1.Pod) string {
	return filepath.Join(k.cfg.PodLogsDir, fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID))
}

// parseLogQuery decodes the query of /containerLogs into PodLogOptions
// (with "tail", upstream's older name of tailLines, where "all" means no
// tail). client-go's scheme cannot: the url.Values conversions of
// PodLogOptions live in k8s.io/kubernetes.
func parseLogQuery(q url.Values) (*v1.PodLogOptions, error) {
	o := &v1.PodLogOptions{}
	if tail := q.Get("tail"); tail != "" {
		q = maps.Clone(q) // Del and Set replace slices: a shallow copy is enough
		q.Del("tailLines")
		if tail != "all" {
			q.Set("tailLines", tail)
		}
	}
	boolean := func(key string) bool {
		switch strings.ToLower(q.Get(key)) {
		case "", "false", "f", "0":
			return false
		}
		return true
	}
	o.Follow, o.Previous, o.Timestamps = boolean("follow"), boolean("previous"), boolean("timestamps")
	o.InsecureSkipTLSVerifyBackend = boolean("insecureSkipTLSVerifyBackend")
	o.Container = q.Get("container")
	for key, dst := range map[string]**int64{"tailLines": &o.TailLines, "limitBytes": &o.LimitBytes, "sinceSeconds": &o.SinceSeconds} {
		if s := q.Get(key); s != "" {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			*dst = &n
		}
	}
	if s := q.Get("sinceTime"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, fmt.Errorf("sinceTime: %w", err)
		}
		mt := metav1.NewTime(t)
		o.SinceTime = &mt
	}
	if s := q.Get("stream"); s != "" {
		o.Stream = &s
	}
	return o, nil
}

// streamOptions are exec's and attach's query parameters, as upstream's
// remotecommand NewOptions: "1" or "true" turn a stream on; a tty merges
// stderr into stdout.
func streamOptions(q url.Values) (stdin, stdout, stderr, tty bool, err error) {
	on := func(key string) bool { b, _ := strconv.ParseBool(q.Get(key)); return b }
	// Upstream's names: input, output, error, tty (v1.Exec*Param).
	stdin, stdout, stderr, tty = on(v1.ExecStdinParam), on(v1.ExecStdoutParam), on(v1.ExecStderrParam), on(v1.ExecTTYParam)
	if tty && stderr {
		stderr = false
	}
	if !stdin && !stdout && !stderr {
		return false, false, false, false, errors.New("you must specify at least 1 of stdin, stdout, stderr")
	}
	return stdin, stdout, stderr, tty, nil
}

// runningContainerID is the ID of the pod's running container of that
// name, as upstream's findContainer reads the runtime.
func (k *Kubelet) runningContainerID(ctx context.Context, uid types.UID, name string) (string, error) {
	rp, err := readRuntimePod(ctx, k.cfg.Runtime, uid)
	if err != nil {
		return "", err
	}
	for _, c := range rp.Containers {
		if c.Name == name && c.State == stateRunning {
			return c.ID, nil
		}
	}
	return "", fmt.Errorf("container not found (%q)", name)
}

// streamPod is the pod a streaming request names (its UID too, when the
// path has one), or false after answering upstream's 404.
func (k *Kubelet) streamPod(w http.ResponseWriter, r *http.Request) (*v1.Pod, bool) {
	pod, ok := k.podByName(r.PathValue("ns"), r.PathValue("pod"))
	if !ok {
		http.Error(w, "pod does not exist", http.StatusNotFound)
		return nil, false
	}
	if uid := r.PathValue("uid"); uid != "" && types.UID(uid) != pod.UID {
		http.Error(w, "pod not found", http.StatusNotFound)
		return nil, false
	}
	return pod, true
}

func (k *Kubelet) serveStream(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		stdin, stdout, stderr, tty, err := streamOptions(q)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		pod, ok := k.streamPod(w, r)
		if !ok {
			return
		}
		ctx := r.Context()
		id, err := k.runningContainerID(ctx, pod.UID, r.PathValue("container"))
		if err != nil {
			writeStreamError(w, err)
			return
		}
		var raw string
		if kind == "exec" {
			resp, err := k.cfg.Runtime.Exec(ctx, &runtimeapi.ExecRequest{
				ContainerId: id, Cmd: q["command"], Tty: tty, Stdin: stdin, Stdout: stdout, Stderr: stderr,
			})
			if err != nil {
				writeStreamError(w, err)
				return
			}
			raw = resp.GetUrl()
		} else {
			resp, err := k.cfg.Runtime.Attach(ctx, &runtimeapi.AttachRequest{
				ContainerId: id, Tty: tty, Stdin: stdin, Stdout: stdout, Stderr: stderr,
			})
			if err != nil {
				writeStreamError(w, err)
				return
			}
			raw = resp.GetUrl()
		}
		k.proxyStream(w, r, raw)
	}
}

// portForwardPorts are the ports of a websocket port-forward's query;
// SPDY clients name them in stream headers instead, so none is fine.
func portForwardPorts(r *http.Request) ([]int32, error) {
	if !isWebSocketRequest(r) {
		return nil, nil
	}
	var ports []int32
	for _, s := range r.URL.Query()["port"] {
		p, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("unable to parse %q as a port: %v", s, err)
		}
		if p < 1 {
			return nil, fmt.Errorf("port %q must be > 0", s)
		}
		ports = append(ports, int32(p))
	}
	return ports, nil
}

func isWebSocketRequest(r *http.Request) bool {
	return strings.Contains(strings.ToLower(r.Header.Get("Connection")), "upgrade") &&
		strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

func (k *Kubelet) servePortForward(w http.ResponseWriter, r *http.Request) {
	ports, err := portForwardPorts(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	pod, ok := k.streamPod(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	rp, err := readRuntimePod(ctx, k.cfg.Runtime, pod.UID)
	if err != nil {
		writeStreamError(w, err)
		return
	}
	ready := rp.readySandboxes()
	if len(ready) == 0 {
		http.Error(w, fmt.Sprintf("pod not found (%q)", pod.Name), http.StatusNotFound)
		return
	}
	resp, err := k.cfg.Runtime.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: ready[0].ID, Port: ports})
	if err != nil {
		writeStreamError(w, err)
		return
	}
	k.proxyStream(w, r, resp.GetUrl())
}

// proxyStream hands the upgrade request to the runtime's streaming server
// at raw and copies the upgraded connection both ways.
func (k *Kubelet) proxyStream(w http.ResponseWriter, r *http.Request, raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		http.Error(w, fmt.Sprintf("runtime streaming URL %q: %v", raw, err), http.StatusInternalServerError)
		return
	}
	h := proxy.NewUpgradeAwareHandler(u, nil, false, true, streamResponder{k})
	h.ServeHTTP(w, r)
}

type streamResponder struct{ k *Kubelet }

func (s streamResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	s.k.log.Warn("streaming proxy failed", "err", err)
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

// writeStreamError answers a failed CRI streaming call as upstream's
// streaming.WriteError: NotFound 404, ResourceExhausted 429, else 500.
func writeStreamError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch status.Code(err) {
	case codes.NotFound:
		code = http.StatusNotFound
	case codes.ResourceExhausted:
		w.Header().Set("Retry-After", "60")
		code = http.StatusTooManyRequests
	}
	http.Error(w, err.Error(), code)
}
