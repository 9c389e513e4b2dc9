// Package netpol enforces NetworkPolicies (networking.k8s.io/v1) for the
// pods of one node, with nftables: it watches policies, pods and
// namespaces, works out for each local pod whether it is isolated for
// ingress and egress and which peers and ports it may talk to (plan.go,
// pure), renders that as one nftables table (render.go, pure) and
// replaces the table atomically with nft -f. See README.md.
package netpol

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/hostexec"
	"github.com/skiff-sh/skiff/internal/informerrun"
)

// Component is the name in logs.
const Component = "network-policy"

// Config configures a Controller.
type Config struct {
	// Client reaches the API server. Required.
	Client kubernetes.Interface
	// NodeName is this node: only its pods are enforced. Required.
	NodeName string
	// Run runs nft. Default hostexec.Host (this host); tests run it in a
	// network namespace.
	Run hostexec.Runner
	// ResyncPeriod is how often the table is rewritten even when nothing
	// changed (a table someone flushed comes back). Default 30 s.
	ResyncPeriod time.Duration
	// MinSyncPeriod is the least time between two writes; changes within
	// it are applied together. Default 1 s.
	MinSyncPeriod time.Duration
	// BridgeNetfilter is the kernel setting that makes traffic between two
	// pods on one bridge pass the forward hook (net.bridge.
	// bridge-nf-call-iptables; empty: not checked, as in tests that set
	// it in their own namespace). Each sync sets it to 1 and, where it
	// cannot, Healthz fails: policies would not apply between pods of
	// this node.
	BridgeNetfilter string
	// Clock is the component's time. Default the real clock.
	Clock clock.WithTicker
	// Logger receives structured logs with component=network-policy.
	Logger *slog.Logger
}

// Controller is the component. Create it with New, then call Run once.
type Controller struct {
	cfg        Config
	logger     *slog.Logger
	informers  informers.SharedInformerFactory
	policies   networkinglisters.NetworkPolicyLister
	pods       corelisters.PodLister
	namespaces corelisters.NamespaceLister
	changed    chan struct{}
	health     informerrun.Health
	syncs      atomic.Int64
	// bridgeErr is why BridgeNetfilter is not 1, nil when it is.
	bridgeErr atomic.Pointer[error]
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Controller, error) {
	if cfg.Client == nil {
		return nil, errors.New("netpol: a Client is required")
	}
	if cfg.NodeName == "" {
		return nil, errors.New("netpol: a NodeName is required")
	}
	if cfg.Run == nil {
		cfg.Run = hostexec.Host
	}
	if cfg.ResyncPeriod <= 0 {
		cfg.ResyncPeriod = 30 * time.Second
	}
	if cfg.MinSyncPeriod <= 0 {
		cfg.MinSyncPeriod = time.Second
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		cfg:       cfg,
		logger:    cfg.Logger.With("component", Component, "node", cfg.NodeName),
		informers: informers.NewSharedInformerFactory(cfg.Client, 0),
		changed:   make(chan struct{}, 1),
	}
	np := c.informers.Networking().V1().NetworkPolicies()
	pods := c.informers.Core().V1().Pods()
	nss := c.informers.Core().V1().Namespaces()
	c.policies, c.pods, c.namespaces = np.Lister(), pods.Lister(), nss.Lister()
	handler := informerrun.Signal(c.changed)
	if _, err := np.Informer().AddEventHandler(handler); err != nil {
		return nil, fmt.Errorf("netpol: %w", err)
	}
	// Pod status heartbeats would keep it busy: only changes that matter
	// to policy wake a sync.
	podHandler := informerrun.Signal(c.changed)
	update := podHandler.UpdateFunc
	podHandler.UpdateFunc = func(old, cur any) {
		o, ok1 := old.(*corev1.Pod)
		n, ok2 := cur.(*corev1.Pod)
		if !ok1 || !ok2 || PodChanged(o, n) {
			update(old, cur)
		}
	}
	if _, err := pods.Informer().AddEventHandler(podHandler); err != nil {
		return nil, fmt.Errorf("netpol: %w", err)
	}
	if _, err := nss.Informer().AddEventHandler(handler); err != nil {
		return nil, fmt.Errorf("netpol: %w", err)
	}
	return c, nil
}

// Name is "network-policy".
func (c *Controller) Name() string { return Component }

// Ready reports whether the first sync has been applied.
func (c *Controller) Ready() bool { return c.health.Ready() }

// Healthz fails before the first sync, while syncs fail, and while
// traffic between this node's pods bypasses the rules (BridgeNetfilter).
func (c *Controller) Healthz(context.Context) error {
	if err := c.health.Check("netpol"); err != nil {
		return err
	}
	if err := c.bridgeErr.Load(); err != nil {
		return *err
	}
	return nil
}

// checkBridge sets BridgeNetfilter to 1 and records whether it is.
func (c *Controller) checkBridge() {
	if c.cfg.BridgeNetfilter == "" {
		return
	}
	err := os.WriteFile(c.cfg.BridgeNetfilter, []byte("1"), 0o644)
	if err == nil {
		if was := c.bridgeErr.Swap(nil); was != nil {
			c.logger.Info("traffic between this node's pods passes the rules again", "setting", c.cfg.BridgeNetfilter)
		}
		return
	}
	err = fmt.Errorf("netpol: %s cannot be set (is the br_netfilter module loaded? modprobe br_netfilter): policies do not apply between pods of this node: %w", c.cfg.BridgeNetfilter, err)
	if was := c.bridgeErr.Swap(&err); was == nil {
		c.logger.Error("traffic between this node's pods bypasses the rules", "err", err)
	}
}

// Syncs counts the syncs applied so far (tests wait on it).
func (c *Controller) Syncs() int64 { return c.syncs.Load() }

// Run syncs until ctx ends. The table stays when it returns, so pods
// stay isolated while it restarts; Cleanup removes it.
func (c *Controller) Run(ctx context.Context) error {
	return informerrun.Loop{
		Clock: c.cfg.Clock, Changed: c.changed, Period: c.cfg.ResyncPeriod, MinPeriod: c.cfg.MinSyncPeriod,
		Sync: func(ctx context.Context, _ bool) error { return c.sync(ctx) },
		Failed: func(err error, retry time.Duration) {
			c.health.Failed(err)
			c.logger.Error("sync failed", "err", err, "retryIn", retry)
		},
	}.RunInformers(ctx, c.informers, "netpol")
}

// sync rewrites the table from the caches.
func (c *Controller) sync(ctx context.Context) error {
	start := c.cfg.Clock.Now()
	policies, err := c.policies.List(labels.Everything())
	if err != nil {
		return err
	}
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return err
	}
	namespaces, err := c.namespaces.List(labels.Everything())
	if err != nil {
		return err
	}
	c.checkBridge()
	rules := Compute(policies, pods, namespaces, c.cfg.NodeName)
	script := Render(rules)
	if _, err := c.cfg.Run(ctx, []byte(script), "nft", "-f", "-"); err != nil {
		return fmt.Errorf("writing table %s: %w", Table, err)
	}
	isolated := 0
	for _, r := range rules {
		if r.IngressIsolated || r.EgressIsolated {
			isolated++
		}
	}
	c.syncs.Add(1)
	c.health.Synced()
	c.logger.Debug("synced", "policies", len(policies), "localPods", len(rules), "isolatedPods", isolated, "bytes", len(script), "took", c.cfg.Clock.Since(start))
	return nil
}

// Cleanup removes the table with run (hostexec.Host when nil); pods are
// then unrestricted. Removing a table that is not there is no error.
func Cleanup(ctx context.Context, run hostexec.Runner) error {
	if run == nil {
		run = hostexec.Host
	}
	if _, err := run(ctx, []byte(CleanupScript()), "nft", "-f", "-"); err != nil {
		return fmt.Errorf("removing table %s: %w", Table, err)
	}
	return nil
}
