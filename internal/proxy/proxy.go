// Package proxy is `skiff proxy`, the node's kube-proxy: it watches
// Services and EndpointSlices and keeps the kernel's packet rules
// implementing them (cluster IPs, node ports, external IPs), through a
// Backend. The decision of what to implement is pure (package model); the
// rules are the backend's (package nftables, the default, or iptables).
// After each sync it deletes the UDP and SCTP conntrack entries the new
// rules leave stale (package conntrack); full syncs re-check every such
// service port.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/informerrun"
	"github.com/skiff-sh/skiff/internal/proxy/conntrack"
	"github.com/skiff-sh/skiff/internal/proxy/iptables"
	"github.com/skiff-sh/skiff/internal/proxy/model"
	"github.com/skiff-sh/skiff/internal/proxy/nftables"
)

// Modes are the backends by upstream's --proxy-mode names.
const (
	ModeNFTables = "nftables"
	ModeIPTables = "iptables"
)

// NewBackend returns the backend of a --proxy-mode on this host.
func NewBackend(mode string, clusterCIDR netip.Prefix) (Backend, error) {
	need := map[string]string{ModeNFTables: "nft", ModeIPTables: "iptables-restore"}[mode]
	if need == "" {
		return nil, fmt.Errorf("proxy mode %q: want nftables or iptables", mode)
	}
	if _, err := exec.LookPath(need); err != nil {
		return nil, fmt.Errorf("proxy mode %s needs the %s command (Debian package %s): %w", mode, need, mode, err)
	}
	if mode == ModeIPTables {
		return iptables.NewBackend(iptables.Options{ClusterCIDR: clusterCIDR}, nil), nil
	}
	return nftables.NewBackend(nftables.Options{ClusterCIDR: clusterCIDR}, nil), nil
}

// Cleanup removes the rules of every backend from this host (upstream's
// kube-proxy --cleanup does too): a node that changed modes keeps none.
func Cleanup(ctx context.Context) error {
	return errors.Join(
		nftables.NewBackend(nftables.Options{}, nil).Cleanup(ctx),
		iptables.NewBackend(iptables.Options{}, nil).Cleanup(ctx))
}

// Component is the name in logs.
const Component = "kube-proxy"

// Backend programs the kernel. Sync makes the kernel implement snap; full
// asks it to rewrite everything and remove leftovers rather than only what
// changed since its last successful Sync. Cleanup removes everything the
// backend ever wrote.
type Backend interface {
	Name() string
	Sync(ctx context.Context, snap *model.Snapshot, full bool) (model.SyncResult, error)
	Cleanup(ctx context.Context) error
}

// Config configures a Proxy.
type Config struct {
	// Client reaches the API server. Required.
	Client kubernetes.Interface
	// NodeName is this node's name: endpoints on it are local (the Local
	// traffic policies). Required.
	NodeName string
	// ClusterCIDR is the pods' range (--cluster-cidr): traffic to a
	// cluster IP from outside it is masqueraded. Zero means masquerade
	// all of it.
	ClusterCIDR netip.Prefix
	// Backend programs the kernel. Default: nftables on this host.
	Backend Backend
	// Conntrack deletes the UDP and SCTP conntrack entries a sync left
	// stale (package conntrack). Default: netlink on this host.
	Conntrack conntrack.Deleter
	// SyncPeriod is how often everything is rewritten even when nothing
	// changed (upstream's --iptables-sync-period, 30 s).
	SyncPeriod time.Duration
	// MinSyncPeriod is the least time between two syncs; changes within
	// it are applied together (upstream's --iptables-min-sync-period, 1 s).
	MinSyncPeriod time.Duration
	// Sysctls, when true, sets what the rules need from the kernel:
	// net.ipv4.ip_forward=1, net.ipv4.conf.all.route_localnet=1 (node
	// ports on 127.0.0.1) and net.bridge.bridge-nf-call-iptables=1 (pods
	// on one bridge reaching each other through a cluster IP).
	Sysctls bool
	// Clock is the proxy's time. Default the real clock.
	Clock clock.WithTicker
	// Logger receives structured logs with component=kube-proxy.
	Logger *slog.Logger
}

// Proxy is the proxy component. Create it with New, then call Run once.
type Proxy struct {
	cfg       Config
	logger    *slog.Logger
	informers informers.SharedInformerFactory
	services  corelisters.ServiceLister
	slices    discoverylisters.EndpointSliceLister
	changed   chan struct{}
	health    informerrun.Health
	syncs     atomic.Int64
	fullSyncs atomic.Int64
	// applied is the snapshot whose rules the kernel's conntrack entries
	// were last cleaned against: the one in force, or an older one when
	// the clean-up after the last sync failed (recheckConntrack is set
	// then: the next looks at every flow). conntrackErr is the last
	// clean-up's error, "" after one that worked (logged when it
	// changes). Only Run's goroutine touches them.
	applied          *model.Snapshot
	recheckConntrack bool
	conntrackErr     string
	// cleanupErr is the backend's last CleanupErr, logged when it
	// changes.
	cleanupErr string
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Proxy, error) {
	if cfg.Client == nil {
		return nil, errors.New("proxy: a Client is required")
	}
	if cfg.NodeName == "" {
		return nil, errors.New("proxy: a NodeName is required")
	}
	if cfg.Backend == nil {
		b, err := NewBackend(ModeNFTables, cfg.ClusterCIDR)
		if err != nil {
			return nil, err
		}
		cfg.Backend = b
	}
	if cfg.Conntrack == nil {
		cfg.Conntrack = conntrack.Netlink{}
	}
	if cfg.SyncPeriod <= 0 {
		cfg.SyncPeriod = 30 * time.Second
	}
	if cfg.MinSyncPeriod < 0 {
		cfg.MinSyncPeriod = 0
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{
		cfg:     cfg,
		logger:  cfg.Logger.With("component", Component, "backend", cfg.Backend.Name()),
		changed: make(chan struct{}, 1),
	}
	// As upstream: Services another proxy implements, and the slices of
	// headless Services, are not this proxy's.
	noProxyName, _ := labels.NewRequirement("service.kubernetes.io/service-proxy-name", selection.DoesNotExist, nil)
	notHeadless, _ := labels.NewRequirement(v1.IsHeadlessService, selection.DoesNotExist, nil)
	sel := labels.NewSelector().Add(*noProxyName)
	p.informers = informers.NewSharedInformerFactoryWithOptions(cfg.Client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.LabelSelector = sel.Add(*notHeadless).String()
		}))
	svc := p.informers.Core().V1().Services()
	eps := p.informers.Discovery().V1().EndpointSlices()
	p.services, p.slices = svc.Lister(), eps.Lister()
	poke := informerrun.Signal(p.changed)
	if _, err := svc.Informer().AddEventHandler(poke); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if _, err := eps.Informer().AddEventHandler(poke); err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return p, nil
}

// Name is "kube-proxy".
func (p *Proxy) Name() string { return Component }

// Ready reports whether the first sync has been applied.
func (p *Proxy) Ready() bool { return p.health.Ready() }

// Healthz fails while the rules are not in force: before the first sync
// and while syncs fail (upstream's /healthz fails when the rules lag
// behind the API).
func (p *Proxy) Healthz(context.Context) error { return p.health.Check("proxy") }

// Syncs counts the syncs applied so far (tests wait on it).
func (p *Proxy) Syncs() int64 { return p.syncs.Load() }

// FullSyncs counts the full syncs among them: the first, one every
// SyncPeriod, and those after a failure.
func (p *Proxy) FullSyncs() int64 { return p.fullSyncs.Load() }

// Run syncs until ctx ends. Rules stay in the kernel when it returns, so
// traffic keeps flowing while the proxy restarts (as upstream); Cleanup
// removes them.
func (p *Proxy) Run(ctx context.Context) error {
	if p.cfg.Sysctls {
		p.setSysctls()
	}
	p.recordStarting(ctx)
	// Full syncs at start, every SyncPeriod and after a failure.
	return informerrun.Loop{
		Clock: p.cfg.Clock, Changed: p.changed, Period: p.cfg.SyncPeriod, MinPeriod: p.cfg.MinSyncPeriod,
		Sync: p.sync,
		Failed: func(err error, retry time.Duration) {
			p.health.Failed(err)
			p.logger.Error("sync failed; retrying with a full sync", "err", err, "in", retry)
		},
	}.RunInformers(ctx, p.informers, "proxy")
}

// sync builds the snapshot from the caches, hands it to the backend and
// then, the new rules being in force, deletes the conntrack entries they
// leave stale (as upstream, after the rules: deleted earlier, a flow could
// be tracked anew under the old rules).
func (p *Proxy) sync(ctx context.Context, full bool) error {
	start := p.cfg.Clock.Now()
	services, err := p.services.List(labels.Everything())
	if err != nil {
		return err
	}
	slices, err := p.slices.List(labels.Everything())
	if err != nil {
		return err
	}
	snap := model.Build(services, slices, p.cfg.NodeName)
	res, err := p.cfg.Backend.Sync(ctx, snap, full)
	if err != nil {
		return err
	}
	prev, recheck := p.applied, p.recheckConntrack || res.Full
	p.applied, p.recheckConntrack = snap, false
	p.syncs.Add(1)
	if res.Full {
		p.fullSyncs.Add(1)
	}
	p.health.Synced()
	p.logger.Debug("synced", "full", res.Full, "servicePorts", len(snap.Ports), "rules", res.Rules,
		"written", res.Written, "deleted", res.Deleted, "took", p.cfg.Clock.Since(start))
	if res.Replaced {
		p.logger.Warn("full sync could not amend the rules and replaced them all (ClientIP affinity state lost)",
			"err", res.ReplaceCause, "written", res.Written)
	}
	switch {
	case res.CleanupErr == nil:
		p.cleanupErr = ""
	case res.CleanupErr.Error() != p.cleanupErr:
		p.cleanupErr = res.CleanupErr.Error()
		p.logger.Warn("cannot delete leftovers of earlier syncs; retrying every sync", "err", res.CleanupErr)
	}
	p.cleanConntrack(prev, snap, recheck)
	return nil
}

// cleanConntrack deletes the conntrack entries that snap's rules, prev's
// having been in force, leave stale; recheck looks at every UDP and SCTP
// service port of snap (conntrack.Stale's full). A failure does not fail
// the sync (the rules are right): the next sync tries again from prev,
// rechecking everything. A dump the kernel interrupted is expected now
// and then and logged at Warn; other errors at Error when they change,
// not at every sync while they persist.
func (p *Proxy) cleanConntrack(prev, snap *model.Snapshot, recheck bool) {
	stale := conntrack.Stale(prev, snap, recheck)
	if len(stale) == 0 {
		return
	}
	n, err := p.cfg.Conntrack.Delete(stale)
	if err == nil {
		p.conntrackErr = ""
		p.logger.Debug("deleted stale conntrack entries", "deleted", n, "filters", len(stale))
		return
	}
	p.applied, p.recheckConntrack = prev, true
	switch {
	case conntrack.Retryable(err):
		p.logger.Warn("stale conntrack entries not all deleted; retrying next sync", "err", err, "deleted", n, "filters", len(stale))
	case err.Error() != p.conntrackErr:
		p.logger.Error("cannot delete stale conntrack entries; retrying every sync", "err", err, "deleted", n, "filters", len(stale))
	default:
		p.logger.Debug("cannot delete stale conntrack entries, still", "err", err, "deleted", n, "filters", len(stale))
	}
	p.conntrackErr = err.Error()
}

// setSysctls sets the kernel settings the rules rely on; one that cannot
// be set is logged, not fatal (a kernel may lack the bridge module).
func (p *Proxy) setSysctls() {
	for _, s := range []string{
		"/proc/sys/net/ipv4/ip_forward",
		"/proc/sys/net/ipv4/conf/all/route_localnet",
		"/proc/sys/net/bridge/bridge-nf-call-iptables",
	} {
		if err := os.WriteFile(s, []byte("1"), 0o644); err != nil {
			p.logger.Warn("cannot set a kernel setting the proxy needs", "path", s, "err", err)
		}
	}
}
