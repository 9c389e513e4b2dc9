package kubelet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	v1 "k8s.io/api/core/v1"
	informerscorev1 "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	cri "k8s.io/cri-api/pkg/apis"
	"k8s.io/utils/clock"
)

// Upstream's defaults.
const (
	DefaultKubeletVersion            = "v1.37.2+skiff"
	DefaultMaxPods                   = 110
	DefaultLeaseDuration             = 40 * time.Second
	DefaultLeaseRenewInterval        = 10 * time.Second
	DefaultNodeStatusUpdateFrequency = 10 * time.Second
	DefaultNodeStatusReportFrequency = 5 * time.Minute
	DefaultCrashLoopBackOff          = 10 * time.Second
	DefaultMaxCrashLoopBackOff       = 5 * time.Minute
	DefaultImagePullBackOff          = 10 * time.Second
	DefaultMaxImagePullBackOff       = 5 * time.Minute
	DefaultRelistPeriod              = time.Second
	DefaultSyncFrequency             = time.Minute
	NodeLeaseNamespace               = "kube-node-lease"
	// CgroupDriverCgroupfs and CgroupDriverSystemd name how pod cgroups
	// are named (Config.CgroupDriver); it must match the runtime's.
	CgroupDriverCgroupfs = "cgroupfs"
	CgroupDriverSystemd  = "systemd"
	// LabelNodeRolePrefix + role is the label `kubectl get nodes` shows
	// in its ROLES column.
	LabelNodeRolePrefix = "node-role.kubernetes.io/"
)

// Config configures a Kubelet. New validates it and fills the defaults
// noted on each field.
type Config struct {
	// RESTConfig is how the kubelet reaches the API server; required
	// unless Client is set. It is copied and made unlimited (QPS -1).
	RESTConfig *rest.Config
	// Client, when set, is used instead of one built from RESTConfig
	// (`skiff agent --simulate-nodes` shares one between its kubelets).
	Client kubernetes.Interface
	// EventBroadcaster, when set, carries this kubelet's events (shared
	// between simulated kubelets); the kubelet neither starts nor stops
	// it. Default: the kubelet's own, writing core/v1 Events through
	// Client.
	EventBroadcaster record.EventBroadcaster

	// NodeName is the Node object this kubelet registers and the
	// spec.nodeName of the pods it runs. Required.
	NodeName string

	// Runtime and Images are the CRI the kubelet drives: containerd over
	// gRPC, or the simulated runtime. Required.
	Runtime cri.RuntimeService
	Images  cri.ImageManagerService

	// Machine reads the node's hardware, OS and pressure readings on
	// every status update. Default: this host (/proc, statfs of DataDir,
	// /etc/os-release, uname).
	Machine func() (MachineInfo, error)
	// DataDir is where the kubelet's state would live; its filesystem is
	// the node's ephemeral-storage. Default "/var/lib/skiff/kubelet", or
	// "/" when that does not exist.
	DataDir string
	// PodsDir holds each pod's volumes, etc-hosts and termination-message
	// files under <PodsDir>/<pod UID>, as upstream's <root-dir>/pods.
	// Directories of pods the kubelet does not know are removed at start,
	// so two kubelets must never share it. Default <DataDir>/pods, or
	// <temp dir>/skiff-kubelet-<NodeName>/pods when DataDir is "/".
	PodsDir string
	// NoTmpfs keeps memory-backed volumes (emptyDir of medium Memory,
	// secret and projected volumes) as plain directories, as when the
	// kubelet is not root (it then logs a warning). Simulated fleets set
	// it so that they mount nothing.
	NoTmpfs bool
	// Capacity overrides entries of the capacity read from the machine
	// (e.g. cpu "64" for a simulated node); pods is MaxPods.
	Capacity v1.ResourceList
	// Reserved is subtracted from capacity to give allocatable (upstream's
	// kube-reserved + system-reserved + the hard eviction thresholds).
	Reserved v1.ResourceList
	// MaxPods is the pods capacity. Default 110.
	MaxPods int

	// Labels are added to the node's well-known ones
	// (kubernetes.io/hostname, kubernetes.io/os, kubernetes.io/arch).
	Labels map[string]string
	// Roles become node-role.kubernetes.io/<role>="" labels (e.g.
	// "control-plane" for a server node).
	Roles []string
	// Taints are registered with the node (--register-with-taints).
	Taints []v1.Taint
	// NodeIP is the node's InternalIP and the pods' hostIP. Default: the
	// first global unicast IPv4 address of this host, else 127.0.0.1.
	NodeIP string
	// Hostname is the node's Hostname address. Default NodeName, as
	// upstream's kubelet, whose --hostname-override names both (so the
	// address matches the kubernetes.io/hostname label).
	Hostname string
	// PodCIDR is the range pod IPs come from. When set it is written into
	// a newly registered Node's spec.podCIDR and passed to the runtime;
	// otherwise the kubelet waits for the Node's spec.podCIDR (set by the
	// node IPAM controller), looking at every status update, and passes
	// that. Until then the runtime's network is not ready, nor the node.
	PodCIDR string
	// Services, when set, is a shared informer of the cluster's Services
	// for the service env vars (a fleet shares one); its factory is the
	// caller's to start. Default: an informer of the kubelet's own.
	Services informerscorev1.ServiceInformer
	// ClusterDNS and ClusterDomain configure pods with dnsPolicy
	// ClusterFirst. Without ClusterDNS, those pods get the host's DNS.
	ClusterDNS    []string
	ClusterDomain string
	// CgroupDriver is how pods' cgroup parents are named, "cgroupfs"
	// (paths under /kubepods) or "systemd" (kubepods-*.slice); it must
	// match the runtime's setting. Default "cgroupfs", which the
	// containerd Skiff supervises uses.
	CgroupDriver string
	// KubeletVersion is the nodeInfo.kubeletVersion. Default
	// "v1.37.2+skiff".
	KubeletVersion string

	// LeaseDuration and LeaseRenewInterval are the node Lease's duration
	// and how often it is renewed. Defaults 40 s and 10 s.
	LeaseDuration      time.Duration
	LeaseRenewInterval time.Duration
	// NodeStatusUpdateFrequency is how often the node status is computed
	// (and written if it changed); NodeStatusReportFrequency how long an
	// unchanged status may go unwritten. Defaults 10 s and 5 min.
	NodeStatusUpdateFrequency time.Duration
	NodeStatusReportFrequency time.Duration
	// CrashLoopBackOff and MaxCrashLoopBackOff bound the delay between a
	// container's restarts: the first doubles per restart up to the
	// second. Defaults 10 s and 5 min.
	CrashLoopBackOff    time.Duration
	MaxCrashLoopBackOff time.Duration
	// ImagePullBackOff and MaxImagePullBackOff do the same for failed
	// image pulls. Defaults 10 s and 5 min.
	ImagePullBackOff    time.Duration
	MaxImagePullBackOff time.Duration
	// RelistPeriod is how often the runtime is listed to notice
	// containers that changed state. Default 1 s.
	RelistPeriod time.Duration
	// SyncFrequency is how often every pod is synced even when nothing
	// happened. Default 1 min.
	SyncFrequency time.Duration

	// ProbeDialer dials for httpGet, tcpSocket and grpc probes. Default a
	// net.Dialer; a simulated node must set its runtime's DialContext so
	// that probes never leave the process.
	ProbeDialer func(ctx context.Context, network, addr string) (net.Conn, error)

	// ServerPort is the port of the kubelet's HTTPS API (logs, exec,
	// attach, port-forward, stats; see server.go). 0 runs no server, so
	// that simulated fleets open no listeners; `skiff kubelet` sets
	// DefaultServerPort (10250). The node status reports it as
	// daemonEndpoints.kubeletEndpoint.
	ServerPort int
	// ServerAddress is the address the server binds. Default "0.0.0.0".
	ServerAddress string
	// TLSCertFile and TLSKeyFile are the server's certificate and key
	// (both or neither). Default: a self-signed pair for NodeName,
	// Hostname and NodeIP, made once as CertDir/kubelet.crt and
	// kubelet.key.
	TLSCertFile string
	TLSKeyFile  string
	// CertDir holds the self-signed serving pair. Default DataDir/pki
	// (/var/lib/skiff/kubelet/pki when DataDir is "/").
	CertDir string
	// ClientCAFile is the PEM bundle that signs the client certificates
	// the server accepts (the API server's kubelet client). Default the
	// CA of RESTConfig; required when the server runs.
	ClientCAFile string
	// PodLogsDir is where the runtime writes container logs, in
	// <namespace>_<pod>_<uid>/<container>/<restart>.log. Default
	// /var/log/pods.
	PodLogsDir string
	// NodeStats reads the node's CPU, memory and filesystem for
	// /stats/summary and /metrics/resource. Default: this host (the
	// cgroup root under /sys/fs/cgroup, v1 or v2, /proc, statfs of
	// DataDir); simulated nodes use SimulatedNodeReadings.
	NodeStats func() (NodeReadings, error)

	// StaticPods lists the components of the kubelet's own process that
	// it shows as mirror pods (see StaticPod). It is called on every
	// mirror pod sync (each RelistPeriod and on mirror pod events), on
	// log requests (every 200 ms per `kubectl logs -f` follower) and on
	// stats scrapes, some of them under the kubelet's locks: it must be
	// cheap, never wait on I/O, and be safe to call from any goroutine.
	// Nil: none, and mirror pods left on the node are deleted.
	StaticPods func() []StaticPod
	// StaticPodsChanged, when set, signals that StaticPods' answer may
	// have changed (a component became ready, ended, or turned unhealthy):
	// the mirror pods are synced at once rather than at the next
	// RelistPeriod.
	StaticPodsChanged <-chan struct{}

	// Clock drives leases, status times, back-offs and probes. Default
	// the real clock.
	Clock clock.WithTicker
	// Logger receives structured logs with component=kubelet and
	// node=<NodeName>. Default: discarded.
	Logger *slog.Logger
}

func (c *Config) defaultAndValidate() error {
	if c.Client == nil && c.RESTConfig == nil {
		return errors.New("kubelet: a RESTConfig or a Client is required")
	}
	if c.NodeName == "" {
		return errors.New("kubelet: NodeName is required")
	}
	if c.Runtime == nil || c.Images == nil {
		return errors.New("kubelet: a CRI Runtime and Images service are required")
	}
	if c.DataDir == "" {
		c.DataDir = "/var/lib/skiff/kubelet"
		if _, err := os.Stat(c.DataDir); err != nil {
			c.DataDir = "/"
		}
	}
	if c.PodsDir == "" {
		c.PodsDir = filepath.Join(c.DataDir, "pods")
		if c.DataDir == "/" {
			c.PodsDir = filepath.Join(os.TempDir(), "skiff-kubelet-"+c.NodeName, "pods")
		}
	}
	if c.Machine == nil {
		dir := c.DataDir
		c.Machine = func() (MachineInfo, error) { return readHostMachine(dir) }
	}
	if c.MaxPods == 0 {
		c.MaxPods = DefaultMaxPods
	}
	if c.MaxPods < 0 {
		return fmt.Errorf("kubelet: MaxPods %d is negative", c.MaxPods)
	}
	if c.NodeIP == "" {
		c.NodeIP = hostIP()
	}
	if _, err := netip.ParseAddr(c.NodeIP); err != nil {
		return fmt.Errorf("kubelet: NodeIP: %w", err)
	}
	if c.PodCIDR != "" {
		if _, err := netip.ParsePrefix(c.PodCIDR); err != nil {
			return fmt.Errorf("kubelet: PodCIDR: %w", err)
		}
	}
	if c.Hostname == "" {
		c.Hostname = c.NodeName
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = "cluster.local"
	}
	switch c.CgroupDriver {
	case "":
		c.CgroupDriver = CgroupDriverCgroupfs
	case CgroupDriverCgroupfs, CgroupDriverSystemd:
	default:
		return fmt.Errorf("kubelet: CgroupDriver %q: want cgroupfs or systemd", c.CgroupDriver)
	}
	if c.KubeletVersion == "" {
		c.KubeletVersion = DefaultKubeletVersion
	}
	durations := []struct {
		p   *time.Duration
		def time.Duration
	}{
		{&c.LeaseDuration, DefaultLeaseDuration},
		{&c.LeaseRenewInterval, DefaultLeaseRenewInterval},
		{&c.NodeStatusUpdateFrequency, DefaultNodeStatusUpdateFrequency},
		{&c.NodeStatusReportFrequency, DefaultNodeStatusReportFrequency},
		{&c.CrashLoopBackOff, DefaultCrashLoopBackOff},
		{&c.MaxCrashLoopBackOff, DefaultMaxCrashLoopBackOff},
		{&c.ImagePullBackOff, DefaultImagePullBackOff},
		{&c.MaxImagePullBackOff, DefaultMaxImagePullBackOff},
		{&c.RelistPeriod, DefaultRelistPeriod},
		{&c.SyncFrequency, DefaultSyncFrequency},
	}
	for _, d := range durations {
		if *d.p == 0 {
			*d.p = d.def
		}
		if *d.p < 0 {
			return fmt.Errorf("kubelet: negative duration %v", *d.p)
		}
	}
	if c.MaxCrashLoopBackOff < c.CrashLoopBackOff || c.MaxImagePullBackOff < c.ImagePullBackOff {
		return errors.New("kubelet: a maximum back-off is below its initial value")
	}
	if c.ProbeDialer == nil {
		c.ProbeDialer = (&net.Dialer{}).DialContext
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if err := c.defaultServer(); err != nil {
		return err
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c.Logger = c.Logger.With("component", "kubelet", "node", c.NodeName)
	return nil
}

// hostIP is the first global unicast IPv4 address of this host.
func hostIP() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// defaultServer fills the server's and the stats' defaults.
func (c *Config) defaultServer() error {
	if c.ServerPort < 0 || c.ServerPort > 65535 {
		return fmt.Errorf("kubelet: ServerPort %d is out of range", c.ServerPort)
	}
	if c.ServerAddress == "" {
		c.ServerAddress = "0.0.0.0"
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return errors.New("kubelet: TLSCertFile and TLSKeyFile go together")
	}
	if c.CertDir == "" {
		c.CertDir = filepath.Join(c.DataDir, "pki")
		if c.DataDir == "/" {
			c.CertDir = "/var/lib/skiff/kubelet/pki"
		}
	}
	if c.PodLogsDir == "" {
		c.PodLogsDir = "/var/log/pods"
	}
	if c.NodeStats == nil {
		dir, clk := c.DataDir, c.Clock
		host := newHostReader("/sys/fs/cgroup")
		c.NodeStats = func() (NodeReadings, error) { return readNodeReadings(host, dir, clk.Now()) }
	}
	return nil
}

// clientCA is the PEM the server's clients must chain to: ClientCAFile,
// else RESTConfig's CA. Only a running server needs one.
func (c *Config) clientCA() ([]byte, error) {
	if c.ServerPort == 0 {
		return nil, nil
	}
	file := c.ClientCAFile
	if file == "" && c.RESTConfig != nil {
		if len(c.RESTConfig.CAData) > 0 {
			return c.RESTConfig.CAData, nil
		}
		file = c.RESTConfig.CAFile
	}
	if file == "" {
		return nil, errors.New("kubelet: the server needs a ClientCAFile (or a RESTConfig with a CA)")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("kubelet: client CA: %w", err)
	}
	return b, nil
}
