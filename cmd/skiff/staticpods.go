package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/skiff-sh/skiff/internal/component"
	"github.com/skiff-sh/skiff/internal/controlplane"
	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/netpol"
	"github.com/skiff-sh/skiff/internal/podnet"
)

// staticPods shows the components of one Skiff process as the static
// pods of that process's kubelet, as kubeadm's control plane shows
// through its mirror pods: each component logs into its own file as well
// as to stderr, and the kubelet's StaticPods (list) reads the manager's
// Status. The kubelet and the supervised containerd are not pods, as
// upstream's kubelet and runtime are host services.
type staticPods struct {
	logs *component.LogFiles
	// process is the component whose pod carries the process's usage:
	// the API server in a control plane, else kube-proxy.
	process string
	// defs are the components shown, by name.
	defs map[string]staticPodDef

	// changed wakes the kubelet's mirror pod sync (notify).
	changed chan struct{}

	mu sync.Mutex
	m  *component.Manager
}

// staticPodDef is what a component's pod says about it besides its state.
type staticPodDef struct {
	labels    map[string]string
	command   []string
	resources v1.ResourceRequirements
}

// tolerated are the components whose failure leaves the rest running
// (their pods show it; the pod network and network policy, not pods,
// their logs); the others (etcd, the API server, the kubelet)
// carry everything else, so their failure stops the process.
var tolerated = map[string]bool{
	"kube-scheduler": true, "kube-controller-manager": true, "coredns": true, "kube-proxy": true,
	podnet.Component: true, netpol.Component: true,
}

// newStaticPods starts each component's log file under dataDir/logs and
// returns the logger that feeds them (base's records, teed).
func newStaticPods(dataDir string, base *slog.Logger) (*staticPods, *slog.Logger) {
	logs := &component.LogFiles{Dir: filepath.Join(dataDir, "logs"), Aliases: map[string]string{"apiserver": "kube-apiserver"}}
	return &staticPods{logs: logs, defs: map[string]staticPodDef{}, changed: make(chan struct{}, 1)},
		slog.New(logs.Handler(base.Handler()))
}

// controlPlane adds the pods of a control plane's components.
func (s *staticPods) controlPlane(cfg *controlplane.Config) {
	cp := map[string]string{"tier": "control-plane"}
	adv := ""
	if cfg.AdvertiseAddress != nil {
		adv = cfg.AdvertiseAddress.String()
	}
	pki := filepath.Join(cfg.DataDir, "pki")
	etcdServers := cfg.EtcdServers
	if len(etcdServers) == 0 {
		s.defs["etcd"] = staticPodDef{labels: cp, resources: requests("100m", "100Mi"), command: []string{
			"etcd", "--name=skiff", "--data-dir=" + filepath.Join(cfg.DataDir, "etcd"),
			"--listen-client-urls=" + cfg.EtcdClientURL, "--advertise-client-urls=" + cfg.EtcdClientURL,
			"--listen-peer-urls=" + cfg.EtcdPeerURL, "--initial-advertise-peer-urls=" + cfg.EtcdPeerURL,
			"--initial-cluster=skiff=" + cfg.EtcdPeerURL,
		}}
		etcdServers = []string{cfg.EtcdClientURL}
	}
	api := []string{
		"kube-apiserver", "--bind-address=" + cfg.BindAddress, "--secure-port=" + strconv.Itoa(cfg.APIPort),
		"--etcd-servers=" + strings.Join(etcdServers, ","),
		"--service-cluster-ip-range=" + cfg.ServiceCIDR.String(),
		"--client-ca-file=" + filepath.Join(pki, "ca.crt"),
		"--tls-cert-file=" + filepath.Join(pki, "apiserver.crt"), "--tls-private-key-file=" + filepath.Join(pki, "apiserver.key"),
		"--kubelet-client-certificate=" + filepath.Join(pki, "apiserver-kubelet-client.crt"),
		"--kubelet-client-key=" + filepath.Join(pki, "apiserver-kubelet-client.key"),
		"--etcd-compaction-interval=" + cfg.CompactionInterval.String(),
	}
	if adv != "" {
		api = append(api, "--advertise-address="+adv)
	}
	if cfg.TokenAuthFile != "" {
		api = append(api, "--token-auth-file="+cfg.TokenAuthFile)
	}
	s.process = "kube-apiserver"
	s.defs["kube-apiserver"] = staticPodDef{labels: cp, resources: requests("250m", ""), command: api}
	s.defs["kube-scheduler"] = staticPodDef{labels: cp, resources: requests("100m", ""), command: []string{
		"kube-scheduler", "--kubeconfig=" + filepath.Join(cfg.DataDir, "scheduler.kubeconfig"), "--leader-elect=true",
		"--bind-address=127.0.0.1", "--metrics-port=" + strconv.Itoa(schedulerMetricsPort),
	}}
	s.defs["kube-controller-manager"] = staticPodDef{labels: cp, resources: requests("200m", ""), command: []string{
		"kube-controller-manager", "--kubeconfig=" + filepath.Join(cfg.DataDir, "controller-manager.kubeconfig"),
		"--leader-elect=true", "--controllers=*", "--service-cluster-ip-range=" + cfg.ServiceCIDR.String(),
	}}
	if cfg.ClusterDNSPort > 0 {
		dns := staticPodDef{labels: map[string]string{"k8s-app": "kube-dns"}, resources: requests("100m", "70Mi"), command: []string{
			"coredns", "--kubeconfig=" + filepath.Join(cfg.DataDir, "coredns.kubeconfig"),
			"--cluster-domain=" + cfg.ClusterDomain, "--dns-port=" + strconv.Itoa(cfg.ClusterDNSPort),
		}}
		if cfg.ClusterDNS != nil {
			dns.command = append(dns.command, "--cluster-dns="+cfg.ClusterDNS.String())
		}
		dns.resources.Limits = v1.ResourceList{v1.ResourceMemory: resource.MustParse("170Mi")}
		s.defs["coredns"] = dns
	}
}

// proxy adds the pod of a node's kube-proxy.
func (s *staticPods) proxy(f proxyFlags, kubeconfig, nodeName, clusterCIDR string) {
	if s.process == "" {
		s.process = "kube-proxy"
	}
	cmd := []string{"kube-proxy"}
	if kubeconfig != "" { // an agent joined with --token has none
		cmd = append(cmd, "--kubeconfig="+kubeconfig)
	}
	cmd = append(cmd, "--hostname-override="+nodeName, "--cluster-cidr="+clusterCIDR, "--proxy-mode="+f.mode,
		"--iptables-sync-period="+f.syncPeriod.String(), "--iptables-min-sync-period="+f.minSyncPeriod.String())
	s.defs["kube-proxy"] = staticPodDef{labels: map[string]string{"k8s-app": "kube-proxy"}, command: cmd}
}

// requests is a container's cpu and memory requests (kubeadm's).
func requests(cpu, memory string) v1.ResourceRequirements {
	r := v1.ResourceRequirements{Requests: v1.ResourceList{}}
	if cpu != "" {
		r.Requests[v1.ResourceCPU] = resource.MustParse(cpu)
	}
	if memory != "" {
		r.Requests[v1.ResourceMemory] = resource.MustParse(memory)
	}
	return r
}

// notify tells the kubelet (kubelet.Config.StaticPodsChanged) that the
// components' state changed; it never blocks.
func (s *staticPods) notify() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// kubelet sets c's static pods: these components, synced as they change.
func (s *staticPods) kubelet(c *kubelet.Config) {
	c.StaticPods, c.StaticPodsChanged = s.list, s.changed
}

// attach makes m the source of the pods' state and lets the components
// whose failure others survive fail alone. It opens every shown
// component's log file now, moving the last process's aside, so that a
// component that has not logged yet shows an empty log, not the last
// run's.
func (s *staticPods) attach(m *component.Manager) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = m
	m.Tolerate = tolerated
	m.Changed = s.notify
	for name := range s.defs {
		s.logs.Open(name)
	}
}

// list is the kubelet's StaticPods: the shown components as the manager
// reports them.
func (s *staticPods) list() []kubelet.StaticPod {
	s.mu.Lock()
	m := s.m
	s.mu.Unlock()
	if m == nil {
		return nil
	}
	var out []kubelet.StaticPod
	for _, st := range m.Status() {
		def, ok := s.defs[st.Name]
		if !ok {
			continue
		}
		sp := staticPodOf(st, def, s.logs.Path(st.Name))
		sp.ReportsProcess = st.Name == s.process
		out = append(out, sp)
	}
	return out
}

// staticPodOf is one component's pod: its definition and its state.
func staticPodOf(st component.Status, def staticPodDef, logPath string) kubelet.StaticPod {
	sp := kubelet.StaticPod{
		Name: st.Name, Labels: def.labels, Command: def.command, Resources: def.resources,
		Image:   fmt.Sprintf("skiff.local/%s:%s", st.Name, strings.ReplaceAll(skiffVersion.GitVersion, "+", "-")),
		Started: st.Started, Ready: st.Ready, LogPath: logPath,
	}
	switch st.State {
	case component.Stopped:
		sp.Finished, sp.Reason = st.Finished, "Completed"
	case component.Failed:
		sp.Finished, sp.ExitCode, sp.Reason = st.Finished, 1, "Error"
		if st.Err != nil {
			sp.Message = st.Err.Error()
		}
	}
	return sp
}
