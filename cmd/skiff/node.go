package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/component"
	"github.com/skiff-sh/skiff/internal/containerd"
	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/kubelet/simruntime"
)

// nodeSpec is one real node's wiring: what `skiff kubelet`, `skiff agent`
// and `skiff up` run for the node half of a cluster.
type nodeSpec struct {
	// dataDir is the node's directory: the kubelet's state in
	// dataDir/kubelet, the supervised containerd in dataDir/containerd.
	dataDir string
	// kubelet is the kubelet's configuration without its runtime and
	// client, which the components fill when they run.
	kubelet kubelet.Config
	// restConfig gives the kubelet's client config when the kubelet
	// starts (`skiff up` issues the kubelet's certificate only once the
	// API server has made the CA).
	restConfig func() (*rest.Config, error)
	flags      *nodeFlags
	logger     *slog.Logger
}

// nodeComponents are the components of one node, in start order: the
// supervised containerd (unless the runtime is simulated or another
// runtime's endpoint is given, which is waited for instead), then the
// kubelet.
func nodeComponents(s nodeSpec) ([]component.Component, error) {
	s.kubelet.DataDir = filepath.Join(s.dataDir, "kubelet")
	s.kubelet.Logger = s.logger
	if err := s.flags.apply(&s.kubelet); err != nil {
		return nil, err
	}
	k := &nodeKubelet{spec: s}
	switch s.flags.runtime {
	case runtimeSimulated:
		return []component.Component{k}, nil
	case runtimeContainerd:
	default:
		return nil, fmt.Errorf("--runtime %q: want containerd or simulated", s.flags.runtime)
	}
	rt, err := containerd.New(containerd.Config{
		DataDir:            filepath.Join(s.dataDir, "containerd"),
		Endpoint:           s.flags.runtimeEndpoint,
		InsecureRegistries: s.flags.insecureRegistries,
		BridgeName:         s.flags.cniBridge,
		NoMasquerade:       s.flags.bridgeNoMasquerade,
		StopPodsOnExit:     s.flags.stopPodsOnExit,
		Logger:             s.logger,
	})
	if err != nil {
		return nil, err
	}
	k.containerd = rt
	return []component.Component{rt, k}, nil
}

// readyRunner is a component that says when it is ready.
type readyRunner interface {
	component.Readier
	Run(ctx context.Context) error
}

// clientComponent is a node component (kube-proxy, the pod network)
// built when it runs, on a client made then: `skiff up` issues its
// certificate only once the API server has made the CA.
type clientComponent struct {
	name       string
	restConfig func() (*rest.Config, error)
	build      func(kubernetes.Interface) (readyRunner, error)
	c          atomic.Pointer[readyRunner]
}

func (n *clientComponent) Name() string { return n.name }

func (n *clientComponent) Ready() bool {
	c := n.c.Load()
	return c != nil && (*c).Ready()
}

// Healthz is the built component's, when it has one.
func (n *clientComponent) Healthz(ctx context.Context) error {
	c := n.c.Load()
	if c == nil {
		return errors.New("not started")
	}
	if h, ok := (*c).(component.Checker); ok {
		return h.Healthz(ctx)
	}
	return nil
}

func (n *clientComponent) Run(ctx context.Context) error {
	rc, err := n.restConfig()
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(rest.AddUserAgent(rc, n.name))
	if err != nil {
		return err
	}
	c, err := n.build(client)
	if err != nil {
		return err
	}
	n.c.Store(&c)
	return c.Run(ctx)
}

// nodeKubelet is the kubelet component of a node; it connects to its
// runtime when it runs, after the runtime is ready.
type nodeKubelet struct {
	spec       nodeSpec
	containerd *containerd.Containerd // nil for the simulated runtime
	k          atomic.Pointer[kubelet.Kubelet]
}

func (n *nodeKubelet) Name() string { return "kubelet" }

func (n *nodeKubelet) Ready() bool {
	k := n.k.Load()
	return k != nil && k.Ready()
}

func (n *nodeKubelet) Run(ctx context.Context) error {
	cfg := n.spec.kubelet
	rc, err := n.spec.restConfig()
	if err != nil {
		return err
	}
	cfg.RESTConfig = rc
	if n.containerd == nil {
		rcfg := n.spec.flags.simRuntime()
		rcfg.PodCIDR = cfg.PodCIDR
		if cfg.NodeIP != "" {
			rcfg.HostIP = cfg.NodeIP
		}
		rt, err := simruntime.New(rcfg)
		if err != nil {
			return err
		}
		defer rt.Shutdown()
		cfg.Runtime, cfg.Images, cfg.ProbeDialer = rt, rt, rt.DialContext
		cfg.Machine = kubelet.SimulatedMachine(n.spec.flags.simMachine())
		cfg.NodeStats = kubelet.SimulatedNodeReadings(n.spec.flags.simMachine(), clock.RealClock{})
		if cfg.NodeIP == "" {
			// Simulated pods are reached in memory; the node's address
			// must not send anything to a real network.
			cfg.NodeIP = "127.0.0.1"
		}
	} else {
		rs, is, err := containerd.NewCRIClient(ctx, n.containerd.Endpoint())
		if err != nil {
			return err
		}
		defer rs.Close(context.Background())
		cfg.Runtime, cfg.Images = rs, is
	}
	k, err := kubelet.New(cfg)
	if err != nil {
		return err
	}
	n.k.Store(k)
	return k.Run(ctx)
}
