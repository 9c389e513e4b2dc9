package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/component"
	"github.com/skiff-sh/skiff/internal/controlplane"
)

// controlPlane is etcd and the API server running in this process,
// wired as `skiff server` wires them.
type controlPlane struct {
	cfg    *controlplane.Config
	etcd   *controlplane.Etcd
	rest   *rest.Config
	cancel context.CancelFunc
	done   chan error
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ports[i] = p
	}
	return ports, nil
}

// startControlPlane starts embedded etcd and the API server on free ports
// with their data in dir, and waits until the API server serves. Its
// goroutines carry the pprof label skiff=server.
func startControlPlane(ctx context.Context, dir string, logger *slog.Logger) (*controlPlane, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	_, svc, _ := net.ParseCIDR("10.43.0.0/16")
	cfg := &controlplane.Config{
		DataDir: dir, BindAddress: "127.0.0.1", APIPort: ports[0],
		AdvertiseAddress: net.IPv4(127, 0, 0, 1), ServiceCIDR: svc, ClusterDomain: "cluster.local",
		EtcdClientURL:      fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		EtcdPeerURL:        fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
		CompactionInterval: 5 * time.Minute,
		Logger:             logger,
		Version:            version.Info{Major: "1", Minor: "37", GitVersion: "v1.37.2+skiff", GoVersion: runtime.Version()},
	}
	etcd := controlplane.NewEtcd(cfg)
	api := controlplane.NewAPIServer(cfg, etcd)
	m := &component.Manager{Logger: logger, ReadyTimeout: 2 * time.Minute}
	m.Add(etcd)
	m.Add(api)
	runCtx, cancel := context.WithCancel(context.Background())
	cp := &controlPlane{cfg: cfg, etcd: etcd, cancel: cancel, done: make(chan error, 1)}
	pprof.Do(runCtx, pprof.Labels("skiff", "server"), func(runCtx context.Context) {
		go func() { cp.done <- m.Run(runCtx) }()
	})
	for !api.Ready() {
		select {
		case err := <-cp.done:
			cancel()
			if err == nil {
				err = errors.New("stopped before it was ready")
			}
			return nil, fmt.Errorf("control plane: %w", err)
		case <-ctx.Done():
			cp.stop()
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	rc, err := clientcmd.BuildConfigFromFlags("", cfg.KubeconfigPath())
	if err != nil {
		cp.stop()
		return nil, err
	}
	rc.Host = fmt.Sprintf("https://127.0.0.1:%d", cfg.APIPort)
	rc.QPS, rc.Burst = -1, 0
	rc.Timeout = 0
	cp.rest = rc
	return cp, nil
}

// etcdClient is the client the API server itself uses.
func (cp *controlPlane) etcdClient() *clientv3.Client { return cp.etcd.Client() }

// compact drops etcd's history up to the current revision.
func (cp *controlPlane) compact(ctx context.Context) error {
	c := cp.etcdClient()
	resp, err := c.Get(ctx, "/registry/", clientv3.WithCountOnly(), clientv3.WithPrefix())
	if err != nil {
		return err
	}
	_, err = c.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical())
	return err
}

// defragment rewrites etcd's bbolt file without the pages compaction
// freed. The embedded member is reached on its client URL: the in-process
// client has no endpoint to name.
func (cp *controlPlane) defragment(ctx context.Context) error {
	c, err := clientv3.New(clientv3.Config{Endpoints: []string{cp.cfg.EtcdClientURL}, DialTimeout: 10 * time.Second, Context: ctx})
	if err != nil {
		return err
	}
	defer c.Close()
	_, err = c.Defragment(ctx, cp.cfg.EtcdClientURL)
	return err
}

func (cp *controlPlane) stop() {
	if cp.cancel == nil {
		return
	}
	cp.cancel()
	<-cp.done
	cp.cancel = nil
}

// client is one client-go clientset and the HTTP client under it.
type client struct {
	kubernetes.Interface
	http *http.Client
}

// newClient returns a typed clientset; with json it speaks JSON instead of
// client-go's default protobuf. Unless shared, it has a connection of its
// own: client-go caches transports by TLS config, and a non-nil Proxy
// function opts out of that cache.
func (cp *controlPlane) newClient(shared, json bool) (*client, error) {
	rc := rest.CopyConfig(cp.rest)
	if json {
		rc.ContentType = "application/json"
		rc.AcceptContentTypes = "application/json"
	}
	if !shared {
		rc.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	}
	hc, err := rest.HTTPClientFor(rc)
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfigAndClient(rc, hc)
	if err != nil {
		return nil, err
	}
	return &client{Interface: cs, http: hc}, nil
}

func (c *client) close() { c.http.CloseIdleConnections() }
