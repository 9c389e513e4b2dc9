package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/kubelet/simruntime"
)

// Runtimes `--runtime` accepts.
const (
	runtimeSimulated  = "simulated"
	runtimeContainerd = "containerd"
)

// nodeFlags are the kubelet flags `skiff kubelet` and `skiff agent` share.
type nodeFlags struct {
	runtime, runtimeEndpoint string
	insecureRegistries       []string
	cniBridge                string
	// bridgeNoMasquerade leaves masquerading to the pod network
	// component (set when it runs on the node).
	bridgeNoMasquerade bool
	kubeletPort        int
	stopPodsOnExit     bool
	nodeIP, podCIDR    string
	labels             map[string]string
	roles, taints      []string
	clusterDNS         []string
	clusterDomain      string
	maxPods            int
	cpu, memory        string
	startLatency       time.Duration
	pullLatency        time.Duration
	verbosity          int
}

// register adds every node flag (`skiff kubelet`, `skiff agent`).
func (f *nodeFlags) register(fs *pflag.FlagSet) {
	f.registerRuntime(fs)
	fs.StringVar(&f.podCIDR, "pod-cidr", "", "Pod IP range of this node, written into a new Node's spec.podCIDR (default: wait for the node IPAM controller to set spec.podCIDR)")
	fs.StringToStringVar(&f.labels, "node-labels", nil, "Labels to add to the node (key=value,...)")
	fs.StringSliceVar(&f.roles, "node-role", nil, "Node roles, shown by kubectl get nodes (e.g. control-plane, worker)")
	fs.StringSliceVar(&f.taints, "register-with-taints", nil, "Taints of the registered node (key=value:Effect,...)")
	fs.StringSliceVar(&f.clusterDNS, "cluster-dns", []string{"10.43.0.10"}, "DNS servers of pods with dnsPolicy ClusterFirst")
	fs.StringVar(&f.clusterDomain, "cluster-domain", "cluster.local", "Cluster DNS domain")
	fs.StringVar(&f.cpu, "capacity-cpu", "", "Override the node's cpu capacity (default: the machine's; 8 for simulated nodes)")
	fs.StringVar(&f.memory, "capacity-memory", "", "Override the node's memory capacity (default: the machine's; 32Gi for simulated nodes)")
	fs.IntVarP(&f.verbosity, "v", "v", 0, "Log verbosity; 4 and above logs every pod sync")
}

// registerRuntime adds the node flags that `skiff up` shares with the
// node commands; the rest (pod CIDR, cluster DNS, verbosity) come from
// the control plane's flags there.
func (f *nodeFlags) registerRuntime(fs *pflag.FlagSet) {
	fs.StringVar(&f.runtime, "runtime", runtimeContainerd, "Container runtime: containerd, or simulated (an in-memory runtime: containers run without processes)")
	fs.StringVar(&f.runtimeEndpoint, "container-runtime-endpoint", "", "CRI endpoint of an existing runtime (e.g. unix:///run/containerd/containerd.sock) instead of the containerd Skiff starts")
	fs.StringSliceVar(&f.insecureRegistries, "insecure-registry", nil, "Registries (host or host:port) the supervised containerd pulls from over plain HTTP; loopback registries always are")
	fs.IntVar(&f.kubeletPort, "kubelet-port", kubelet.DefaultServerPort, "HTTPS port of the kubelet's API (logs, exec, attach, port-forward, stats); 0 turns it off")
	fs.StringVar(&f.cniBridge, "cni-bridge", "skiff0", "Linux bridge of the pod network (one per node on a host)")
	fs.BoolVar(&f.stopPodsOnExit, "stop-pods-on-exit", false, "Stop every pod when Skiff stops (by default containers keep running and a restarted kubelet adopts them)")
	fs.StringVar(&f.nodeIP, "node-ip", "", "The node's InternalIP (default: the host's first address)")
	fs.IntVar(&f.maxPods, "max-pods", kubelet.DefaultMaxPods, "Pods capacity of the node")
	fs.DurationVar(&f.startLatency, "sim-start-latency", 0, "Simulated runtime: how long starting a container takes")
	fs.DurationVar(&f.pullLatency, "sim-pull-latency", 0, "Simulated runtime: how long pulling an image takes")
}

// apply fills what the flags say into a kubelet Config.
func (f *nodeFlags) apply(c *kubelet.Config) error {
	c.NodeIP, c.Labels, c.Roles = f.nodeIP, f.labels, f.roles
	c.ServerPort = f.kubeletPort
	c.ClusterDNS, c.ClusterDomain, c.MaxPods = f.clusterDNS, f.clusterDomain, f.maxPods
	for _, s := range f.taints {
		t, err := parseTaint(s)
		if err != nil {
			return err
		}
		c.Taints = append(c.Taints, t)
	}
	if f.cpu != "" || f.memory != "" {
		c.Capacity = v1.ResourceList{}
		for name, val := range map[v1.ResourceName]string{v1.ResourceCPU: f.cpu, v1.ResourceMemory: f.memory} {
			if val == "" {
				continue
			}
			q, err := resource.ParseQuantity(val)
			if err != nil {
				return fmt.Errorf("--capacity-%s: %w", name, err)
			}
			c.Capacity[name] = q
		}
	}
	return nil
}

func (f *nodeFlags) simRuntime() simruntime.Config {
	return simruntime.Config{StartLatency: f.startLatency, PullLatency: f.pullLatency}
}

func (f *nodeFlags) simMachine() kubelet.MachineInfo {
	return kubelet.MachineInfo{CPUs: 8, MemoryBytes: 32 << 30}
}

// parseTaint reads key[=value]:Effect.
func parseTaint(s string) (v1.Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return v1.Taint{}, fmt.Errorf("taint %q: want key=value:Effect", s)
	}
	k, val, _ := strings.Cut(kv, "=")
	t := v1.Taint{Key: k, Value: val, Effect: v1.TaintEffect(effect)}
	switch t.Effect {
	case v1.TaintEffectNoSchedule, v1.TaintEffectPreferNoSchedule, v1.TaintEffectNoExecute:
	default:
		return v1.Taint{}, fmt.Errorf("taint %q: effect must be NoSchedule, PreferNoSchedule or NoExecute", s)
	}
	return t, nil
}

func newKubeletCommand() *cobra.Command {
	var (
		kubeconfigPath, nodeName, dataDir string
		nf                                nodeFlags
	)
	cmd := &cobra.Command{
		Use:   "kubelet",
		Short: "Run a kubelet alone: register a node and run the pods bound to it",
		Long: `Registers --node-name with the API server of --kubeconfig (capacity, nodeInfo,
conditions, a Lease in kube-node-lease renewed every 10 s), then runs the pods
bound to it through a CRI runtime and reports their status and events.

By default the pods run in a containerd that Skiff starts and supervises
under --data-dir/containerd (Debian's containerd and runc, CNI bridge over
the node's pod CIDR: --pod-cidr, or else the spec.podCIDR the node IPAM
controller assigns); --container-runtime-endpoint uses a runtime someone
else runs. --runtime=simulated runs the same kubelet against an in-memory
runtime: sandboxes get IPs from the pod CIDR, containers run without processes (see the
simruntime package for the annotations that make them exit or fail).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rc, err := requiredKubeconfig(kubeconfigPath)
			if err != nil {
				return err
			}
			return runNode(rc, nodeName, dataDir, &nf, newLogger(nf.verbosity), nil)
		},
	}
	fs := cmd.Flags()
	host, _ := os.Hostname()
	fs.StringVar(&kubeconfigPath, "kubeconfig", "", "Kubeconfig of the API server (required)")
	fs.StringVar(&nodeName, "node-name", strings.ToLower(host), "Name of the Node to register")
	fs.StringVar(&dataDir, "data-dir", "/var/lib/skiff", "Node state: the kubelet's in DIR/kubelet (its filesystem is the node's ephemeral-storage), the supervised containerd's in DIR/containerd")
	nf.register(fs)
	return cmd
}
