// Package manager is the controller manager component: one client, one
// shared informer factory and one event broadcaster for every enabled
// controller, run while this replica holds the Lease
// kube-system/kube-controller-manager.
package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controller/cronjob"
	"github.com/skiff-sh/skiff/internal/controller/daemonset"
	"github.com/skiff-sh/skiff/internal/controller/deployment"
	"github.com/skiff-sh/skiff/internal/controller/endpoints"
	"github.com/skiff-sh/skiff/internal/controller/endpointslice"
	"github.com/skiff-sh/skiff/internal/controller/garbagecollector"
	"github.com/skiff-sh/skiff/internal/controller/job"
	"github.com/skiff-sh/skiff/internal/controller/namespace"
	"github.com/skiff-sh/skiff/internal/controller/nodeipam"
	"github.com/skiff-sh/skiff/internal/controller/nodelifecycle"
	"github.com/skiff-sh/skiff/internal/controller/podautoscaler"
	"github.com/skiff-sh/skiff/internal/controller/podgc"
	"github.com/skiff-sh/skiff/internal/controller/replicaset"
	"github.com/skiff-sh/skiff/internal/controller/serviceaccount"
	"github.com/skiff-sh/skiff/internal/controller/statefulset"
	"github.com/skiff-sh/skiff/internal/controller/ttlafterfinished"
	"github.com/skiff-sh/skiff/internal/leaderelect"
)

// LeaseName is the leader Lease's name, as upstream.
const LeaseName = "kube-controller-manager"

// Component is the name in logs and the event source of the manager's
// own events.
const Component = "kube-controller-manager"

// entry is one row of the controller table.
type entry struct {
	init controller.Init
	// alias is upstream's older name, accepted in --controllers.
	alias string
	// workers is upstream's default --concurrent-*-syncs.
	workers int
}

// table is every controller the manager knows, by upstream's name.
var table = map[string]entry{
	replicaset.Name:       {init: replicaset.New, alias: replicaset.Alias, workers: 5},
	namespace.Name:        {init: namespace.New, alias: namespace.Alias, workers: 10},
	serviceaccount.Name:   {init: serviceaccount.New, alias: serviceaccount.Alias, workers: 1},
	endpoints.Name:        {init: endpoints.New, alias: endpoints.Alias, workers: 5},
	endpointslice.Name:    {init: endpointslice.New, alias: endpointslice.Alias, workers: 5},
	garbagecollector.Name: {init: garbagecollector.New, alias: garbagecollector.Alias, workers: 20},
	podgc.Name:            {init: podgc.New, alias: podgc.Alias, workers: 1},
	nodelifecycle.Name:    {init: nodelifecycle.New, alias: nodelifecycle.Alias, workers: 5},
	statefulset.Name:      {init: statefulset.New, alias: statefulset.Alias, workers: 5},
	deployment.Name:       {init: deployment.New, alias: deployment.Alias, workers: 5},
	job.Name:              {init: job.New, alias: job.Alias, workers: 5},
	cronjob.Name:          {init: cronjob.New, alias: cronjob.Alias, workers: 5},
	ttlafterfinished.Name: {init: ttlafterfinished.New, alias: ttlafterfinished.Alias, workers: 5},
	daemonset.Name:        {init: daemonset.New, alias: daemonset.Alias, workers: 2},
	podautoscaler.Name:    {init: podautoscaler.New, alias: podautoscaler.Alias, workers: 5},
	nodeipam.Name:         {init: nodeipam.New, alias: nodeipam.Alias, workers: 1},
}

// canonical resolves a name or an alias.
func canonical(name string) (string, bool) {
	if _, ok := table[name]; ok {
		return name, true
	}
	for n, e := range table {
		if e.alias == name {
			return n, true
		}
	}
	return "", false
}

// KnownControllers lists the controllers' canonical names, sorted.
func KnownControllers() []string {
	out := make([]string, 0, len(table))
	for n := range table {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Config configures a Manager. New validates it and fills the defaults
// noted on each field.
type Config struct {
	// RESTConfig is how the manager reaches the API server. Required
	// unless Client and Dynamic are set.
	RESTConfig *rest.Config
	// Client and Dynamic, when both set, replace clients built from
	// RESTConfig (tests).
	Client  kubernetes.Interface
	Dynamic dynamic.Interface
	// QPS and Burst bound the requests per second (client-go's token
	// bucket) of clients built from RESTConfig; QPS 0 means no limit.
	// `skiff controller-manager` uses upstream's 20 and 30, the manager
	// inside `skiff server` none.
	QPS   float32
	Burst int
	// Controllers selects the controllers as upstream's --controllers:
	// "*" all, "name" one more, "-name" one fewer; a name is upstream's
	// canonical one (replicaset-controller) or its alias (replicaset).
	// Default ["*"].
	Controllers []string
	// LeaderElection, when Enabled, runs the controllers only while this
	// replica holds the Lease (default kube-system/kube-controller-manager).
	LeaderElection leaderelect.Config
	// NodeMonitorGracePeriod is how long a kubelet may be silent before
	// its node is marked unreachable (--node-monitor-grace-period).
	// Default 50 s, as upstream.
	NodeMonitorGracePeriod time.Duration
	// HPASyncPeriod is how often each HorizontalPodAutoscaler is
	// reconciled (--horizontal-pod-autoscaler-sync-period). Default 15 s,
	// as upstream.
	HPASyncPeriod time.Duration
	// NodeEviction is the node lifecycle controller's per-zone tainting
	// rates (--node-eviction-rate, ...); zero fields are upstream's defaults.
	NodeEviction controller.NodeEviction
	// NodeIPAM configures the node IPAM controller (--allocate-node-cidrs,
	// --cluster-cidr, --node-cidr-mask-size); off by default, as upstream.
	NodeIPAM controller.NodeIPAM
	// Clock is the controllers' time. Default the real clock.
	Clock clock.WithTicker
	// Logger receives structured logs with component=kube-controller-manager
	// and controller=<name>. Default: discarded.
	Logger *slog.Logger
	// HealthzListener, when set, serves /healthz over plain HTTP while
	// Run runs; Run closes it.
	HealthzListener net.Listener
}

func (c *Config) defaultAndValidate() ([]string, error) {
	if c.RESTConfig == nil && (c.Client == nil || c.Dynamic == nil) {
		return nil, errors.New("controller-manager: a RESTConfig (or a Client and a Dynamic client) is required")
	}
	if len(c.Controllers) == 0 {
		c.Controllers = []string{"*"}
	}
	enabled, err := selectControllers(c.Controllers)
	if err != nil {
		return nil, err
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Logger = c.Logger.With("component", Component)
	if err := c.LeaderElection.Default(LeaseName); err != nil {
		return nil, fmt.Errorf("controller-manager: %w", err)
	}
	return enabled, nil
}

// selectControllers applies upstream's --controllers syntax to the table.
func selectControllers(spec []string) ([]string, error) {
	all := false
	on, off := map[string]bool{}, map[string]bool{}
	for _, s := range spec {
		s = strings.TrimSpace(s)
		name := strings.TrimPrefix(s, "-")
		switch {
		case s == "*":
			all = true
			continue
		case name == "":
			return nil, errors.New("controller-manager: empty controller name in --controllers")
		}
		canon, ok := canonical(name)
		if !ok {
			return nil, fmt.Errorf("controller-manager: unknown controller %q (known: %s)", name, strings.Join(KnownControllers(), ", "))
		}
		name = canon
		if strings.HasPrefix(s, "-") {
			off[name] = true
		} else {
			on[name] = true
		}
	}
	var out []string
	for _, n := range KnownControllers() {
		if (all || on[n]) && !off[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// Manager runs the enabled controllers.
type Manager struct {
	cfg         Config
	enabled     []string
	client      kubernetes.Interface
	dynamic     dynamic.Interface
	informers   informers.SharedInformerFactory
	broadcaster record.EventBroadcaster
	runners     map[string]controller.Runner
	watchdog    *leaderelection.HealthzAdaptor
	ready       atomic.Bool
	started     atomic.Bool
}

// New validates cfg, builds the clients and every enabled controller.
func New(cfg Config) (*Manager, error) {
	enabled, err := cfg.defaultAndValidate()
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, enabled: enabled, client: cfg.Client, dynamic: cfg.Dynamic, runners: map[string]controller.Runner{}}
	if m.client == nil || m.dynamic == nil {
		rc := rest.CopyConfig(cfg.RESTConfig)
		rc.QPS, rc.Burst = cfg.QPS, cfg.Burst
		if cfg.QPS == 0 {
			rc.QPS, rc.Burst, rc.RateLimiter = -1, 0, nil
		}
		rc.UserAgent = Component
		if m.dynamic, err = dynamic.NewForConfig(rc); err != nil {
			return nil, fmt.Errorf("controller-manager: dynamic client: %w", err)
		}
		// Protobuf for the typed client, as upstream: the pod watches cost
		// far less to decode.
		if rc.ContentType == "" {
			rc.ContentType = "application/vnd.kubernetes.protobuf"
			rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
		}
		if m.client, err = kubernetes.NewForConfig(rc); err != nil {
			return nil, fmt.Errorf("controller-manager: client: %w", err)
		}
	}
	m.informers = informers.NewSharedInformerFactory(m.client, 0)
	m.broadcaster = record.NewBroadcaster(record.WithContext(context.Background()))
	if cfg.LeaderElection.Enabled {
		m.watchdog = leaderelection.NewLeaderHealthzAdaptor(20 * time.Second)
	}
	for _, name := range enabled {
		r, err := table[name].init(controller.Context{
			Client:    m.client,
			Dynamic:   m.dynamic,
			Informers: m.informers,
			Recorder: func(source string) record.EventRecorder {
				return m.broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: source})
			},
			Clock:                  cfg.Clock,
			Logger:                 cfg.Logger,
			NodeMonitorGracePeriod: cfg.NodeMonitorGracePeriod,
			HPASyncPeriod:          cfg.HPASyncPeriod,
			NodeEviction:           cfg.NodeEviction,
			NodeIPAM:               cfg.NodeIPAM,
		})
		if err != nil {
			return nil, fmt.Errorf("controller-manager: %s: %w", name, err)
		}
		if r == nil {
			cfg.Logger.Info("controller is disabled by its configuration", "controller", name)
			continue
		}
		m.runners[name] = r
	}
	m.enabled = slices.DeleteFunc(m.enabled, func(name string) bool { return m.runners[name] == nil })
	return m, nil
}

// Enabled lists the controllers this manager runs.
func (m *Manager) Enabled() []string { return slices.Clone(m.enabled) }

// Name is the component's name.
func (m *Manager) Name() string { return Component }

// Ready reports that the informers have synced.
func (m *Manager) Ready() bool { return m.ready.Load() }

// Run starts the informers and, once they have synced (and, with leader
// election, while holding the Lease), the controllers; it returns after
// ctx ends and the controllers have stopped.
func (m *Manager) Run(ctx context.Context) error {
	if !m.started.CompareAndSwap(false, true) {
		return errors.New("controller-manager: Run may be called only once")
	}
	// client-go (informers, leader election, events) logs through ctx.
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(m.cfg.Logger.Handler()))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	if l := m.cfg.HealthzListener; l != nil {
		srv := &http.Server{Handler: m.healthz(), ReadHeaderTimeout: 10 * time.Second}
		wg.Add(2)
		go func() { defer wg.Done(); _ = srv.Serve(l) }()
		go func() { defer wg.Done(); <-ctx.Done(); _ = srv.Close() }()
	}
	m.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: m.client.CoreV1().Events("")})
	defer m.broadcaster.Shutdown()
	m.informers.Start(ctx.Done())
	defer m.informers.Shutdown()
	defer cancel()
	for typ, ok := range m.informers.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("controller-manager: informer for %v did not sync", typ)
		}
	}
	for _, r := range m.runners {
		defer r.ShutDown()
	}
	m.ready.Store(true)
	m.cfg.Logger.Info("caches synced", "controllers", strings.Join(m.enabled, ","))
	if !m.cfg.LeaderElection.Enabled {
		m.runControllers(ctx)
		return nil
	}
	return leaderelect.Run(ctx, m.cfg.LeaderElection, m.client, m.watchdog, m.cfg.Logger, m.runControllers)
}

// runControllers runs every controller until ctx ends.
func (m *Manager) runControllers(ctx context.Context) {
	var wg sync.WaitGroup
	for _, name := range m.enabled {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.runners[name].Run(ctx, table[name].workers)
		}()
	}
	wg.Wait()
}

// Healthz is /healthz in process: informers synced and, when leading,
// the lease renewed in time.
func (m *Manager) Healthz(ctx context.Context) error {
	if !m.Ready() {
		return errors.New("informers not synced")
	}
	if m.watchdog == nil {
		return nil
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "/healthz", nil)
	if err != nil {
		return err
	}
	return m.watchdog.Check(r)
}

func (m *Manager) healthz() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !m.Ready() {
			http.Error(w, "informers not synced", http.StatusInternalServerError)
			return
		}
		if m.watchdog != nil {
			if err := m.watchdog.Check(r); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
		}
		_, _ = w.Write([]byte("ok"))
	})
	return mux
}
