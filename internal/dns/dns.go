// Package dns is the cluster DNS: a DNS server (github.com/miekg/dns)
// that answers the cluster domain from Services and EndpointSlices as the
// Kubernetes DNS specification says (what CoreDNS's kubernetes plugin
// does in upstream clusters), forwards every other name to the host's
// resolvers, and caches what it forwarded. It also keeps the Service
// kube-system/kube-dns (the fixed cluster IP pods' resolv.conf names)
// pointing at itself.
//
// The zone is pure (BuildZone, Zone.Answer); the server, the informers
// and the kube-dns objects are the I/O around it.
package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mdns "github.com/miekg/dns"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/informerrun"
)

// Component is the name in logs: the role upstream's CoreDNS pods play.
const Component = "coredns"

// Config configures a Server.
type Config struct {
	// Client reaches the API server. Required.
	Client kubernetes.Interface
	// Domain is the cluster domain. Default "cluster.local".
	Domain string
	// Listen is the UDP and TCP address to serve on ("ip:port").
	// Required.
	Listen string
	// ServiceIP, when valid, is the cluster IP of the Service
	// kube-system/kube-dns, which the server creates if missing and whose
	// endpoints it keeps at AdvertiseIP and Listen's port.
	ServiceIP   netip.Addr
	AdvertiseIP netip.Addr
	// Upstreams are the resolvers ("ip:port") other names are forwarded
	// to. Default: the nameservers of /etc/resolv.conf.
	Upstreams []string
	// CacheSize bounds the forwarded answers kept (default 10000), each
	// for its TTL but at most CacheTTL (default 30 s, CoreDNS's).
	CacheSize int
	CacheTTL  time.Duration
	// Clock is the server's time. Default the real clock.
	Clock clock.PassiveClock
	// Logger receives structured logs with component=coredns.
	Logger *slog.Logger
}

// Server is the cluster DNS component. Create it with New, then call Run
// once.
type Server struct {
	cfg       Config
	logger    *slog.Logger
	informers informers.SharedInformerFactory
	services  corelisters.ServiceLister
	slices    discoverylisters.EndpointSliceLister
	zone      atomic.Pointer[Zone]
	dirty     chan struct{}
	cache     *cache
	udp, tcp  *mdns.Client
	ready     atomic.Bool
	// forwarded and cached count queries (tests and benchmarks).
	forwarded, cached atomic.Int64
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Server, error) {
	if cfg.Client == nil {
		return nil, errors.New("dns: a Client is required")
	}
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return nil, fmt.Errorf("dns: listen address %q: %v", cfg.Listen, err)
	}
	if cfg.Domain == "" {
		cfg.Domain = "cluster.local"
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 10000
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Upstreams == nil {
		if rc, err := mdns.ClientConfigFromFile("/etc/resolv.conf"); err == nil {
			for _, s := range rc.Servers {
				cfg.Upstreams = append(cfg.Upstreams, net.JoinHostPort(s, rc.Port))
			}
		}
	}
	s := &Server{
		cfg:    cfg,
		logger: cfg.Logger.With("component", Component),
		dirty:  make(chan struct{}, 1),
		cache:  newCache(cfg.CacheSize, cfg.CacheTTL),
		udp:    &mdns.Client{Net: "udp", Timeout: 2 * time.Second},
		tcp:    &mdns.Client{Net: "tcp", Timeout: 2 * time.Second},
	}
	s.zone.Store(BuildZone(cfg.Domain, nil, nil))
	s.informers = informers.NewSharedInformerFactory(cfg.Client, 0)
	svc := s.informers.Core().V1().Services()
	eps := s.informers.Discovery().V1().EndpointSlices()
	s.services, s.slices = svc.Lister(), eps.Lister()
	mark := informerrun.Signal(s.dirty)
	for _, inf := range []toolscache.SharedIndexInformer{svc.Informer(), eps.Informer()} {
		if _, err := inf.AddEventHandler(mark); err != nil {
			return nil, fmt.Errorf("dns: %w", err)
		}
	}
	return s, nil
}

// Name is "coredns".
func (s *Server) Name() string { return Component }

// Ready reports whether the server answers from a synced zone.
func (s *Server) Ready() bool { return s.ready.Load() }

// Healthz asks the server its own zone's SOA over UDP, as a client would:
// it fails when the listener does not answer.
func (s *Server) Healthz(ctx context.Context) error {
	q := new(mdns.Msg)
	q.SetQuestion(mdns.Fqdn(s.cfg.Domain), mdns.TypeSOA)
	r, _, err := s.udp.ExchangeContext(ctx, q, s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("dns: %w", err)
	}
	if r.Rcode != mdns.RcodeSuccess {
		return fmt.Errorf("dns: %s. SOA answered %s", s.cfg.Domain, mdns.RcodeToString[r.Rcode])
	}
	return nil
}

// Run serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	udp, err := net.ListenPacket("udp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("dns: %w", err)
	}
	tcp, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		udp.Close()
		return fmt.Errorf("dns: %w", err)
	}
	handler := mdns.HandlerFunc(s.serveDNS)
	servers := []*mdns.Server{
		{PacketConn: udp, Handler: handler},
		{Listener: tcp, Handler: handler},
	}
	errs := make(chan error, len(servers))
	var wg sync.WaitGroup
	for _, srv := range servers {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- srv.ActivateAndServe() }()
	}
	defer func() {
		for _, srv := range servers {
			_ = srv.Shutdown()
		}
		wg.Wait()
	}()

	stop, err := informerrun.Start(ctx, s.informers)
	defer stop()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("dns: %w", err)
	}
	s.rebuild()
	if s.cfg.ServiceIP.IsValid() {
		// The API server may still be settling: retry, with back-off,
		// rather than stop the whole process over one failed call.
		err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: 100 * time.Millisecond, Factor: 2, Steps: 12, Cap: 10 * time.Second},
			func(ctx context.Context) (bool, error) {
				if err := s.ensureService(ctx); err != nil {
					s.logger.Warn("keeping kube-dns pointing here", "err", err)
					return false, nil
				}
				return true, nil
			})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("dns: kube-dns could not be kept pointing here: %w", err)
		}
	}
	s.ready.Store(true)
	s.logger.Info("serving", "listen", s.cfg.Listen, "domain", s.cfg.Domain, "upstreams", s.cfg.Upstreams)
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errs:
			return fmt.Errorf("dns: %w", err)
		case <-s.dirty:
			s.rebuild()
			// Bursts of changes (a rollout) rebuild once per 100 ms.
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
}

func (s *Server) rebuild() {
	svcs, err1 := s.services.List(labels.Everything())
	slices, err2 := s.slices.List(labels.Everything())
	if err := errors.Join(err1, err2); err != nil {
		s.logger.Error("listing for the zone", "err", err)
		return
	}
	s.zone.Store(BuildZone(s.cfg.Domain, svcs, slices))
}

// serveDNS answers one query: the cluster zone authoritatively, anything
// else from the cache or the upstream resolvers.
func (s *Server) serveDNS(w mdns.ResponseWriter, req *mdns.Msg) {
	if len(req.Question) != 1 {
		m := new(mdns.Msg)
		m.SetRcode(req, mdns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	z := s.zone.Load()
	if q.Qclass == mdns.ClassINET && z.InZone(q.Name) {
		m := new(mdns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		rcode, answer, ns := z.Answer(q)
		m.Rcode, m.Answer, m.Ns = rcode, answer, ns
		s.write(w, req, m)
		return
	}
	s.forward(w, req)
}

func (s *Server) forward(w mdns.ResponseWriter, req *mdns.Msg) {
	q := req.Question[0]
	opt := req.IsEdns0()
	key := cacheKey{name: strings.ToLower(q.Name), qtype: q.Qtype, qclass: q.Qclass, do: opt != nil && opt.Do()}
	now := s.cfg.Clock.Now()
	if m := s.cache.get(key, now); m != nil {
		s.cached.Add(1)
		m.Id = req.Id
		s.write(w, req, m)
		return
	}
	s.forwarded.Add(1)
	var resp *mdns.Msg
	var err error
	for _, up := range s.cfg.Upstreams {
		resp, _, err = s.udp.Exchange(req, up)
		if err == nil && resp.Truncated {
			resp, _, err = s.tcp.Exchange(req, up)
		}
		if err == nil {
			break
		}
		resp = nil // a message that came with an error is not an answer
	}
	if resp == nil {
		if err == nil {
			err = errors.New("no upstream resolvers")
		}
		s.logger.Debug("forwarding failed", "name", q.Name, "err", err)
		m := new(mdns.Msg)
		m.SetRcode(req, mdns.RcodeServerFailure)
		_ = w.WriteMsg(m)
		return
	}
	s.cache.put(key, resp, now)
	s.write(w, req, resp)
}

// write sends m, truncated to what the client can take over UDP.
func (s *Server) write(w mdns.ResponseWriter, req *mdns.Msg, m *mdns.Msg) {
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := mdns.MinMsgSize
		if o := req.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		m.Truncate(size)
	}
	if err := w.WriteMsg(m); err != nil {
		s.logger.Debug("writing an answer", "err", err)
	}
}

// Stats are the counts of forwarded queries and of queries answered from
// the cache.
func (s *Server) Stats() (forwarded, cached int64) { return s.forwarded.Load(), s.cached.Load() }
