package main

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/component"
	"github.com/skiff-sh/skiff/internal/proxy"
)

// proxyFlags are kube-proxy's settings, shared by `skiff proxy` and the
// node half of `skiff agent` and `skiff up`.
type proxyFlags struct {
	disabled                  bool
	mode                      string
	syncPeriod, minSyncPeriod time.Duration
}

func (f *proxyFlags) register(fs *pflag.FlagSet, withDisable bool) {
	if withDisable {
		fs.BoolVar(&f.disabled, "disable-kube-proxy", false, "Do not run kube-proxy on this node (Services then have no rules here)")
	}
	fs.StringVar(&f.mode, "proxy-mode", proxy.ModeNFTables, "How kube-proxy programs the kernel: nftables (its own table, ip kube-proxy) or iptables (upstream's KUBE-* chains)")
	fs.DurationVar(&f.syncPeriod, "iptables-sync-period", 30*time.Second, "How often kube-proxy rewrites all of its rules")
	fs.DurationVar(&f.minSyncPeriod, "iptables-min-sync-period", time.Second, "Least time between two kube-proxy syncs; changes within it are applied together")
}

// proxyComponents is a node's kube-proxy, or nothing when disabled or
// when the node's runtime is simulated (its pods have no addresses on
// this host to forward to).
func proxyComponents(f proxyFlags, runtime string, rc func() (*rest.Config, error), nodeName, clusterCIDR string, logger *slog.Logger) ([]component.Component, error) {
	if f.disabled || runtime == runtimeSimulated {
		return nil, nil
	}
	if f.mode != proxy.ModeNFTables && f.mode != proxy.ModeIPTables {
		return nil, fmt.Errorf("--proxy-mode %q: want nftables or iptables", f.mode)
	}
	cidr, err := parseClusterCIDR(clusterCIDR)
	if err != nil {
		return nil, err
	}
	return []component.Component{&clientComponent{name: proxy.Component, restConfig: rc,
		build: func(client kubernetes.Interface) (readyRunner, error) {
			backend, err := proxy.NewBackend(f.mode, cidr)
			if err != nil {
				return nil, err
			}
			p, err := proxy.New(proxy.Config{
				Client: client, NodeName: nodeName, ClusterCIDR: cidr, Backend: backend,
				SyncPeriod: f.syncPeriod, MinSyncPeriod: f.minSyncPeriod,
				Sysctls: true, Logger: logger,
			})
			if err != nil {
				return nil, err
			}
			return p, nil
		}}}, nil
}

func parseClusterCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("--cluster-cidr %q: %v", s, err)
	}
	return p.Masked(), nil
}

func newProxyCommand() *cobra.Command {
	var (
		n                     nodeComponentCommand
		nodeName, clusterCIDR string
		f                     proxyFlags
	)
	cmd := &cobra.Command{
		Use:   "proxy",
		Short: "Run kube-proxy alone: the node's rules that implement Services",
		Long: `Watches Services and EndpointSlices and keeps this host's iptables rules
implementing them: cluster IPs, node ports and external IPs spread over ready
endpoints, session affinity, the Local traffic policies, an immediate refusal
for a Service without endpoints. --proxy-mode=nftables (the default) keeps
them in one nftables table, "ip kube-proxy" (nft list table ip kube-proxy);
--proxy-mode=iptables writes upstream's KUBE-SERVICES, KUBE-SVC-*,
KUBE-SEP-* chains (iptables-save). Rules stay when the proxy stops, so
traffic flows while it restarts; --cleanup removes both kinds and exits.`,
		Args: cobra.NoArgs,
		RunE: n.runE(proxy.Cleanup, func(rc func() (*rest.Config, error), logger *slog.Logger) ([]component.Component, error) {
			return proxyComponents(f, runtimeContainerd, rc, nodeName, clusterCIDR, logger)
		}),
	}
	fs := cmd.Flags()
	n.register(fs, "Remove every rule kube-proxy made, then exit")
	host, _ := os.Hostname()
	fs.StringVar(&nodeName, "hostname-override", strings.ToLower(host), "This node's name: its endpoints are the local ones")
	fs.StringVar(&clusterCIDR, "cluster-cidr", "10.42.0.0/16", "The pods' range: traffic to a cluster IP from outside it is masqueraded")
	f.register(fs, false)
	return cmd
}
