package kubelet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/skiff-sh/skiff/internal/kubelet/simruntime"
)

// FleetConfig configures a Fleet of simulated nodes.
type FleetConfig struct {
	// Client is shared by every kubelet of the fleet. Required.
	Client kubernetes.Interface
	// Nodes is how many simulated nodes run. Required (> 0).
	Nodes int
	// NamePrefix names the nodes <prefix>0000, <prefix>0001... Default
	// "sim-".
	NamePrefix string
	// ClusterCIDR is cut into one pod CIDR per node: /24s, or smaller
	// ones when more than fit (down to /26). Default 10.42.0.0/16.
	ClusterCIDR string
	// Machine is every node's hardware; zero fields get SimulatedMachine's
	// defaults.
	Machine MachineInfo
	// Runtime is the simulated runtime's behaviour (latencies, failures);
	// its PodCIDR and HostIP are set per node.
	Runtime simruntime.Config
	// Template is applied to every node's kubelet Config after the fleet
	// filled in the client, name, runtime, machine, node IP (127.1.x.y,
	// loopback, so that nothing reaches a real network) and pod CIDR.
	Template func(i int, c *Config)
	// NodesPerBroadcaster is how many kubelets share one event
	// broadcaster. Each broadcaster writes its events with one goroutine
	// and drops what does not fit its queue of 1000, so one for all nodes
	// loses events under load; one per node costs ~80 KB each. Default 16.
	NodesPerBroadcaster int
	// Logger receives the kubelets' logs. Default: discarded.
	Logger *slog.Logger
}

// Fleet runs many kubelets on simulated runtimes in one process, sharing
// a client and, in groups, event broadcasters: `skiff agent
// --simulate-nodes N`.
type Fleet struct {
	cfg      FleetConfig
	kubelets []*Kubelet
	runtimes []*simruntime.Runtime
	ready    atomic.Bool
	started  atomic.Bool
	bcs      []record.EventBroadcaster
	services informers.SharedInformerFactory
}

// NewFleet validates cfg and builds the kubelets and their runtimes.
func NewFleet(cfg FleetConfig) (*Fleet, error) {
	if cfg.Client == nil {
		return nil, errors.New("fleet: a Client is required")
	}
	if cfg.Nodes <= 0 {
		return nil, fmt.Errorf("fleet: %d nodes", cfg.Nodes)
	}
	if cfg.NamePrefix == "" {
		cfg.NamePrefix = "sim-"
	}
	if cfg.ClusterCIDR == "" {
		cfg.ClusterCIDR = "10.42.0.0/16"
	}
	cidrs, err := splitCIDR(cfg.ClusterCIDR, cfg.Nodes)
	if err != nil {
		return nil, err
	}
	if cfg.NodesPerBroadcaster <= 0 {
		cfg.NodesPerBroadcaster = 16
	}
	f := &Fleet{cfg: cfg, services: informers.NewSharedInformerFactory(cfg.Client, 0)}
	services := f.services.Core().V1().Services()
	for i := 0; i < (cfg.Nodes+cfg.NodesPerBroadcaster-1)/cfg.NodesPerBroadcaster; i++ {
		f.bcs = append(f.bcs, record.NewBroadcaster())
	}
	machine := SimulatedMachine(cfg.Machine)
	for i := 0; i < cfg.Nodes; i++ {
		ip := loopbackIP(i)
		rc := cfg.Runtime
		rc.PodCIDR, rc.HostIP = cidrs[i], ip
		rt, err := simruntime.New(rc)
		if err != nil {
			return nil, err
		}
		name := fmt.Sprintf("%s%04d", cfg.NamePrefix, i)
		kc := Config{
			Client: cfg.Client, EventBroadcaster: f.bcs[i/cfg.NodesPerBroadcaster], NodeName: name, Runtime: rt, Images: rt,
			Machine: machine, NodeIP: ip, Hostname: name, PodCIDR: cidrs[i], ProbeDialer: rt.DialContext,
			Logger: cfg.Logger,
			// Each node its own pods dir (the kubelet removes what it does
			// not know there), and no tmpfs mounts from a simulation.
			PodsDir: filepath.Join(os.TempDir(), "skiff-kubelet-"+name, "pods"), NoTmpfs: true,
			Services: services, // one Service informer for the whole fleet
		}
		if cfg.Template != nil {
			cfg.Template(i, &kc)
		}
		k, err := New(kc)
		if err != nil {
			return nil, err
		}
		f.kubelets = append(f.kubelets, k)
		f.runtimes = append(f.runtimes, rt)
	}
	return f, nil
}

// Name is the fleet's component name.
func (f *Fleet) Name() string { return "kubelet-fleet" }

// Ready reports that every kubelet of the fleet is ready.
func (f *Fleet) Ready() bool { return f.ready.Load() }

// Kubelets returns the fleet's kubelets, in node order.
func (f *Fleet) Kubelets() []*Kubelet { return f.kubelets }

// Run starts every kubelet at once and runs them until ctx ends. The
// first kubelet to fail stops the fleet.
func (f *Fleet) Run(ctx context.Context) error {
	if !f.started.CompareAndSwap(false, true) {
		return errors.New("fleet: Run may be called only once")
	}
	for _, bc := range f.bcs {
		bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: f.cfg.Client.CoreV1().Events("")})
		defer bc.Shutdown()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	f.services.Start(ctx.Done())
	defer f.services.Shutdown()
	var wg sync.WaitGroup
	var once sync.Once
	var runErr error
	for _, k := range f.kubelets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := k.Run(ctx); err != nil {
				once.Do(func() { runErr = fmt.Errorf("%s: %w", k.cfg.NodeName, err) })
				cancel()
			}
		}()
	}
	go func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		lastLog := time.Now()
		for {
			ready := 0
			for _, k := range f.kubelets {
				if k.Ready() {
					ready++
				}
			}
			if ready == len(f.kubelets) {
				f.ready.Store(true)
				return
			}
			if time.Since(lastLog) > 5*time.Second && f.cfg.Logger != nil {
				f.cfg.Logger.Info("waiting for simulated nodes", "component", "kubelet-fleet", "ready", ready, "nodes", len(f.kubelets))
				lastLog = time.Now()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	wg.Wait()
	for _, rt := range f.runtimes {
		rt.Shutdown()
	}
	return runErr
}

// splitCIDR cuts a cluster CIDR into n node CIDRs of /24, or of the
// largest size that fits n of them (no smaller than /26).
func splitCIDR(cluster string, n int) ([]string, error) {
	p, err := netip.ParsePrefix(cluster)
	if err != nil || !p.Addr().Is4() {
		return nil, fmt.Errorf("fleet: cluster CIDR %q: want an IPv4 prefix", cluster)
	}
	p = p.Masked()
	bits := 24
	for bits <= 26 && (bits < p.Bits() || 1<<(bits-p.Bits()) < n) {
		bits++
	}
	if bits > 26 {
		return nil, fmt.Errorf("fleet: %s cannot hold %d node CIDRs of /26 or larger", cluster, n)
	}
	out := make([]string, n)
	base := ipv4ToUint(p.Addr())
	for i := range out {
		out[i] = netip.PrefixFrom(uintToIPv4(base+uint32(i)<<(32-bits)), bits).String()
	}
	return out, nil
}

// loopbackIP is simulated node i's address: 127.1.0.1 onwards.
func loopbackIP(i int) string {
	return uintToIPv4(127<<24 | 1<<16 | uint32(i+1)).String()
}

func ipv4ToUint(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func uintToIPv4(u uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(u >> 24), byte(u >> 16), byte(u >> 8), byte(u)})
}
