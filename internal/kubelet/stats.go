package kubelet

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// NodeReadings are the node's own numbers in /stats/summary and
// /metrics/resource, read at Time. Zero means not known.
type NodeReadings struct {
	Time time.Time
	// BootTime is the node's start time.
	BootTime time.Time
	// CPUUsageCoreNanoSeconds is the cumulative CPU time of the root
	// cgroup (or of /proc/stat without one).
	CPUUsageCoreNanoSeconds uint64
	// Memory of the root cgroup; WorkingSetBytes is usage minus inactive
	// file pages, as cAdvisor's.
	MemoryTotalBytes      uint64
	MemoryUsageBytes      uint64
	MemoryWorkingSetBytes uint64
	MemoryRSSBytes        uint64
	PageFaults            uint64
	MajorPageFaults       uint64
	// Fs* describe the filesystem of the kubelet's DataDir.
	FsCapacityBytes  uint64
	FsAvailableBytes uint64
	FsUsedBytes      uint64
	FsInodes         uint64
	FsInodesFree     uint64
}

// SimulatedNodeReadings returns a NodeStats reader for a simulated node:
// a quiet machine of m's size whose CPU time grows with a 2% load.
func SimulatedNodeReadings(m MachineInfo, clk interface{ Now() time.Time }) func() (NodeReadings, error) {
	boot := clk.Now()
	return func() (NodeReadings, error) {
		now := clk.Now()
		used := uint64(m.MemoryBytes) / 20
		return NodeReadings{
			Time: now, BootTime: boot,
			CPUUsageCoreNanoSeconds: uint64(now.Sub(boot).Nanoseconds()) * uint64(max(m.CPUs, 1)) / 50,
			MemoryTotalBytes:        uint64(m.MemoryBytes), MemoryUsageBytes: used, MemoryWorkingSetBytes: used,
			MemoryRSSBytes:   used / 2,
			FsCapacityBytes:  uint64(m.EphemeralStorageBytes),
			FsAvailableBytes: uint64(m.EphemeralStorageBytes) * 9 / 10,
			FsUsedBytes:      uint64(m.EphemeralStorageBytes) / 10,
		}, nil
	}
}

// hostReader is where readNodeReadings reads: files (of /proc and the
// cgroup root) and statfs. Tests replace both.
type hostReader struct {
	readFile func(path string) ([]byte, error)
	// statfs answers capacity, available, inodes and free inodes.
	statfs func(path string) (capacity, available, inodes, inodesFree uint64, err error)
	// cgroupV2 says the cgroup root is the unified hierarchy.
	cgroupV2   bool
	cgroupRoot string
}

// newHostReader reads this host, under cgroupRoot (usually
// /sys/fs/cgroup).
func newHostReader(cgroupRoot string) hostReader {
	var fs syscall.Statfs_t
	v2 := syscall.Statfs(cgroupRoot, &fs) == nil && fs.Type == 0x63677270 // CGROUP2_SUPER_MAGIC
	return hostReader{
		readFile:   os.ReadFile,
		cgroupV2:   v2,
		cgroupRoot: cgroupRoot,
		statfs: func(path string) (uint64, uint64, uint64, uint64, error) {
			var s syscall.Statfs_t
			if err := syscall.Statfs(path, &s); err != nil {
				return 0, 0, 0, 0, err
			}
			bs := uint64(s.Bsize)
			return s.Blocks * bs, s.Bavail * bs, s.Files, s.Ffree, nil
		},
	}
}

// keyValues parses "key value" lines (memory.stat, cpu.stat, vmstat,
// /proc/stat); /proc/meminfo's "Key:   123 kB" too, in bytes.
func keyValues(b []byte) map[string]uint64 {
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		n, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			continue
		}
		if len(f) == 3 && f[2] == "kB" {
			n *= 1024
		}
		out[strings.TrimSuffix(f[0], ":")] = n
	}
	return out
}

// readNodeReadings reads the node's numbers: CPU and memory of the cgroup
// root (v1: cpuacct and memory controllers; v2: cpu.stat, and
// /proc/meminfo since the v2 root has no memory.current), falling back to
// /proc/stat and /proc/meminfo; the filesystem of dataDir.
func readNodeReadings(h hostReader, dataDir string, now time.Time) (NodeReadings, error) {
	r := NodeReadings{Time: now}
	procStat, err := h.readFile("/proc/stat")
	if err != nil {
		return r, fmt.Errorf("read /proc/stat: %w", err)
	}
	if bt := keyValues(procStat)["btime"]; bt > 0 {
		r.BootTime = time.Unix(int64(bt), 0)
	}
	meminfoRaw, err := h.readFile("/proc/meminfo")
	if err != nil {
		return r, fmt.Errorf("read /proc/meminfo: %w", err)
	}
	meminfo := keyValues(meminfoRaw)
	r.MemoryTotalBytes = meminfo["MemTotal"]

	cpuFromCgroup := false
	if h.cgroupV2 {
		if b, err := h.readFile(filepath.Join(h.cgroupRoot, "cpu.stat")); err == nil {
			if us, ok := keyValues(b)["usage_usec"]; ok {
				r.CPUUsageCoreNanoSeconds, cpuFromCgroup = us*1000, true
			}
		}
	} else {
		for _, dir := range []string{"cpuacct", "cpu,cpuacct"} {
			if b, err := h.readFile(filepath.Join(h.cgroupRoot, dir, "cpuacct.usage")); err == nil {
				if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
					r.CPUUsageCoreNanoSeconds, cpuFromCgroup = n, true
					break
				}
			}
		}
	}
	if !cpuFromCgroup {
		r.CPUUsageCoreNanoSeconds = procStatCPU(procStat)
	}

	memFromCgroup := false
	if !h.cgroupV2 {
		usage, uerr := h.readFile(filepath.Join(h.cgroupRoot, "memory", "memory.usage_in_bytes"))
		stat, serr := h.readFile(filepath.Join(h.cgroupRoot, "memory", "memory.stat"))
		if uerr == nil && serr == nil {
			if n, err := strconv.ParseUint(strings.TrimSpace(string(usage)), 10, 64); err == nil {
				s := keyValues(stat)
				r.MemoryUsageBytes = n
				r.MemoryWorkingSetBytes = n - min(n, s["total_inactive_file"])
				r.MemoryRSSBytes = s["total_rss"]
				r.PageFaults, r.MajorPageFaults = s["total_pgfault"], s["total_pgmajfault"]
				memFromCgroup = true
			}
		}
	}
	if !memFromCgroup {
		r.MemoryUsageBytes = r.MemoryTotalBytes - min(r.MemoryTotalBytes, meminfo["MemFree"])
		r.MemoryWorkingSetBytes = r.MemoryUsageBytes - min(r.MemoryUsageBytes, meminfo["Inactive(file)"])
		r.MemoryRSSBytes = meminfo["AnonPages"]
		if b, err := h.readFile("/proc/vmstat"); err == nil {
			vm := keyValues(b)
			r.PageFaults, r.MajorPageFaults = vm["pgfault"], vm["pgmajfault"]
		}
	}
	if h.statfs != nil {
		capacity, avail, inodes, free, err := h.statfs(dataDir)
		if err != nil {
			return r, fmt.Errorf("statfs %s: %w", dataDir, err)
		}
		r.FsCapacityBytes, r.FsAvailableBytes, r.FsInodes, r.FsInodesFree = capacity, avail, inodes, free
		r.FsUsedBytes = capacity - min(capacity, avail)
	}
	return r, nil
}

// procStatCPU is the busy CPU time of /proc/stat's "cpu" line (all but
// idle and iowait), in nanoseconds (USER_HZ is 100 on Linux).
func procStatCPU(b []byte) uint64 {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || f[0] != "cpu" {
			continue
		}
		var busy uint64
		for i, s := range f[1:] {
			if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest times are in user already
				continue
			}
			n, _ := strconv.ParseUint(s, 10, 64)
			busy += n
		}
		return busy * uint64(time.Second/100)
	}
	return 0
}

// cpuSample is a cumulative CPU reading, kept between scrapes to derive
// usageNanoCores.
type cpuSample struct {
	at    time.Time
	usage uint64
}

// nanoCores is the CPU rate between two samples, or nil without a usable
// earlier one (as upstream's CRI stats provider on a first scrape).
func nanoCores(prev cpuSample, ok bool, cur cpuSample) *uint64 {
	if !ok || !cur.at.After(prev.at) || cur.usage < prev.usage {
		return nil
	}
	v := uint64(float64(cur.usage-prev.usage) / cur.at.Sub(prev.at).Seconds())
	return &v
}

// summaryInput is everything /stats/summary is made of.
type summaryInput struct {
	NodeName string
	Node     NodeReadings
	// NodeOK is false when the node could not be read: the node's
	// numbers are left out.
	NodeOK bool
	// Sandboxes are the ready sandboxes, Containers the running ones.
	Sandboxes      []*runtimeapi.PodSandbox
	SandboxStats   []*runtimeapi.PodSandboxStats
	Containers     []*runtimeapi.Container
	ContainerStats []*runtimeapi.ContainerStats
	ImageFs        []*runtimeapi.FilesystemUsage
	// Prev are the CPU samples of the previous summary, by container or
	// sandbox ID, and "" for the node.
	Prev map[string]cpuSample
}

func u64(v uint64) *uint64 { return &v }

// criValue is a CRI optional value, nil when absent.
func criValue(v *runtimeapi.UInt64Value) *uint64 {
	if v == nil {
		return nil
	}
	return u64(v.Value)
}

// buildSummary is the stats/v1alpha1 Summary, and the CPU samples to keep
// for the next one. It is pure.
func buildSummary(in summaryInput) (statsapi.Summary, map[string]cpuSample) {
	next := map[string]cpuSample{}
	s := statsapi.Summary{Node: statsapi.NodeStats{NodeName: in.NodeName}, Pods: []statsapi.PodStats{}}
	if in.NodeOK {
		n := in.Node
		t := metav1.NewTime(n.Time)
		s.Node.StartTime = metav1.NewTime(n.BootTime)
		cur := cpuSample{n.Time, n.CPUUsageCoreNanoSeconds}
		prev, ok := in.Prev[""]
		next[""] = cur
		s.Node.CPU = &statsapi.CPUStats{Time: t, UsageCoreNanoSeconds: u64(n.CPUUsageCoreNanoSeconds), UsageNanoCores: nanoCores(prev, ok, cur)}
		s.Node.Memory = &statsapi.MemoryStats{
			Time: t, UsageBytes: u64(n.MemoryUsageBytes), WorkingSetBytes: u64(n.MemoryWorkingSetBytes),
			RSSBytes: u64(n.MemoryRSSBytes), PageFaults: u64(n.PageFaults), MajorPageFaults: u64(n.MajorPageFaults),
		}
		if n.MemoryTotalBytes > 0 {
			s.Node.Memory.AvailableBytes = u64(n.MemoryTotalBytes - min(n.MemoryTotalBytes, n.MemoryWorkingSetBytes))
		}
		if n.FsCapacityBytes > 0 {
			s.Node.Fs = &statsapi.FsStats{
				Time: t, CapacityBytes: u64(n.FsCapacityBytes), AvailableBytes: u64(n.FsAvailableBytes), UsedBytes: u64(n.FsUsedBytes),
				Inodes: u64(n.FsInodes), InodesFree: u64(n.FsInodesFree), InodesUsed: u64(n.FsInodes - min(n.FsInodes, n.FsInodesFree)),
			}
		}
		if len(in.ImageFs) > 0 {
			f := in.ImageFs[0]
			fs := &statsapi.FsStats{Time: metav1.NewTime(time.Unix(0, f.GetTimestamp())), UsedBytes: criValue(f.GetUsedBytes()), InodesUsed: criValue(f.GetInodesUsed())}
			if s.Node.Fs != nil {
				// Capacity is taken as the node's: the runtime's state
				// usually lives on the same disk as the kubelet's.
				fs.CapacityBytes, fs.AvailableBytes = s.Node.Fs.CapacityBytes, s.Node.Fs.AvailableBytes
			}
			s.Node.Runtime = &statsapi.RuntimeStats{ImageFs: fs, ContainerFs: fs}
		}
	}

	sandboxStats := map[string]*runtimeapi.PodSandboxStats{}
	for _, st := range in.SandboxStats {
		sandboxStats[st.GetAttributes().GetId()] = st
	}
	containerStats := map[string]*runtimeapi.ContainerStats{}
	for _, st := range in.ContainerStats {
		containerStats[st.GetAttributes().GetId()] = st
	}
	bySandbox := map[string][]*runtimeapi.Container{}
	for _, c := range in.Containers {
		bySandbox[c.PodSandboxId] = append(bySandbox[c.PodSandboxId], c)
	}
	for _, sb := range in.Sandboxes {
		md := sb.GetMetadata()
		p := statsapi.PodStats{
			PodRef:     statsapi.PodReference{Name: md.GetName(), Namespace: md.GetNamespace(), UID: md.GetUid()},
			StartTime:  metav1.NewTime(time.Unix(0, sb.CreatedAt)),
			Containers: []statsapi.ContainerStats{},
		}
		var sumCPU, sumMem uint64
		var sumNano *uint64
		var latest time.Time
		haveCPU, haveMem := false, false
		for _, c := range bySandbox[sb.Id] {
			cs := statsapi.ContainerStats{Name: c.GetMetadata().GetName(), StartTime: metav1.NewTime(time.Unix(0, c.CreatedAt))}
			if st := containerStats[c.Id]; st != nil {
				if cs.CPU = criCPU(st.GetCpu(), c.Id, in.Prev, next); cs.CPU != nil {
					sumCPU += *cs.CPU.UsageCoreNanoSeconds
					haveCPU = true
					if nano := cs.CPU.UsageNanoCores; nano != nil {
						sumNano = u64(valueOr(sumNano) + *nano)
					}
					latest = later(latest, cs.CPU.Time.Time)
				}
				if mem := st.GetMemory(); mem != nil && mem.GetWorkingSetBytes() != nil {
					at := time.Unix(0, mem.GetTimestamp())
					cs.Memory = &statsapi.MemoryStats{
						Time: metav1.NewTime(at), WorkingSetBytes: criValue(mem.GetWorkingSetBytes()),
						UsageBytes: criValue(mem.GetUsageBytes()), RSSBytes: criValue(mem.GetRssBytes()),
						AvailableBytes: criValue(mem.GetAvailableBytes()),
						PageFaults:     criValue(mem.GetPageFaults()), MajorPageFaults: criValue(mem.GetMajorPageFaults()),
					}
					sumMem += mem.GetWorkingSetBytes().GetValue()
					haveMem = true
					latest = later(latest, at)
				}
				if wl := st.GetWritableLayer(); wl != nil {
					cs.Rootfs = &statsapi.FsStats{Time: metav1.NewTime(time.Unix(0, wl.GetTimestamp())), UsedBytes: criValue(wl.GetUsedBytes()), InodesUsed: criValue(wl.GetInodesUsed())}
					if rt := s.Node.Runtime; rt != nil && rt.ImageFs != nil {
						cs.Rootfs.CapacityBytes, cs.Rootfs.AvailableBytes = rt.ImageFs.CapacityBytes, rt.ImageFs.AvailableBytes
					}
				}
			}
			p.Containers = append(p.Containers, cs)
		}
		sort.Slice(p.Containers, func(i, j int) bool { return p.Containers[i].Name < p.Containers[j].Name })
		// The sandbox's own cgroup numbers when the runtime gives them,
		// else the sum of its containers'.
		lx := sandboxStats[sb.Id].GetLinux()
		if p.CPU = criCPU(lx.GetCpu(), sb.Id, in.Prev, next); p.CPU == nil && haveCPU {
			p.CPU = &statsapi.CPUStats{Time: metav1.NewTime(latest), UsageCoreNanoSeconds: u64(sumCPU), UsageNanoCores: sumNano}
		}
		if mem := lx.GetMemory(); mem != nil && mem.GetWorkingSetBytes() != nil {
			p.Memory = &statsapi.MemoryStats{
				Time: metav1.NewTime(time.Unix(0, mem.GetTimestamp())), WorkingSetBytes: criValue(mem.GetWorkingSetBytes()),
				UsageBytes: criValue(mem.GetUsageBytes()), RSSBytes: criValue(mem.GetRssBytes()), AvailableBytes: criValue(mem.GetAvailableBytes()),
			}
		} else if haveMem {
			p.Memory = &statsapi.MemoryStats{Time: metav1.NewTime(latest), WorkingSetBytes: u64(sumMem)}
		}
		if nw := lx.GetNetwork(); nw != nil && nw.GetDefaultInterface() != nil {
			d := nw.GetDefaultInterface()
			p.Network = &statsapi.NetworkStats{
				Time: metav1.NewTime(time.Unix(0, nw.GetTimestamp())),
				InterfaceStats: statsapi.InterfaceStats{
					Name: d.GetName(), RxBytes: criValue(d.GetRxBytes()), RxErrors: criValue(d.GetRxErrors()),
					TxBytes: criValue(d.GetTxBytes()), TxErrors: criValue(d.GetTxErrors()),
				},
			}
		}
		s.Pods = append(s.Pods, p)
	}
	sort.Slice(s.Pods, func(i, j int) bool {
		a, b := s.Pods[i].PodRef, s.Pods[j].PodRef
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return s, next
}

// criCPU is a CRI CPU reading of the container or sandbox id, its rate
// from the runtime or else from the previous sample, which it replaces in
// next. Nil without a reading.
func criCPU(cpu *runtimeapi.CpuUsage, id string, prev, next map[string]cpuSample) *statsapi.CPUStats {
	if cpu == nil || cpu.GetUsageCoreNanoSeconds() == nil {
		return nil
	}
	cur := cpuSample{time.Unix(0, cpu.GetTimestamp()), cpu.GetUsageCoreNanoSeconds().GetValue()}
	last, ok := prev[id]
	next[id] = cur
	nano := criValue(cpu.GetUsageNanoCores())
	if nano == nil {
		nano = nanoCores(last, ok, cur)
	}
	return &statsapi.CPUStats{Time: metav1.NewTime(cur.at), UsageCoreNanoSeconds: u64(cur.usage), UsageNanoCores: nano}
}

func valueOr(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// statsCache keeps the CPU samples between summaries.
type statsCache struct {
	mu   sync.Mutex
	prev map[string]cpuSample
}

// summary reads the node and the runtime and builds the Summary. The
// runtime's sandbox stats are optional (the summary falls back to its
// containers'); failing to list sandboxes or containers is an error.
func (k *Kubelet) summary(ctx context.Context) (statsapi.Summary, error) {
	in := summaryInput{NodeName: k.cfg.NodeName}
	var err error
	in.Node, err = k.cfg.NodeStats()
	if err != nil {
		k.log.Warn("reading node stats", "err", err)
	} else {
		in.NodeOK = true
	}
	rt := k.cfg.Runtime
	in.Sandboxes, err = rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}})
	if err != nil {
		return statsapi.Summary{}, fmt.Errorf("list pod sandboxes: %w", err)
	}
	in.Containers, err = rt.ListContainers(ctx, &runtimeapi.ContainerFilter{State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}})
	if err != nil {
		return statsapi.Summary{}, fmt.Errorf("list containers: %w", err)
	}
	if in.ContainerStats, err = rt.ListContainerStats(ctx, &runtimeapi.ContainerStatsFilter{}); err != nil {
		k.log.Warn("listing container stats", "err", err)
	}
	if in.SandboxStats, err = rt.ListPodSandboxStats(ctx, &runtimeapi.PodSandboxStatsFilter{}); err != nil {
		k.log.Debug("listing pod sandbox stats", "err", err)
	}
	if fs, err := k.cfg.Images.ImageFsInfo(ctx); err == nil {
		in.ImageFs = fs.GetImageFilesystems()
	}
	k.stats.mu.Lock()
	defer k.stats.mu.Unlock()
	in.Prev = k.stats.prev
	s, next := buildSummary(in)
	k.stats.prev = next
	s.Pods = append(s.Pods, k.staticPodStats()...)
	return s, nil
}

func (k *Kubelet) serveSummary(w http.ResponseWriter, r *http.Request) {
	s, err := k.summary(r.Context())
	if err != nil {
		http.Error(w, fmt.Sprintf("Internal Error: failed to get node info: %v", err), http.StatusInternalServerError)
		return
	}
	if v := r.URL.Query().Get("only_cpu_and_memory"); v == "true" {
		s = cpuAndMemoryOnly(s)
	}
	writeJSON(w, &s)
}

// cpuAndMemoryOnly is the summary metrics-server asks for with
// only_cpu_and_memory=true.
func cpuAndMemoryOnly(s statsapi.Summary) statsapi.Summary {
	out := statsapi.Summary{Node: statsapi.NodeStats{
		NodeName: s.Node.NodeName, StartTime: s.Node.StartTime, CPU: s.Node.CPU, Memory: s.Node.Memory,
	}, Pods: make([]statsapi.PodStats, 0, len(s.Pods))}
	for _, p := range s.Pods {
		q := statsapi.PodStats{PodRef: p.PodRef, StartTime: p.StartTime, CPU: p.CPU, Memory: p.Memory}
		for _, c := range p.Containers {
			q.Containers = append(q.Containers, statsapi.ContainerStats{Name: c.Name, StartTime: c.StartTime, CPU: c.CPU, Memory: c.Memory})
		}
		out.Pods = append(out.Pods, q)
	}
	return out
}
