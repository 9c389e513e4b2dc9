package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/component"
	"github.com/skiff-sh/skiff/internal/kubelet"
)

func newAgentCommand() *cobra.Command {
	var (
		servers                       []string
		kubeconfigPath, token, caFile string
		insecure                      bool
		simulateNodes                 int
		prefix, clusterCIDR           string
		nodeName, dataDir             string
		nf                            nodeFlags
		pf                            proxyFlags
		pnf                           podNetFlags
		npf                           netpolFlags
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a worker node (or, with --simulate-nodes N, N simulated nodes) against an API server",
		Long: `Joins the cluster of --server as a worker node: a kubelet that registers the node
and runs the pods bound to it.

--simulate-nodes N runs N kubelets in this process, each with its own
in-memory runtime (containers run without processes), for scale tests: nodes
<prefix>0000..., pod CIDRs cut from --cluster-cidr (/24 each, smaller when
more nodes than /24s fit), node addresses 127.1.x.y (loopback: simulated
nodes never send anything to a real network). They share one client and one
event broadcaster.

Without --simulate-nodes it runs one real node (a kubelet over the
containerd it supervises, or --runtime=simulated); without --pod-cidr it
waits for the node IPAM controller of the server to set the node's
spec.podCIDR and builds the pod network on it. A real node also runs
kube-proxy (--proxy-mode nftables or iptables; --disable-kube-proxy) and the
pod network across nodes: routes to the other nodes' pod CIDRs, pods'
traffic leaving --cluster-cidr masqueraded (--disable-pod-network; see
skiff podnet --help), and enforces NetworkPolicies on its pods
(--disable-network-policy; see skiff netpol --help).

Credentials come from --kubeconfig, or from --token with
--certificate-authority (or --insecure-skip-tls-verify).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rc, err := agentRESTConfig(servers, kubeconfigPath, token, caFile, insecure)
			if err != nil {
				return err
			}
			if simulateNodes <= 0 {
				// The node's kubelet shows its kube-proxy as a pod.
				sp, logger := newStaticPods(dataDir, newLogger(nf.verbosity))
				restConfig := func() (*rest.Config, error) { return rc, nil }
				pn, err := podNetworkComponents(pnf, &nf, restConfig, nodeName, clusterCIDR, logger)
				if err != nil {
					return err
				}
				kp, err := proxyComponents(pf, nf.runtime, restConfig, nodeName, clusterCIDR, logger)
				if err != nil {
					return err
				}
				np, err := networkPolicyComponents(npf, pnf, &nf, restConfig, nodeName, logger)
				if err != nil {
					return err
				}
				if len(kp) > 0 {
					sp.proxy(pf, kubeconfigPath, nodeName, clusterCIDR)
				}
				kp = append(kp, np...)
				return runNode(rc, nodeName, dataDir, &nf, logger, sp, append(pn, kp...)...)
			}
			client, err := kubernetes.NewForConfig(rest.AddUserAgent(rc, "skiff-agent"))
			if err != nil {
				return err
			}
			logger := newLogger(nf.verbosity)
			var tmplErr error
			fleet, err := kubelet.NewFleet(kubelet.FleetConfig{
				Client: client, Nodes: simulateNodes, NamePrefix: prefix, ClusterCIDR: clusterCIDR,
				Machine: nf.simMachine(), Runtime: nf.simRuntime(), Logger: logger,
				Template: func(i int, c *kubelet.Config) {
					ip := c.NodeIP
					if err := nf.apply(c); err != nil {
						tmplErr = err
					}
					c.NodeIP = ip    // each simulated node keeps its own address
					c.ServerPort = 0 // and opens no listener
				},
			})
			if err != nil {
				return err
			}
			if tmplErr != nil {
				return tmplErr
			}
			m := &component.Manager{Logger: logger, ReadyTimeout: time.Duration(simulateNodes)*100*time.Millisecond + time.Minute}
			m.Add(fleet)
			ctx, cancel := signalContext()
			defer cancel()
			return m.Run(ctx)
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&servers, "server", nil, "URL of the API server (overrides the kubeconfig's)")
	fs.StringVar(&kubeconfigPath, "kubeconfig", "", "Kubeconfig with the agent's credentials")
	fs.StringVar(&token, "token", "", "Bearer token (with --server, instead of a kubeconfig)")
	fs.StringVar(&caFile, "certificate-authority", "", "CA bundle to verify the API server (with --token)")
	fs.BoolVar(&insecure, "insecure-skip-tls-verify", false, "Do not verify the API server's certificate (with --token)")
	fs.IntVar(&simulateNodes, "simulate-nodes", 0, "Run this many simulated nodes in this process")
	fs.StringVar(&prefix, "node-name-prefix", "sim-", "Name prefix of simulated nodes")
	fs.StringVar(&clusterCIDR, "cluster-cidr", "10.42.0.0/16", "The pods' range: simulated nodes' pod CIDRs are cut from it; kube-proxy masquerades traffic to cluster IPs from outside it, the pod network pods' traffic leaving it")
	host, _ := os.Hostname()
	fs.StringVar(&nodeName, "node-name", strings.ToLower(host), "Name of the Node to register (a real node)")
	fs.StringVar(&dataDir, "data-dir", "/var/lib/skiff", "Node state (a real node): the kubelet's in DIR/kubelet, the supervised containerd's in DIR/containerd")
	nf.register(fs)
	pf.register(fs, true)
	pnf.register(fs)
	npf.register(fs)
	return cmd
}

// runNode runs one node (`skiff kubelet`, `skiff agent`): the node's
// components, then extra ones (the agent's pod network and kube-proxy),
// under a manager until a signal. The kubelet shows sp's components as
// pods (sp may be nil: none).
func runNode(rc *rest.Config, nodeName, dataDir string, nf *nodeFlags, logger *slog.Logger, sp *staticPods, extra ...component.Component) error {
	kc := kubelet.Config{NodeName: nodeName, PodCIDR: nf.podCIDR}
	var setup []func(*component.Manager)
	if sp != nil {
		sp.kubelet(&kc)
		setup = append(setup, sp.attach)
	}
	components, err := nodeComponents(nodeSpec{
		dataDir:    dataDir,
		kubelet:    kc,
		restConfig: func() (*rest.Config, error) { return rc, nil },
		flags:      nf,
		logger:     logger,
	})
	if err != nil {
		return err
	}
	return runUntilSignal(logger, append(components, extra...), setup...)
}

// runUntilSignal runs components under a manager until a signal; setup
// sees the manager first.
func runUntilSignal(logger *slog.Logger, components []component.Component, setup ...func(*component.Manager)) error {
	m := &component.Manager{Logger: logger}
	for _, c := range components {
		m.Add(c)
	}
	for _, f := range setup {
		f(m)
	}
	ctx, cancel := signalContext()
	defer cancel()
	go func() {
		<-ctx.Done()
		cancel() // a second signal takes its default action: stop at once
	}()
	return m.Run(ctx)
}

// agentRESTConfig builds the agent's client config from a kubeconfig or a
// token; --server replaces the server either way.
func agentRESTConfig(servers []string, kubeconfigPath, token, caFile string, insecure bool) (*rest.Config, error) {
	var rc *rest.Config
	switch {
	case kubeconfigPath != "":
		var err error
		if rc, err = clientcmd.BuildConfigFromFlags("", kubeconfigPath); err != nil {
			return nil, fmt.Errorf("--kubeconfig: %w", err)
		}
	case token != "":
		if len(servers) == 0 {
			return nil, errors.New("--token needs --server")
		}
		rc = &rest.Config{BearerToken: token, TLSClientConfig: rest.TLSClientConfig{CAFile: caFile, Insecure: insecure}}
	default:
		return nil, errors.New("--kubeconfig or --token is required")
	}
	if len(servers) > 0 {
		rc.Host = servers[0]
	}
	rc.QPS, rc.Burst = -1, 0
	return rc, nil
}
