// Package testserver starts a real Skiff control plane (embedded etcd and
// the API server, wired as `skiff server` wires them) inside a test
// process: the one way tests get a cluster. It is for tests only.
package testserver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/component"
	"github.com/skiff-sh/skiff/internal/controlplane"
)

// Options tune a test server; zero values are fine.
type Options struct {
	// DataDir reuses a data dir (e.g. to restart); default a new temp dir.
	DataDir string
	// CompactionInterval shortens etcd history for 410 tests.
	CompactionInterval time.Duration
	// EtcdServers points at an external etcd instead of the embedded one.
	EtcdServers []string
	// TokenAuthFile enables static bearer tokens.
	TokenAuthFile string
	// Logs, when set, receives the server's logs (default: discarded,
	// unless SKIFF_TEST_LOGS=1).
	Logs io.Writer
}

// Server is a running control plane.
type Server struct {
	// Config is an admin client config (user skiff-admin, system:masters).
	Config *rest.Config
	// Kubeconfig is the admin kubeconfig's path, for kubectl.
	Kubeconfig string
	// DataDir is where everything lives.
	DataDir string
	// Port is the API server's port.
	Port int

	opts   Options
	cancel context.CancelFunc
	done   chan error
}

// FreePort returns a TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts a control plane and waits until it serves. It stops when
// the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	s := &Server{opts: opts, DataDir: opts.DataDir}
	s.start(t)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	if s.Port == 0 {
		s.Port = FreePort(t)
	}
	logs := s.opts.Logs
	if logs == nil {
		logs = io.Discard
		if os.Getenv("SKIFF_TEST_LOGS") == "1" {
			logs = os.Stderr
		}
	}
	_, svc, _ := net.ParseCIDR("10.43.0.0/16")
	cfg := &controlplane.Config{
		DataDir: s.DataDir, BindAddress: "127.0.0.1", APIPort: s.Port,
		ServiceCIDR: svc, ClusterDomain: "cluster.local",
		EtcdServers:   s.opts.EtcdServers,
		EtcdClientURL: fmt.Sprintf("http://127.0.0.1:%d", FreePort(t)),
		EtcdPeerURL:   fmt.Sprintf("http://127.0.0.1:%d", FreePort(t)),
		TokenAuthFile: s.opts.TokenAuthFile, CompactionInterval: s.opts.CompactionInterval,
		LogRequests: true,
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Version:     version.Info{Major: "1", Minor: "37", GitVersion: "v1.37.2+skiff"},
	}
	etcd := controlplane.NewEtcd(cfg)
	api := controlplane.NewAPIServer(cfg, etcd)
	m := &component.Manager{Logger: cfg.Logger, ReadyTimeout: time.Minute}
	m.Add(etcd)
	m.Add(api)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done = make(chan error, 1)
	go func() { s.done <- m.Run(ctx) }()
	deadline := time.Now().Add(time.Minute)
	for !api.Ready() {
		select {
		case err := <-s.done:
			t.Fatalf("test server did not start: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("test server not ready in a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.Kubeconfig = filepath.Join(s.DataDir, "admin.kubeconfig")
	rc, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	// The kubeconfig names the port of the first start; a restart keeps it.
	rc.Host = fmt.Sprintf("https://127.0.0.1:%d", s.Port)
	rc.QPS, rc.Burst = -1, 0
	s.Config = rc
}

// Stop stops the control plane; etcd's data stays in DataDir.
func (s *Server) Stop() {
	if s.cancel == nil {
		return
	}
	s.cancel()
	<-s.done
	s.cancel = nil
}

// Restart stops and starts the server on the same data dir and port.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.start(t)
}

// Client is a typed clientset for the admin user.
func (s *Server) Client(t testing.TB) kubernetes.Interface {
	t.Helper()
	c, err := kubernetes.NewForConfig(s.Config)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
