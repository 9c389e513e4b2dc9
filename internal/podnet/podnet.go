// Package podnet is the pod network across nodes, host-gw style (as
// flannel's host-gw backend): every node routes each other node's pod
// CIDR to that node's InternalIP (or to the gateway towards it), and
// masquerades only its pods' traffic that leaves the cluster CIDR, so
// pods reach each other by their own IPs. Each node's pods sit on the
// CNI bridge of its supervised containerd; this component only adds the
// routes and rules between nodes. The decisions are pure (plan.go); the
// kernel is behind the Kernel interface (kernel.go).
package podnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/informerrun"
)

// Component is the name in logs.
const Component = "pod-network"

// Config configures a PodNetwork.
type Config struct {
	// Client reaches the API server. Required.
	Client kubernetes.Interface
	// NodeName is this node: its own pod CIDR is its bridge's, not
	// routed. Required.
	NodeName string
	// ClusterCIDR is the pods' range (--cluster-cidr): traffic from it to
	// outside it is masqueraded. Required.
	ClusterCIDR netip.Prefix
	// Kernel holds the routes and rules. Default: this host's
	// (NewKernel(nil, nil)).
	Kernel Kernel
	// ResyncPeriod is how often routes and rules are checked and mended
	// even when no node changed (a route someone deleted comes back).
	// Default 30 s.
	ResyncPeriod time.Duration
	// Sysctls, when true, sets net.ipv4.ip_forward=1 at start: nodes
	// forward pod traffic.
	Sysctls bool
	// Clock is the component's time. Default the real clock.
	Clock clock.WithTicker
	// Logger receives structured logs with component=pod-network.
	Logger *slog.Logger
}

// PodNetwork is the component. Create it with New, then call Run once.
type PodNetwork struct {
	cfg       Config
	logger    *slog.Logger
	informers informers.SharedInformerFactory
	nodes     corelisters.NodeLister
	changed   chan struct{}
	health    informerrun.Health
	syncs     atomic.Int64
	// ownKernel is true when New opened the Kernel: Run closes it.
	ownKernel bool
	// Verdicts logged, so that each is logged when it changes rather
	// than at every resync: why each peer is not routed, the pod CIDRs
	// someone else routes, and the gateway each peer is reached through.
	// Only Run's goroutine touches them.
	unroutable map[string]string
	conflicts  map[netip.Prefix]bool
	gateways   map[string]netip.Addr
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*PodNetwork, error) {
	if cfg.Client == nil {
		return nil, errors.New("podnet: a Client is required")
	}
	if cfg.NodeName == "" {
		return nil, errors.New("podnet: a NodeName is required")
	}
	if !cfg.ClusterCIDR.IsValid() || !cfg.ClusterCIDR.Addr().Is4() {
		return nil, fmt.Errorf("podnet: an IPv4 ClusterCIDR is required, not %q", cfg.ClusterCIDR)
	}
	cfg.ClusterCIDR = cfg.ClusterCIDR.Masked()
	ownKernel := cfg.Kernel == nil
	if ownKernel {
		k, err := NewKernel(nil, nil)
		if err != nil {
			return nil, fmt.Errorf("podnet: %w", err)
		}
		cfg.Kernel = k
	}
	if cfg.ResyncPeriod <= 0 {
		cfg.ResyncPeriod = 30 * time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &PodNetwork{
		cfg:        cfg,
		logger:     cfg.Logger.With("component", Component, "node", cfg.NodeName),
		informers:  informers.NewSharedInformerFactory(cfg.Client, 0),
		changed:    make(chan struct{}, 1),
		ownKernel:  ownKernel,
		unroutable: map[string]string{}, conflicts: map[netip.Prefix]bool{}, gateways: map[string]netip.Addr{},
	}
	nodes := p.informers.Core().V1().Nodes()
	p.nodes = nodes.Lister()
	// Only changes to what is routed wake a sync: with many nodes,
	// status updates would otherwise keep it busy.
	handler := informerrun.Signal(p.changed)
	update := handler.UpdateFunc
	handler.UpdateFunc = func(old, cur any) {
		o, ok1 := old.(*v1.Node)
		c, ok2 := cur.(*v1.Node)
		if !ok1 || !ok2 || RoutingChanged(o, c) {
			update(old, cur)
		}
	}
	if _, err := nodes.Informer().AddEventHandler(handler); err != nil {
		return nil, fmt.Errorf("podnet: %w", err)
	}
	return p, nil
}

// Name is "pod-network".
func (p *PodNetwork) Name() string { return Component }

// Ready reports whether the first sync has been applied.
func (p *PodNetwork) Ready() bool { return p.health.Ready() }

// Healthz fails while the routes and rules are not in force: before the
// first sync and while syncs fail (as the proxy's).
func (p *PodNetwork) Healthz(context.Context) error { return p.health.Check("podnet") }

// Syncs counts the syncs applied so far (tests wait on it).
func (p *PodNetwork) Syncs() int64 { return p.syncs.Load() }

// Run syncs until ctx ends. Routes and rules stay when it returns, so
// pods keep reaching each other while it restarts; Cleanup removes them.
// A Kernel New opened is closed when Run returns.
func (p *PodNetwork) Run(ctx context.Context) error {
	if p.ownKernel {
		defer p.cfg.Kernel.Close()
	}
	if p.cfg.Sysctls {
		if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
			p.logger.Warn("cannot turn on IPv4 forwarding; pods on other nodes are unreachable", "err", err)
		}
	}
	return informerrun.Loop{
		Clock: p.cfg.Clock, Changed: p.changed, Period: p.cfg.ResyncPeriod, MinPeriod: time.Second,
		Sync: func(ctx context.Context, _ bool) error { return p.sync(ctx) },
		Failed: func(err error, retry time.Duration) {
			p.health.Failed(err)
			p.logger.Error("sync failed", "err", err, "retryIn", retry)
		},
	}.RunInformers(ctx, p.informers, "podnet")
}

// sync makes the kernel's routes and rules match the nodes in the cache.
// A peer that cannot be routed (no route to its address) is logged and
// left out, as is a pod CIDR someone else routes; neither fails the sync.
func (p *PodNetwork) sync(ctx context.Context) error {
	start := p.cfg.Clock.Now()
	nodes, err := p.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	peers, skipped := Peers(nodes, p.cfg.NodeName)
	for name, why := range skipped {
		p.logger.Debug("node not routed", "peer", name, "reason", why)
	}
	hops := map[netip.Addr]Hop{}
	unroutable := map[string]string{}
	gateways := map[string]netip.Addr{}
	for _, peer := range peers {
		hop, done := hops[peer.IP]
		if !done {
			l, err := p.cfg.Kernel.Lookup(peer.IP)
			if err == nil {
				hop, err = NextHop(peer.IP, l)
			}
			if err != nil {
				unroutable[peer.Name] = err.Error()
				continue
			}
			hops[peer.IP] = hop
		}
		if hop.Via != peer.IP {
			gateways[peer.Name] = hop.Via
		}
	}
	ours, foreign, err := p.cfg.Kernel.Routes()
	if err != nil {
		return err
	}
	plan := Diff(Desired(peers, hops), ours, foreign)
	var errs []error
	for _, r := range plan.Delete {
		if err := p.cfg.Kernel.DeleteRoute(r); err != nil {
			errs = append(errs, err)
		} else {
			p.logger.Info("route deleted", "route", r.String())
		}
	}
	for _, r := range plan.Add {
		switch err := p.cfg.Kernel.AddRoute(r); {
		case errors.Is(err, ErrRouteExists):
			plan.Conflicts = append(plan.Conflicts, r.Dst) // made since the listing
		case err != nil:
			errs = append(errs, err)
		default:
			p.logger.Info("route added", "route", r.String())
		}
	}
	for _, r := range plan.Change {
		if err := p.cfg.Kernel.ChangeRoute(r); err != nil {
			errs = append(errs, err)
		} else {
			p.logger.Info("route changed", "route", r.String())
		}
	}
	p.logVerdicts(unroutable, gateways, plan.Conflicts)
	errs = append(errs, p.cfg.Kernel.EnsureRules(ctx, p.cfg.ClusterCIDR))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	p.syncs.Add(1)
	p.health.Synced()
	p.logger.Debug("synced", "peers", len(peers), "added", len(plan.Add), "changed", len(plan.Change),
		"deleted", len(plan.Delete), "took", p.cfg.Clock.Since(start))
	return nil
}

// logVerdicts logs what changed since the last sync among the peers that
// cannot be routed, the peers reached through a gateway and the pod
// CIDRs someone else routes, and remembers them.
func (p *PodNetwork) logVerdicts(unroutable map[string]string, gateways map[string]netip.Addr, conflicts []netip.Prefix) {
	for name, why := range unroutable {
		if p.unroutable[name] != why {
			p.logger.Warn("node not routed", "peer", name, "err", why)
		}
	}
	for name := range p.unroutable {
		if _, ok := unroutable[name]; !ok {
			p.logger.Info("node routable again", "peer", name)
		}
	}
	p.unroutable = unroutable
	for name, gw := range gateways {
		if p.gateways[name] != gw {
			p.logger.Warn("node not on-link: its pod CIDR is sent to a gateway, and the routers between must route it on to the node",
				"peer", name, "gateway", gw)
		}
	}
	p.gateways = gateways
	now := map[netip.Prefix]bool{}
	for _, dst := range conflicts {
		now[dst] = true
		if !p.conflicts[dst] {
			p.logger.Warn("pod CIDR already routed by someone else; left alone", "podCIDR", dst)
		}
	}
	for dst := range p.conflicts {
		if !now[dst] {
			p.logger.Info("pod CIDR no longer routed by someone else", "podCIDR", dst)
		}
	}
	p.conflicts = now
}

// Cleanup removes every route and rule the pod network made on this host
// (`skiff podnet --cleanup`).
func Cleanup(ctx context.Context) error {
	k, err := NewKernel(nil, nil)
	if err != nil {
		return err
	}
	defer k.Close()
	return k.Cleanup(ctx)
}
