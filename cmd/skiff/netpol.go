package main

import (
	"context"
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
)

// netpolFlags are the network policy enforcement's settings on the node
// commands.
type netpolFlags struct {
	disabled bool
}

func (f *netpolFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.disabled, "disable-network-policy", false, "Do not enforce NetworkPolicies on this node's pods (bring your own CNI)")
}

// networkPolicyComponents is a node's network policy enforcement, or
// nothing when disabled, where the pod network does not run (pods not on
// the bridge of the containerd Skiff supervises; a table of an earlier
// run is then removed) or without nft (warned).
func networkPolicyComponents(f netpolFlags, pnf podNetFlags, nf *nodeFlags, rc func() (*rest.Config, error), nodeName string, logger *slog.Logger) ([]component.Component, error) {
	if nf.runtime != runtimeContainerd {
		// Simulated pods: no kernel rules to keep or remove.
		return nil, nil
	}
	_, nftErr := exec.LookPath("nft")
	if f.disabled || !pnf.enabled(nf) {
		// A table an earlier run left would go on enforcing policies
		// nobody keeps up to date: remove it.
		if nftErr == nil {
			if err := netpol.Cleanup(context.Background(), nil); err != nil {
				logger.Warn("removing the network policy table of an earlier run", "err", err)
			}
		}
		return nil, nil
	}
	if nftErr != nil {
		logger.Warn("network policies need the nft command (Debian package nftables): they are not enforced on this node", "err", nftErr)
		return nil, nil
	}
	return []component.Component{&clientComponent{name: netpol.Component, restConfig: rc,
		build: func(client kubernetes.Interface) (readyRunner, error) {
			c, err := netpol.New(netpol.Config{Client: client, NodeName: nodeName, Logger: logger,
				BridgeNetfilter: "/proc/sys/net/bridge/bridge-nf-call-iptables"})
			if err != nil {
				return nil, err
			}
			return c, nil
		}}}, nil
}

func newNetpolCommand() *cobra.Command {
	var (
		n        nodeComponentCommand
		nodeName string
	)
	cmd := &cobra.Command{
		Use:   "netpol",
		Short: "Enforce NetworkPolicies on this node's pods alone",
		Long: `Watches NetworkPolicies, pods and namespaces and enforces the policies on the
pods of --node-name with nftables (nft list table ip skiff-netpol): a pod
selected by a policy with policyType Ingress (Egress) receives (sends) only
what some such policy allows; replies of allowed connections and the node's
own traffic to its pods always pass. skiff up and skiff agent run it on real
nodes (--disable-network-policy turns it off). The table stays when it
stops; --cleanup removes it and exits (skiff podnet --cleanup does too).`,
		Args: cobra.NoArgs,
		RunE: n.runE(func(ctx context.Context) error { return netpol.Cleanup(ctx, nil) },
			func(rc func() (*rest.Config, error), logger *slog.Logger) ([]component.Component, error) {
				return networkPolicyComponents(netpolFlags{}, podNetFlags{}, &nodeFlags{runtime: runtimeContainerd}, rc, nodeName, logger)
			}),
	}
	fs := cmd.Flags()
	n.register(fs, "Remove the network policy table, then exit")
	host, _ := os.Hostname()
	fs.StringVar(&nodeName, "node-name", strings.ToLower(host), "This node's name: only its pods are enforced")
	return cmd
}
