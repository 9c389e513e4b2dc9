package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/component"
	"github.com/skiff-sh/skiff/internal/netpol"
	"github.com/skiff-sh/skiff/internal/podnet"
)

// podNetFlags are the pod network's settings on the node commands.
type podNetFlags struct {
	disabled bool
}

func (f *podNetFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.disabled, "disable-pod-network", false, "Do not route pods between nodes nor masquerade their traffic here (bring your own CNI); the CNI bridge then masquerades everything leaving the node")
}

// enabled reports whether a node with these flags runs the pod network:
// a real node whose pods sit on the bridge of the containerd Skiff
// supervises.
func (f podNetFlags) enabled(nf *nodeFlags) bool {
	return !f.disabled && nf.runtime == runtimeContainerd && nf.runtimeEndpoint == ""
}

// podNetworkComponents is a node's pod network, or nothing when it does
// not run there (see podNetFlags.enabled). It also tells the node's
// containerd to leave masquerading to it.
func podNetworkComponents(f podNetFlags, nf *nodeFlags, rc func() (*rest.Config, error), nodeName, clusterCIDR string, logger *slog.Logger) ([]component.Component, error) {
	if !f.enabled(nf) {
		return nil, nil
	}
	cidr, err := parseClusterCIDR(clusterCIDR)
	if err != nil {
		return nil, err
	}
	if !cidr.Addr().Is4() {
		// The bridge keeps masquerading; one node works as before.
		logger.Warn("the pod network routes IPv4 only: pods on other nodes are not reachable", "clusterCIDR", cidr)
		return nil, nil
	}
	if _, err := exec.LookPath("nft"); err != nil {
		// As for IPv6: one node works as before, the bridge masquerading.
		logger.Warn("the pod network needs the nft command (Debian package nftables): pods on other nodes are not reachable", "err", err)
		return nil, nil
	}
	nf.bridgeNoMasquerade = true
	return []component.Component{&clientComponent{name: podnet.Component, restConfig: rc,
		build: func(client kubernetes.Interface) (readyRunner, error) {
			p, err := podnet.New(podnet.Config{Client: client, NodeName: nodeName, ClusterCIDR: cidr, Sysctls: true, Logger: logger})
			if err != nil {
				return nil, err
			}
			return p, nil
		}}}, nil
}

func newPodNetCommand() *cobra.Command {
	var (
		n                     nodeComponentCommand
		nodeName, clusterCIDR string
	)
	cmd := &cobra.Command{
		Use:   "podnet",
		Short: "Run the pod network alone: routes to other nodes' pods, masquerading of pods' outside traffic",
		Long: `Routes every other node's pod CIDR (spec.podCIDRs) to that node's InternalIP, or
to the gateway towards it when it is not on a directly connected subnet
(host-gw, as flannel's backend of that name): ip route show proto 212.
Masquerades pods' traffic that leaves --cluster-cidr in its own nftables
table (nft list table ip skiff-podnet) and accepts pod traffic in the
iptables FORWARD chain. skiff up and skiff agent run it on real nodes
(--disable-pod-network turns it off). Routes and rules stay when it stops;
--cleanup removes them, and the network policy table (skiff netpol), and exits.`,
		Args: cobra.NoArgs,
		// Without the pod network, network policies are not enforced
		// either: --cleanup removes their table too.
		RunE: n.runE(func(ctx context.Context) error { return errors.Join(podnet.Cleanup(ctx), netpol.Cleanup(ctx, nil)) },
			func(rc func() (*rest.Config, error), logger *slog.Logger) ([]component.Component, error) {
				return podNetworkComponents(podNetFlags{}, &nodeFlags{runtime: runtimeContainerd}, rc, nodeName, clusterCIDR, logger)
			}),
	}
	fs := cmd.Flags()
	n.register(fs, "Remove every route and rule the pod network made, and the network policy table, then exit")
	host, _ := os.Hostname()
	fs.StringVar(&nodeName, "node-name", strings.ToLower(host), "This node's name: its own pod CIDR is not routed")
	fs.StringVar(&clusterCIDR, "cluster-cidr", "10.42.0.0/16", "The pods' range: their traffic leaving it is masqueraded")
	return cmd
}
