package kubelet

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func fakeHost(files map[string]string, v2 bool) hostReader {
	return hostReader{
		readFile: func(p string) ([]byte, error) {
			if s, ok := files[p]; ok {
				return []byte(s), nil
			}
			return nil, fs.ErrNotExist
		},
		statfs: func(string) (uint64, uint64, uint64, uint64, error) {
			return 100 << 30, 60 << 30, 1000, 400, nil
		},
		cgroupV2: v2, cgroupRoot: "/sys/fs/cgroup",
	}
}

const (
	procStat = "cpu  100 5 50 1000 20 0 10 0 0 0\ncpu0 100 5 50 1000 20 0 10 0 0 0\nbtime 1700000000\n"
	meminfo  = "MemTotal:       16384 kB\nMemFree:         4096 kB\nInactive(file):  2048 kB\nAnonPages:       1024 kB\n"
)

func TestReadNodeReadings(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	cases := []struct {
		name  string
		files map[string]string
		v2    bool
		cpu   uint64
		usage uint64
		ws    uint64
		rss   uint64
	}{
		{
			name: "cgroup v1 root",
			files: map[string]string{
				"/proc/stat": procStat, "/proc/meminfo": meminfo,
				"/sys/fs/cgroup/cpuacct/cpuacct.usage":        "687147250717\n",
				"/sys/fs/cgroup/memory/memory.usage_in_bytes": "1806278656\n",
				"/sys/fs/cgroup/memory/memory.stat":           "cache 1\ntotal_rss 12603392\ntotal_inactive_file 1407012864\ntotal_pgfault 7\ntotal_pgmajfault 2\n",
			},
			cpu: 687147250717, usage: 1806278656, ws: 1806278656 - 1407012864, rss: 12603392,
		},
		{
			name: "cgroup v1 with cpu,cpuacct joined",
			files: map[string]string{
				"/proc/stat": procStat, "/proc/meminfo": meminfo,
				"/sys/fs/cgroup/cpu,cpuacct/cpuacct.usage": "42\n",
			},
			cpu: 42, usage: 12 << 20, ws: 10 << 20, rss: 1 << 20,
		},
		{
			name: "cgroup v2 root",
			files: map[string]string{
				"/proc/stat": procStat, "/proc/meminfo": meminfo,
				"/sys/fs/cgroup/cpu.stat": "usage_usec 5000\nuser_usec 4000\n",
			},
			v2: true, cpu: 5_000_000, usage: 12 << 20, ws: 10 << 20, rss: 1 << 20,
		},
		{
			name:  "no cgroup: /proc/stat busy time",
			files: map[string]string{"/proc/stat": procStat, "/proc/meminfo": meminfo},
			cpu:   (100 + 5 + 50 + 10) * 10_000_000, usage: 12 << 20, ws: 10 << 20, rss: 1 << 20,
		},
	}
	for _, c := range cases {
		r, err := readNodeReadings(fakeHost(c.files, c.v2), "/data", now)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if r.CPUUsageCoreNanoSeconds != c.cpu || r.MemoryUsageBytes != c.usage || r.MemoryWorkingSetBytes != c.ws || r.MemoryRSSBytes != c.rss {
			t.Errorf("%s: cpu %d usage %d ws %d rss %d", c.name, r.CPUUsageCoreNanoSeconds, r.MemoryUsageBytes, r.MemoryWorkingSetBytes, r.MemoryRSSBytes)
		}
		if r.MemoryTotalBytes != 16<<20 || r.BootTime.Unix() != 1700000000 || r.FsCapacityBytes != 100<<30 || r.FsUsedBytes != 40<<30 || !r.Time.Equal(now) {
			t.Errorf("%s: %+v", c.name, r)
		}
	}
	if _, err := readNodeReadings(fakeHost(nil, false), "/data", now); err == nil {
		t.Error("no /proc: want an error")
	}
}

func uv(v uint64) *runtimeapi.UInt64Value { return &runtimeapi.UInt64Value{Value: v} }

// fixedSummaryInput is one node running pod default/web (two containers,
// sandbox stats from the runtime) and kube-system/dns (one container, no
// sandbox stats), read 10 s after prev.
func fixedSummaryInput() summaryInput {
	t1 := time.Date(2026, 1, 2, 3, 4, 15, 0, time.UTC)
	ns := t1.UnixNano()
	created := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC).UnixNano()
	sb := func(id, name, ns, uid string) *runtimeapi.PodSandbox {
		return &runtimeapi.PodSandbox{Id: id, CreatedAt: created, Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: ns, Uid: uid}}
	}
	ct := func(id, sandbox, name string) *runtimeapi.Container {
		return &runtimeapi.Container{Id: id, PodSandboxId: sandbox, CreatedAt: created + int64(time.Second), Metadata: &runtimeapi.ContainerMetadata{Name: name}}
	}
	cst := func(id string, cpu, mem uint64) *runtimeapi.ContainerStats {
		return &runtimeapi.ContainerStats{
			Attributes: &runtimeapi.ContainerAttributes{Id: id},
			Cpu:        &runtimeapi.CpuUsage{Timestamp: ns, UsageCoreNanoSeconds: uv(cpu)},
			Memory:     &runtimeapi.MemoryUsage{Timestamp: ns, WorkingSetBytes: uv(mem)},
		}
	}
	return summaryInput{
		NodeName: "n1", NodeOK: true,
		Node: NodeReadings{
			Time: t1, BootTime: time.Unix(1700000000, 0), CPUUsageCoreNanoSeconds: 30e9,
			MemoryTotalBytes: 8 << 30, MemoryUsageBytes: 3 << 30, MemoryWorkingSetBytes: 2 << 30,
			FsCapacityBytes: 100 << 30, FsAvailableBytes: 60 << 30, FsUsedBytes: 40 << 30, FsInodes: 1000, FsInodesFree: 400,
		},
		Sandboxes:  []*runtimeapi.PodSandbox{sb("s-web", "web", "default", "u1"), sb("s-dns", "dns", "kube-system", "u2")},
		Containers: []*runtimeapi.Container{ct("c-app", "s-web", "app"), ct("c-side", "s-web", "sidecar"), ct("c-dns", "s-dns", "coredns")},
		ContainerStats: []*runtimeapi.ContainerStats{
			cst("c-app", 2e9, 50<<20), cst("c-side", 1e9, 10<<20), cst("c-dns", 500e6, 20<<20),
		},
		SandboxStats: []*runtimeapi.PodSandboxStats{{
			Attributes: &runtimeapi.PodSandboxAttributes{Id: "s-web"},
			Linux: &runtimeapi.LinuxPodSandboxStats{
				Cpu:    &runtimeapi.CpuUsage{Timestamp: ns, UsageCoreNanoSeconds: uv(3500e6), UsageNanoCores: uv(7e6)},
				Memory: &runtimeapi.MemoryUsage{Timestamp: ns, WorkingSetBytes: uv(64 << 20)},
			},
		}},
		Prev: map[string]cpuSample{
			"":      {t1.Add(-10 * time.Second), 20e9},
			"c-app": {t1.Add(-10 * time.Second), 1e9},
		},
	}
}

func TestBuildSummary(t *testing.T) {
	s, next := buildSummary(fixedSummaryInput())
	n := s.Node
	if n.NodeName != "n1" || *n.CPU.UsageCoreNanoSeconds != 30e9 || n.CPU.UsageNanoCores == nil || *n.CPU.UsageNanoCores != 1e9 {
		t.Errorf("node cpu: %+v", n.CPU)
	}
	if *n.Memory.WorkingSetBytes != 2<<30 || *n.Memory.AvailableBytes != 6<<30 || *n.Memory.UsageBytes != 3<<30 {
		t.Errorf("node memory: %+v", n.Memory)
	}
	if *n.Fs.CapacityBytes != 100<<30 || *n.Fs.InodesUsed != 600 {
		t.Errorf("node fs: %+v", n.Fs)
	}
	if len(s.Pods) != 2 || s.Pods[0].PodRef.Name != "web" || s.Pods[1].PodRef.Namespace != "kube-system" {
		t.Fatalf("pods in namespace/name order: %+v", s.Pods)
	}
	web, dns := s.Pods[0], s.Pods[1]
	if len(web.Containers) != 2 || web.Containers[0].Name != "app" || web.Containers[1].Name != "sidecar" {
		t.Fatalf("web containers: %+v", web.Containers)
	}
	app := web.Containers[0]
	if *app.CPU.UsageCoreNanoSeconds != 2e9 || *app.CPU.UsageNanoCores != 100e6 || *app.Memory.WorkingSetBytes != 50<<20 {
		t.Errorf("app: rate from the previous sample: %+v %+v", app.CPU, app.Memory)
	}
	if web.Containers[1].CPU.UsageNanoCores != nil {
		t.Error("sidecar has no previous sample: no rate yet")
	}
	if *web.CPU.UsageCoreNanoSeconds != 3500e6 || *web.CPU.UsageNanoCores != 7e6 || *web.Memory.WorkingSetBytes != 64<<20 {
		t.Errorf("web: the sandbox's own numbers: %+v %+v", web.CPU, web.Memory)
	}
	if *dns.CPU.UsageCoreNanoSeconds != 500e6 || *dns.Memory.WorkingSetBytes != 20<<20 {
		t.Errorf("dns: the sum of its containers: %+v %+v", dns.CPU, dns.Memory)
	}
	if next[""].usage != 30e9 || next["c-side"].usage != 1e9 || next["s-web"].usage != 3500e6 {
		t.Errorf("samples kept: %+v", next)
	}
	only := cpuAndMemoryOnly(s)
	b, _ := json.Marshal(only)
	if strings.Contains(string(b), "fs") || !strings.Contains(string(b), `"usageNanoCores":100000000`) {
		t.Errorf("only_cpu_and_memory: %s", b)
	}
}

func TestBuildSummaryWithoutNode(t *testing.T) {
	in := fixedSummaryInput()
	in.NodeOK = false
	s, _ := buildSummary(in)
	if s.Node.CPU != nil || s.Node.Memory != nil || len(s.Pods) != 2 {
		t.Errorf("pods without the node's numbers: %+v", s)
	}
}

func TestResourceMetrics(t *testing.T) {
	s, _ := buildSummary(fixedSummaryInput())
	want := `# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="app",namespace="default",pod="web"} 2 1767323055000
container_cpu_usage_seconds_total{container="coredns",namespace="kube-system",pod="dns"} 0.5 1767323055000
container_cpu_usage_seconds_total{container="sidecar",namespace="default",pod="web"} 1 1767323055000
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="app",namespace="default",pod="web"} 5.24288e+07 1767323055000
container_memory_working_set_bytes{container="coredns",namespace="kube-system",pod="dns"} 2.097152e+07 1767323055000
container_memory_working_set_bytes{container="sidecar",namespace="default",pod="web"} 1.048576e+07 1767323055000
# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container="app",namespace="default",pod="web"} 1.767322801e+09
container_start_time_seconds{container="coredns",namespace="kube-system",pod="dns"} 1.767322801e+09
container_start_time_seconds{container="sidecar",namespace="default",pod="web"} 1.767322801e+09
# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 30 1767323055000
# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 2.147483648e+09 1767323055000
# HELP pod_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the pod in core-seconds
# TYPE pod_cpu_usage_seconds_total counter
pod_cpu_usage_seconds_total{namespace="default",pod="web"} 3.5 1767323055000
pod_cpu_usage_seconds_total{namespace="kube-system",pod="dns"} 0.5 1767323055000
# HELP pod_memory_working_set_bytes [STABLE] Current working set of the pod in bytes
# TYPE pod_memory_working_set_bytes gauge
pod_memory_working_set_bytes{namespace="default",pod="web"} 6.7108864e+07 1767323055000
pod_memory_working_set_bytes{namespace="kube-system",pod="dns"} 2.097152e+07 1767323055000
# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise
# TYPE resource_scrape_error gauge
resource_scrape_error 0
# HELP scrape_error [ALPHA] (Deprecated since 1.29.0) 1 if there was an error while getting container metrics, 0 otherwise
# TYPE scrape_error gauge
scrape_error 0
`
	if got := exposition(t, resourceCollector{summary: &s}); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	failed := `# HELP resource_scrape_error [STABLE] 1 if there was an error while getting container metrics, 0 otherwise
# TYPE resource_scrape_error gauge
resource_scrape_error 1
# HELP scrape_error [ALPHA] (Deprecated since 1.29.0) 1 if there was an error while getting container metrics, 0 otherwise
# TYPE scrape_error gauge
scrape_error 1
`
	if got := exposition(t, resourceCollector{err: errors.New("runtime down")}); got != failed {
		t.Errorf("got\n%s\nwant\n%s", got, failed)
	}
}

// exposition is the Prometheus text a collector renders.
func exposition(t *testing.T, c prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

func TestAuthorizeRequest(t *testing.T) {
	admin := &requestUser{Name: "kube-apiserver-kubelet-client", Groups: []string{"system:masters"}}
	bob := &requestUser{Name: "bob", Groups: []string{"dev"}}
	cases := []struct {
		user   *requestUser
		method string
		path   string
		code   int
		msg    string
	}{
		{nil, "GET", "/pods", http.StatusUnauthorized, "Unauthorized"},
		{admin, "POST", "/exec/default/p/c", http.StatusOK, ""},
		{admin, "GET", "/stats/summary", http.StatusOK, ""},
		{bob, "GET", "/stats/summary", http.StatusForbidden, "Forbidden (user=bob, verb=get, resource=nodes, subresource=stats)"},
		{bob, "GET", "/metrics/resource", http.StatusForbidden, "Forbidden (user=bob, verb=get, resource=nodes, subresource=metrics)"},
		{bob, "POST", "/exec/default/p/c", http.StatusForbidden, "Forbidden (user=bob, verb=create, resource=nodes, subresource=proxy)"},
		{bob, "GET", "/containerLogs/default/p/c", http.StatusForbidden, "Forbidden (user=bob, verb=get, resource=nodes, subresource=proxy)"},
		{bob, "GET", "/pods", http.StatusForbidden, "Forbidden (user=bob, verb=get, resource=nodes, subresource=pods)"},
		{bob, "GET", "/statsx", http.StatusForbidden, "Forbidden (user=bob, verb=get, resource=nodes, subresource=proxy)"},
	}
	for _, c := range cases {
		code, msg := authorizeRequest(c.user, c.method, c.path)
		if code != c.code || msg != c.msg {
			t.Errorf("%v %s %s: %d %q, want %d %q", c.user, c.method, c.path, code, msg, c.code, c.msg)
		}
	}
}
