package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/controlplane"
	"github.com/skiff-sh/skiff/internal/leaderelect"
)

func newControllerManagerCommand() *cobra.Command {
	var (
		kubeconfigPath, bindAddress string
		healthzPort, verbosity      int
		clusterCIDRs                []string
		cfg                         = manager.Config{QPS: 20, Burst: 30}
	)
	cmd := &cobra.Command{
		Use:   "controller-manager",
		Short: "Run the controller manager alone: the control loops that reconcile the cluster",
		Long: `Runs the controllers named by --controllers (upstream's names; "*" is all,
"-name" leaves one out) against an API server. With --leader-elect (the
default) several replicas may run: only the holder of the Lease
kube-system/kube-controller-manager reconciles. Known controllers: ` + strings.Join(manager.KnownControllers(), ", ") + `.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rc, err := requiredKubeconfig(kubeconfigPath)
			if err != nil {
				return err
			}
			cfg.RESTConfig = rc
			cfg.Logger = newLogger(verbosity)
			for _, s := range clusterCIDRs {
				p, err := netip.ParsePrefix(strings.TrimSpace(s))
				if err != nil {
					return fmt.Errorf("--cluster-cidr %q: %v", s, err)
				}
				cfg.NodeIPAM.ClusterCIDRs = append(cfg.NodeIPAM.ClusterCIDRs, p)
			}
			if healthzPort > 0 {
				addr := net.JoinHostPort(bindAddress, strconv.Itoa(healthzPort))
				if cfg.HealthzListener, err = net.Listen("tcp", addr); err != nil {
					return fmt.Errorf("--healthz-port: %w", err)
				}
			}
			m, err := manager.New(cfg)
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			return m.Run(ctx)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&kubeconfigPath, "kubeconfig", "", "Kubeconfig of the API server to reconcile (required)")
	fs.StringSliceVar(&cfg.Controllers, "controllers", []string{"*"}, `Controllers to run: "*" all, "name" one, "-name" all but one`)
	registerLeaderElectionFlags(fs, &cfg.LeaderElection, manager.LeaseName, "reconciles")
	fs.DurationVar(&cfg.NodeMonitorGracePeriod, "node-monitor-grace-period", 50*time.Second, "How long a kubelet may be silent (no Lease renewal, no status) before its node is marked unreachable")
	fs.DurationVar(&cfg.HPASyncPeriod, "horizontal-pod-autoscaler-sync-period", 15*time.Second, "How often each HorizontalPodAutoscaler is reconciled")
	fs.Float32Var(&cfg.NodeEviction.Rate, "node-eviction-rate", 0.1, "Nodes per second tainted NoExecute (their pods evicted) in a healthy zone")
	fs.Float32Var(&cfg.NodeEviction.SecondaryRate, "secondary-node-eviction-rate", 0.01, "Nodes per second tainted in a partially disrupted zone of more than --large-cluster-size-threshold nodes")
	fs.Float32Var(&cfg.NodeEviction.UnhealthyZoneThreshold, "unhealthy-zone-threshold", 0.55, "Share of not-ready nodes (at least 3) that makes a zone partially disrupted")
	fs.IntVar(&cfg.NodeEviction.LargeClusterSizeThreshold, "large-cluster-size-threshold", 50, "Zone size above which a partially disrupted zone keeps tainting at the secondary rate (smaller ones stop)")
	fs.BoolVar(&cfg.NodeIPAM.AllocateNodeCIDRs, "allocate-node-cidrs", false, "Give every node without one a pod CIDR from --cluster-cidr (the node IPAM controller)")
	fs.StringSliceVar(&clusterCIDRs, "cluster-cidr", []string{"10.42.0.0/16"}, "Range of pod IPs node CIDRs are cut from (one, or one IPv4 and one IPv6)")
	fs.IntVar(&cfg.NodeIPAM.NodeCIDRMaskSize, "node-cidr-mask-size", 0, "Mask size of the node CIDRs of a single-stack cluster (default 24 for IPv4, 64 for IPv6)")
	fs.IntVar(&cfg.NodeIPAM.NodeCIDRMaskSizeIPv4, "node-cidr-mask-size-ipv4", 0, "Mask size of the IPv4 node CIDRs of a dual-stack cluster (default 24)")
	fs.IntVar(&cfg.NodeIPAM.NodeCIDRMaskSizeIPv6, "node-cidr-mask-size-ipv6", 0, "Mask size of the IPv6 node CIDRs of a dual-stack cluster (default 64)")
	fs.Float32Var(&cfg.QPS, "kube-api-qps", 20, "Requests per second to the API server (upstream's default)")
	fs.IntVar(&cfg.Burst, "kube-api-burst", 30, "Burst of requests to the API server")
	fs.IntVar(&healthzPort, "healthz-port", 0, "HTTP port of /healthz (0: off)")
	fs.StringVar(&bindAddress, "bind-address", "0.0.0.0", "Address the healthz port listens on")
	fs.IntVarP(&verbosity, "v", "v", 0, "Log verbosity; 4 and above logs debug")
	return cmd
}

// serverControllerManager is the controller manager inside `skiff server`
// and `skiff up`: a client of its own process's API server, as user
// system:kube-controller-manager with a certificate issued when it starts.
type serverControllerManager struct {
	cfg  *controlplane.Config
	ipam controller.NodeIPAM
	m    atomic.Pointer[manager.Manager]
}

func newServerControllerManager(cfg *controlplane.Config, ipam controller.NodeIPAM) *serverControllerManager {
	return &serverControllerManager{cfg: cfg, ipam: ipam}
}

func (c *serverControllerManager) Name() string { return manager.Component }

func (c *serverControllerManager) Ready() bool {
	m := c.m.Load()
	return m != nil && m.Ready()
}

func (c *serverControllerManager) Healthz(ctx context.Context) error {
	m := c.m.Load()
	if m == nil {
		return errors.New("not started")
	}
	return m.Healthz(ctx)
}

func (c *serverControllerManager) Run(ctx context.Context) error {
	// RBAC is not served yet: system:masters for now.
	path, err := controlplane.ComponentKubeconfig(c.cfg, "controller-manager", "system:kube-controller-manager", []string{"system:masters"})
	if err != nil {
		return err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return err
	}
	m, err := manager.New(manager.Config{
		RESTConfig:     rc,
		LeaderElection: leaderelect.Config{Enabled: true},
		NodeIPAM:       c.ipam,
		Logger:         c.cfg.Logger,
	})
	if err != nil {
		return err
	}
	c.m.Store(m)
	return m.Run(ctx)
}
