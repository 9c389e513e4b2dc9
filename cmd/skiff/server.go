package main

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/component"
	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controlplane"
	"github.com/skiff-sh/skiff/internal/kubeconfig"
	"github.com/skiff-sh/skiff/internal/kubelet"
)

// controlPlaneFlags are the flags every control-plane command shares.
type controlPlaneFlags struct {
	dataDir, bindAddress, advertiseAddress string
	apiPort                                int
	serviceCIDR, clusterCIDR, clusterDNS   string
	clusterDomain                          string
	etcdServers                            []string
	etcdCAFile, etcdCertFile, etcdKeyFile  string
	etcdClientURL, etcdPeerURL             string
	tokenAuthFile                          string
	compactionInterval                     time.Duration
	clusterDNSPort                         int
	verbosity                              int
	// Node IPAM (`skiff server` and `skiff up` only).
	allocateNodeCIDRs bool
	nodeCIDRMaskSize  int
}

func (f *controlPlaneFlags) register(fs *pflag.FlagSet, defaultDataDir string) {
	fs.StringVar(&f.dataDir, "data-dir", defaultDataDir, "Directory for certificates, the admin kubeconfig and etcd's data")
	fs.IntVar(&f.apiPort, "api-port", 6443, "HTTPS port of the API server")
	fs.StringVar(&f.bindAddress, "bind-address", "0.0.0.0", "Address the API server listens on")
	fs.StringVar(&f.advertiseAddress, "advertise-address", "", "Address other components reach the API server on (default: the host's first address)")
	fs.StringVar(&f.serviceCIDR, "service-cidr", "10.43.0.0/16", "Range of Service ClusterIPs")
	fs.StringVar(&f.clusterCIDR, "cluster-cidr", "10.42.0.0/16", "Range of pod IPs")
	fs.StringVar(&f.clusterDNS, "cluster-dns", "10.43.0.10", "ClusterIP of the cluster DNS service")
	fs.StringVar(&f.clusterDomain, "cluster-domain", "cluster.local", "Cluster DNS domain")
	fs.IntVar(&f.clusterDNSPort, "cluster-dns-port", 53, "Port the cluster DNS listens on at the advertise address, behind the kube-dns Service (0: no cluster DNS)")
	fs.StringSliceVar(&f.etcdServers, "etcd-servers", nil, "External etcd endpoints (default: an embedded etcd member in --data-dir)")
	fs.StringVar(&f.etcdCAFile, "etcd-cafile", "", "CA bundle to verify external etcd servers")
	fs.StringVar(&f.etcdCertFile, "etcd-certfile", "", "Client certificate for external etcd")
	fs.StringVar(&f.etcdKeyFile, "etcd-keyfile", "", "Client key for external etcd")
	fs.StringVar(&f.etcdClientURL, "etcd-client-url", "http://127.0.0.1:2379", "Client URL of the embedded etcd member")
	fs.StringVar(&f.etcdPeerURL, "etcd-peer-url", "http://127.0.0.1:2380", "Peer URL of the embedded etcd member")
	fs.StringVar(&f.tokenAuthFile, "token-auth-file", "", "Static bearer tokens (CSV: token,user,uid,\"group1,group2\")")
	fs.DurationVar(&f.compactionInterval, "etcd-compaction-interval", 5*time.Minute, "How much etcd history is kept for watches and continue tokens")
	fs.IntVarP(&f.verbosity, "v", "v", 0, "Log verbosity; 2 and above logs every API request")
}

// registerIPAM adds the node IPAM flags of the control planes that run a
// controller manager.
func (f *controlPlaneFlags) registerIPAM(fs *pflag.FlagSet) {
	fs.BoolVar(&f.allocateNodeCIDRs, "allocate-node-cidrs", true, "Give every node without one a pod CIDR from --cluster-cidr (the node IPAM controller)")
	fs.IntVar(&f.nodeCIDRMaskSize, "node-cidr-mask-size", 0, "Mask size of the node pod CIDRs (default 24 for IPv4, 64 for IPv6)")
}

// nodeIPAM is the node IPAM controller's configuration from the flags.
func (f *controlPlaneFlags) nodeIPAM() (controller.NodeIPAM, error) {
	p, err := netip.ParsePrefix(f.clusterCIDR)
	if err != nil {
		return controller.NodeIPAM{}, fmt.Errorf("--cluster-cidr %q: %v", f.clusterCIDR, err)
	}
	return controller.NodeIPAM{AllocateNodeCIDRs: f.allocateNodeCIDRs, ClusterCIDRs: []netip.Prefix{p}, NodeCIDRMaskSize: f.nodeCIDRMaskSize}, nil
}

func (f *controlPlaneFlags) config() (*controlplane.Config, error) {
	_, svc, err := net.ParseCIDR(f.serviceCIDR)
	if err != nil || svc.IP.To4() == nil {
		return nil, fmt.Errorf("--service-cidr %q: an IPv4 CIDR is required", f.serviceCIDR)
	}
	if _, _, err := net.ParseCIDR(f.clusterCIDR); err != nil {
		return nil, fmt.Errorf("--cluster-cidr %q: %v", f.clusterCIDR, err)
	}
	if net.ParseIP(f.clusterDNS) == nil {
		return nil, fmt.Errorf("--cluster-dns %q is not an IP address", f.clusterDNS)
	}
	var adv net.IP
	if f.advertiseAddress != "" {
		if adv = net.ParseIP(f.advertiseAddress); adv == nil {
			return nil, fmt.Errorf("--advertise-address %q is not an IP address", f.advertiseAddress)
		}
	}
	dir, err := filepath.Abs(f.dataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--data-dir: %w", err)
	}
	v := skiffVersion
	v.GoVersion = runtime.Version()
	// As upstream's /version: the build's compiler and platform, and the
	// emulation (this release) and minimum compatibility (one before).
	v.Compiler = runtime.Compiler
	v.Platform = runtime.GOOS + "/" + runtime.GOARCH
	v.EmulationMajor, v.EmulationMinor = v.Major, v.Minor
	if minor, err := strconv.Atoi(v.Minor); err == nil && minor > 0 {
		v.MinCompatibilityMajor, v.MinCompatibilityMinor = v.Major, strconv.Itoa(minor-1)
	}
	return &controlplane.Config{
		DataDir: dir, BindAddress: f.bindAddress, APIPort: f.apiPort, AdvertiseAddress: adv,
		ServiceCIDR: svc, ClusterDomain: f.clusterDomain,
		ClusterDNS: net.ParseIP(f.clusterDNS), ClusterDNSPort: f.clusterDNSPort,
		EtcdServers: f.etcdServers, EtcdCAFile: f.etcdCAFile, EtcdCertFile: f.etcdCertFile, EtcdKeyFile: f.etcdKeyFile,
		EtcdClientURL: f.etcdClientURL, EtcdPeerURL: f.etcdPeerURL,
		TokenAuthFile: f.tokenAuthFile, CompactionInterval: f.compactionInterval,
		LogRequests: f.verbosity >= 2, Logger: newLogger(f.verbosity), Version: v,
	}, nil
}

// controlPlaneComponents is the wiring table of a control plane, in start
// order.
func controlPlaneComponents(cfg *controlplane.Config, ipam controller.NodeIPAM) []component.Component {
	components := append(apiServerComponents(cfg),
		newServerScheduler(cfg), newServerControllerManager(cfg, ipam),
	)
	if cfg.ClusterDNSPort > 0 {
		components = append(components, newServerDNS(cfg))
	}
	return components
}

// apiServerComponents is what `skiff apiserver` runs: storage and the API
// server.
func apiServerComponents(cfg *controlplane.Config) []component.Component {
	etcd := controlplane.NewEtcd(cfg)
	return []component.Component{
		etcd,
		controlplane.NewAPIServer(cfg, etcd),
	}
}

// runComponents runs components under a manager until a signal; setup
// sees the manager first (`skiff up` shows its components as pods).
func runComponents(cfg *controlplane.Config, components []component.Component, setup ...func(*component.Manager)) error {
	return runUntilSignal(cfg.Logger, components, setup...)
}

// preflight locks the data dir and checks the ports cfg (and node, when
// this process runs one) will bind, before anything starts. The returned
// file holds the lock; the caller keeps it open while it runs.
func preflight(cfg *controlplane.Config, shownDir string, node *nodeFlags) (*os.File, error) {
	lock, err := lockDataDir(cfg.DataDir, shownDir)
	if err != nil {
		return nil, err
	}
	checks, err := upPortChecks(cfg, node)
	if err == nil {
		err = checkPorts(checks)
	}
	if err != nil {
		lock.Close()
		return nil, err
	}
	return lock, nil
}

func newServerCommand() *cobra.Command {
	var f controlPlaneFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the control plane: etcd, API server, scheduler, and (as it lands) controller manager",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			ipam, err := f.nodeIPAM()
			if err != nil {
				return err
			}
			lock, err := preflight(cfg, f.dataDir, nil)
			if err != nil {
				return err
			}
			defer lock.Close()
			return runComponents(cfg, controlPlaneComponents(cfg, ipam))
		},
	}
	f.register(cmd.Flags(), "/var/lib/skiff")
	f.registerIPAM(cmd.Flags())
	return cmd
}

func newAPIServerCommand() *cobra.Command {
	var f controlPlaneFlags
	cmd := &cobra.Command{
		Use:   "apiserver",
		Short: "Run the API server alone (on --etcd-servers, or an embedded etcd member)",
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			lock, err := lockDataDir(cfg.DataDir, f.dataDir)
			if err != nil {
				return err
			}
			defer lock.Close()
			return runComponents(cfg, apiServerComponents(cfg))
		},
	}
	f.register(cmd.Flags(), "/var/lib/skiff")
	return cmd
}

func newUpCommand() *cobra.Command {
	var (
		f        controlPlaneFlags
		nf       nodeFlags
		pf       proxyFlags
		pnf      podNetFlags
		npf      netpolFlags
		nodeName string
		logFile  string
		// pprofAddress serves Go's profiles (heap, goroutines, CPU).
		pprofAddress string
	)
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a one-node cluster in the foreground; Ctrl-C stops it",
		Long: `Runs a whole one-node cluster in this process: embedded etcd, the API server,
the scheduler, the controller manager, the cluster DNS, and a node (a kubelet
over a containerd that Skiff starts and supervises under --data-dir/containerd,
the pod network, kube-proxy and NetworkPolicy enforcement; or a kubelet over the in-memory runtime with
--runtime=simulated). State stays in --data-dir: a second ` + "`skiff up`" + ` on it
resumes the cluster, and containers keep running across restarts unless
--stop-pods-on-exit.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.config()
			if err != nil {
				return err
			}
			lock, err := preflight(cfg, f.dataDir, &nf)
			if err != nil {
				return err
			}
			defer lock.Close()
			logs, err := openUpLog(logFile, cfg.DataDir, f.verbosity, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			defer logs.Close()
			cfg.Logger = logs.logger
			components, sp, err := upComponents(cfg, upSpec{f: &f, nf: &nf, pf: pf, pnf: pnf, npf: npf, kubelet: kubelet.Config{NodeName: nodeName}})
			if err != nil {
				return err
			}
			if pprofAddress != "" {
				if err := servePprof(pprofAddress, cfg.Logger); err != nil {
					return err
				}
			}
			con := &upConsole{out: cmd.OutOrStdout(), kubeconfig: cfg.KubeconfigPath(), logs: logs.shown,
				components: len(components), stopPods: nf.stopPodsOnExit, runtime: nf.runtime}
			con.starting(f.dataDir)
			err = runComponents(cfg, components, sp.attach, func(m *component.Manager) {
				m.OnReady, m.OnStop = con.ready, con.stopping
			})
			con.stopped(err)
			return err
		},
	}
	fs := cmd.Flags()
	f.register(fs, ".skiff")
	f.registerIPAM(fs)
	nf.registerRuntime(fs)
	pf.register(fs, true)
	pnf.register(fs)
	npf.register(fs)
	host, _ := os.Hostname()
	fs.StringVar(&nodeName, "node-name", strings.ToLower(host), "Name of the node")
	fs.StringVar(&pprofAddress, "pprof-address", "", "Serve Go's profiles (/debug/pprof/) on this address, e.g. 127.0.0.1:6060, to see where memory and CPU go")
	fs.StringVar(&logFile, "log-file", "", "Where the components' logs go (default DATA-DIR/skiff.log, warnings and errors also on stderr); - sends every log line to stderr")
	return cmd
}

// upSpec is what `skiff up` runs besides its control plane's config.
type upSpec struct {
	f   *controlPlaneFlags
	nf  *nodeFlags
	pf  proxyFlags
	pnf podNetFlags
	npf netpolFlags
	// kubelet is the node's kubelet configuration: NodeName at least;
	// upComponents fills the pod CIDR and the static pods.
	kubelet kubelet.Config
}

// upComponents is `skiff up`'s wiring: the control plane, the node
// (containerd and kubelet), the pod network and kube-proxy, in start
// order, and the static pods through which the node's kubelet shows them
// (attach them to the manager that runs the components). It sets
// cfg.Logger to the logger that also feeds each component's log file,
// and fills s.nf with what the node takes from the control plane (pod
// CIDR, cluster DNS and domain, role, verbosity).
func upComponents(cfg *controlplane.Config, s upSpec) ([]component.Component, *staticPods, error) {
	f, nf, nodeName := s.f, s.nf, s.kubelet.NodeName
	sp, logger := newStaticPods(cfg.DataDir, cfg.Logger)
	cfg.Logger = logger
	sp.controlPlane(cfg)
	ipam, err := f.nodeIPAM()
	if err != nil {
		return nil, nil, err
	}
	// The node of `skiff up` gets its pod CIDR from the node IPAM
	// controller like any other (the first one, when it is the first
	// node): were it to take the first itself, an agent registering
	// before it could be given the same one. Without node IPAM it takes
	// the first itself.
	var podCIDR string
	if !f.allocateNodeCIDRs {
		if podCIDR, err = firstNodeCIDR(f.clusterCIDR, f.nodeCIDRMaskSize); err != nil {
			return nil, nil, err
		}
	}
	nf.podCIDR, nf.clusterDNS, nf.clusterDomain = podCIDR, []string{f.clusterDNS}, f.clusterDomain
	nf.roles, nf.verbosity = []string{"control-plane"}, f.verbosity
	pn, err := podNetworkComponents(s.pnf, nf, componentRESTConfig(cfg, "pod-network", "system:skiff-pod-network", "system:masters"),
		nodeName, f.clusterCIDR, cfg.Logger)
	if err != nil {
		return nil, nil, err
	}
	kc := s.kubelet
	kc.PodCIDR = podCIDR
	sp.kubelet(&kc)
	node, err := nodeComponents(nodeSpec{
		dataDir:    cfg.DataDir,
		kubelet:    kc,
		restConfig: componentRESTConfig(cfg, "kubelet", "system:node:"+nodeName, "system:nodes", "system:masters"),
		flags:      nf,
		logger:     cfg.Logger,
	})
	if err != nil {
		return nil, nil, err
	}
	kp, err := proxyComponents(s.pf, nf.runtime, componentRESTConfig(cfg, "kube-proxy", "system:kube-proxy", "system:masters"),
		nodeName, f.clusterCIDR, cfg.Logger)
	if err != nil {
		return nil, nil, err
	}
	if len(kp) > 0 {
		sp.proxy(s.pf, filepath.Join(cfg.DataDir, "kube-proxy.kubeconfig"), nodeName, f.clusterCIDR)
	}
	np, err := networkPolicyComponents(s.npf, s.pnf, nf, componentRESTConfig(cfg, "network-policy", "system:skiff-network-policy", "system:masters"),
		nodeName, cfg.Logger)
	if err != nil {
		return nil, nil, err
	}
	return append(append(append(append(controlPlaneComponents(cfg, ipam), node...), pn...), kp...), np...), sp, nil
}

// componentRESTConfig gives the client config of a component of `skiff
// up`'s node when it starts: a certificate for user in groups, issued then
// (the API server makes the CA first).
func componentRESTConfig(cfg *controlplane.Config, name, user string, groups ...string) func() (*rest.Config, error) {
	return func() (*rest.Config, error) {
		path, err := controlplane.ComponentKubeconfig(cfg, name, user, groups)
		if err != nil {
			return nil, err
		}
		return clientcmd.BuildConfigFromFlags("", path)
	}
}

// firstNodeCIDR is a lone node's pod range: the first node CIDR (mask
// size maskSize, 0 for /24 or /64) of the cluster CIDR (all of it when
// that is smaller).
func firstNodeCIDR(clusterCIDR string, maskSize int) (string, error) {
	p, err := netip.ParsePrefix(clusterCIDR)
	if err != nil {
		return "", fmt.Errorf("--cluster-cidr %q: %v", clusterCIDR, err)
	}
	bits := 24
	if p.Addr().Is6() {
		bits = 64
	}
	if maskSize > 0 {
		bits = maskSize
	}
	if p.Bits() >= bits {
		return p.Masked().String(), nil
	}
	return netip.PrefixFrom(p.Masked().Addr(), bits).String(), nil
}

func newKubeconfigCommand() *cobra.Command {
	var dataDir, contextName string
	var merge bool
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print the admin kubeconfig, or merge it into ~/.kube/config",
		RunE: func(cmd *cobra.Command, args []string) error {
			path := filepath.Join(dataDir, "admin.kubeconfig")
			data, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("no kubeconfig at %s: has a server run with --data-dir %s? (%w)", path, dataDir, err)
			}
			if !merge {
				_, err := cmd.OutOrStdout().Write(data)
				return err
			}
			cfg, err := kubeconfig.Load(path)
			if err != nil {
				return err
			}
			kubeconfig.Rename(cfg, contextName)
			target := os.Getenv("KUBECONFIG")
			if target == "" || strings.Contains(target, string(os.PathListSeparator)) {
				home, _ := os.UserHomeDir()
				target = filepath.Join(home, ".kube", "config")
			}
			if err := kubeconfig.MergeInto(target, cfg, true); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Merged context %q into %s and made it current.\n", contextName, target)
			return nil
		},
	}
	cmd.Flags().StringVar(&dataDir, "data-dir", "/var/lib/skiff", "Data dir of the server")
	cmd.Flags().BoolVar(&merge, "merge", false, "Merge into ~/.kube/config (or $KUBECONFIG) as a context and make it current")
	cmd.Flags().StringVar(&contextName, "context", "skiff", "Context name to merge as")
	return cmd
}
