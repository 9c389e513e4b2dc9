// Package apiserver is Skiff's Kubernetes API server: the one entry point
// of the cluster. It authenticates and authorizes each request, decodes,
// defaults and validates objects of the k8s.io/api types, and keeps them in
// etcd through internal/storage. Every other component talks only to it.
package apiserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/storage"
)

// Config configures an API server. Zero values take upstream's defaults.
type Config struct {
	// Store holds the objects; required.
	Store *storage.Store
	// BindAddress is the address to listen on; default 0.0.0.0.
	BindAddress string
	// Port is the HTTPS port; default 6443. 0 after defaulting is never
	// used: tests pass a listener through Listener instead.
	Port int
	// Listener, when set, is used instead of BindAddress:Port.
	Listener net.Listener
	// CertFile and KeyFile are the serving certificate; required.
	CertFile, KeyFile string
	// ClientCA verifies client certificates; nil disables x509 auth.
	ClientCA *x509.CertPool
	// Authenticator identifies callers; anonymous callers get 401 except
	// on the health and version paths.
	Authenticator auth.Authenticator
	// Authorizer decides what an identified caller may do.
	Authorizer auth.Authorizer
	// ServiceCIDR is where ClusterIPs come from; default 10.43.0.0/16.
	ServiceCIDR *net.IPNet
	// NodePortBase and NodePortSize are the NodePort range; default 30000+2768.
	NodePortBase, NodePortSize int
	// AdvertiseAddress is the address other components reach this server
	// on, written into the kubernetes Endpoints; default the first host IP.
	AdvertiseAddress net.IP
	// CompactionInterval is how much history is kept; default 5 minutes.
	CompactionInterval time.Duration
	// Clock is the time source; default the real clock.
	Clock clock.PassiveClock
	// Logger gets structured logs; default slog.Default().
	Logger *slog.Logger
	// LogRequests logs one line per request (verb, resource, user, code,
	// latency).
	LogRequests bool
	// Version is what /version reports.
	Version version.Info
	// KubeletClientCertFile and KubeletClientKeyFile are the client
	// certificate presented to kubelets (logs, exec, attach, port-forward,
	// node proxy, metrics). Empty: kubelets are called without one.
	KubeletClientCertFile, KubeletClientKeyFile string
	// KubeletPreferredAddressTypes orders the node address types tried to
	// reach a kubelet; default InternalIP, ExternalIP, Hostname.
	KubeletPreferredAddressTypes []corev1.NodeAddressType
	// KubeletPort is used for nodes that report no kubelet port; default
	// 10250.
	KubeletPort int
	// MetricsResolution is how long a kubelet's metrics scrape is reused
	// by metrics.k8s.io; default 15s, as metrics-server.
	MetricsResolution time.Duration
}

func (c *Config) setDefaults() error {
	if c.Store == nil {
		return errors.New("apiserver: Store is required")
	}
	if c.CertFile == "" || c.KeyFile == "" {
		return errors.New("apiserver: CertFile and KeyFile are required")
	}
	if c.Port == 0 {
		c.Port = 6443
	}
	if c.ServiceCIDR == nil {
		_, c.ServiceCIDR, _ = net.ParseCIDR("10.43.0.0/16")
	}
	if c.NodePortBase == 0 {
		c.NodePortBase, c.NodePortSize = 30000, 2768
	}
	if c.CompactionInterval == 0 {
		c.CompactionInterval = 5 * time.Minute
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Logger = c.Logger.With("component", "apiserver")
	if c.Authorizer == nil {
		c.Authorizer = auth.NewMastersAuthorizer()
	}
	if len(c.KubeletPreferredAddressTypes) == 0 {
		c.KubeletPreferredAddressTypes = defaultKubeletAddressTypes
	}
	if c.KubeletPort == 0 {
		c.KubeletPort = 10250
	}
	if c.MetricsResolution == 0 {
		c.MetricsResolution = 15 * time.Second
	}
	return nil
}

// Server serves the Kubernetes API.
type Server struct {
	cfg       Config
	store     *storage.Store
	resources *resourceTable
	ext       *extensions
	wire      *wire
	// namespaces and priorityClasses feed admission without an etcd read
	// per write.
	namespaces      *objectCache
	priorityClasses *objectCache
	metrics         *metrics
	ready           atomic.Bool
	handler         http.Handler
	// watchesDone ends every open watch when the server shuts down, so
	// that shutdown does not wait for them and they end cleanly instead of
	// failing when etcd goes.
	watchesDone context.Context
	// watches fans one etcd watch per resource out to every client.
	watches    *watchHub
	endWatches context.CancelFunc
	// kubelets reaches kubelets for the streaming subresources and
	// metrics; kubeletMetrics serves metrics.k8s.io.
	kubelets       *kubeletClient
	kubeletMetrics *kubeletMetrics
}

// New builds a server from cfg. It does not listen until Run.
func New(cfg Config) (*Server, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, store: cfg.Store, metrics: newMetrics(), wire: newWire()}
	s.watchesDone, s.endWatches = context.WithCancel(context.Background())
	s.watches = newWatchHub(s.watchesDone, s.store, s.cfg.Logger)
	s.resources = newResourceTable(servedResources())
	s.namespaces = newObjectCache(s, s.resources.lookup("", "v1", "namespaces"))
	s.priorityClasses = newObjectCache(s, s.resources.lookup("scheduling.k8s.io", "v1", "priorityclasses"))
	ext, err := newExtensions(s)
	if err != nil {
		return nil, err
	}
	s.ext = ext
	// Metrics are served from kubelets, not etcd: they join discovery but
	// not the OpenAPI documents or validation built above.
	s.resources.add(metricsResources()...)
	if s.kubelets, err = newKubeletClient(&s.cfg); err != nil {
		return nil, err
	}
	s.kubeletMetrics = newKubeletMetrics(s)
	s.handler = s.buildHandler()
	return s, nil
}

// Handler is the whole request chain, for tests that serve it themselves.
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves until ctx ends, then shuts down gracefully.
func (s *Server) Run(ctx context.Context) error {
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(s.cfg.BindAddress, strconv.Itoa(s.cfg.Port)))
		if err != nil {
			return fmt.Errorf("apiserver: %w", err)
		}
	}
	cert, err := tls.LoadX509KeyPair(s.cfg.CertFile, s.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("apiserver: serving certificate: %w", err)
	}
	tlsCfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	if s.cfg.ClientCA != nil {
		tlsCfg.ClientCAs = s.cfg.ClientCA
		tlsCfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	srv := &http.Server{
		Handler:           s.handler,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
	}
	if err := s.bootstrap(ctx); err != nil {
		ln.Close()
		return err
	}
	compactor := storage.NewCompactor(s.store, storage.CompactorConfig{Interval: s.cfg.CompactionInterval, Logger: s.cfg.Logger})
	go func() { _ = compactor.Run(ctx) }()
	go s.namespaces.run(ctx)
	go s.priorityClasses.run(ctx)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(ln, tlsCfg)) }()
	s.ready.Store(true)
	s.cfg.Logger.Info("serving", "address", ln.Addr().String())
	select {
	case err := <-errc:
		return fmt.Errorf("apiserver: %w", err)
	case <-ctx.Done():
	}
	s.ready.Store(false)
	s.endWatches()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	return nil
}

// Ready reports whether the server is serving.
func (s *Server) Ready() bool { return s.ready.Load() }

func (s *Server) buildHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", s.serveHealth)
	mux.HandleFunc("/livez", s.serveHealth)
	mux.HandleFunc("/readyz", s.serveHealth)
	mux.HandleFunc("/healthz/", s.serveHealth)
	mux.HandleFunc("/livez/", s.serveHealth)
	mux.HandleFunc("/readyz/", s.serveHealth)
	mux.HandleFunc("/version", s.serveVersion)
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	if s.ext.openapi != nil {
		mux.Handle("/openapi/", s.ext.openapi)
	}
	mux.HandleFunc("/api", s.serveAPI)
	mux.HandleFunc("/api/", s.serveAPI)
	mux.HandleFunc("/apis", s.serveAPI)
	mux.HandleFunc("/apis/", s.serveAPI)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			s.serveRootPaths(w, r)
			return
		}
		writeError(w, notFoundPath())
	})
	return s.withRecovery(s.withObservability(s.withAuth(mux)))
}
