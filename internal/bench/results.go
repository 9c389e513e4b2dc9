package bench

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Results are the figures of one run. Times are in milliseconds or
// seconds as the field names say, sizes in bytes.
type Results struct {
	Date    time.Time     `json:"date"`
	Machine Machine       `json:"machine"`
	Config  ConfigSummary `json:"config"`
	// StoredPodBytes is the size of one bench pod as etcd holds it.
	StoredPodBytes int `json:"storedPodBytes"`
	// RawPutBytes is the size of each raw put's value.
	RawPutBytes int `json:"rawPutBytes"`

	// RawPut is clientv3 Puts on the API server's etcd: the ceiling.
	RawPut Throughput `json:"rawPut"`
	// RawCreate is, per pod, the etcd work the API server does to create
	// one (a create-if-absent transaction), made with the etcd client and
	// no HTTP.
	RawCreate Throughput `json:"rawCreate"`
	// Create is pod creates through client-go.
	Create Throughput `json:"create"`
	// CreateToRawPut is Create.PerSecond / RawPut.PerSecond.
	CreateToRawPut float64 `json:"createToRawPut"`
	// CreateToRawCreate is Create.PerSecond / RawCreate.PerSecond.
	CreateToRawCreate float64 `json:"createToRawCreate"`

	// GetSequential is single-pod GETs one after another; GetConcurrent the
	// same from Config.GetConcurrency clients at once.
	GetSequential Latency `json:"getSequential"`
	GetConcurrent Latency `json:"getConcurrent"`

	// ListJSON and ListProtobuf are full LISTs of the bench namespace.
	ListJSON     ListTiming `json:"listJSON"`
	ListProtobuf ListTiming `json:"listProtobuf"`

	// Watch is the watch fan-out; nil when skipped.
	Watch *WatchResult `json:"watch,omitempty"`

	// IdleRSS is this process (API server, embedded etcd and the idle
	// bench clients) after the load, a GC and a pause.
	IdleRSS Memory `json:"idleRSS"`
	// Children are idle servers in processes of their own.
	Children []ChildRSS `json:"children,omitempty"`

	// Phases are the wall and CPU time of each phase.
	Phases []PhaseCost `json:"phases"`
	// Targets are the targets and whether they were met.
	Targets []Target `json:"targets"`
}

// Machine describes where the run happened.
type Machine struct {
	Hostname    string `json:"hostname"`
	CPUModel    string `json:"cpuModel"`
	CPUs        int    `json:"cpus"`
	GOMAXPROCS  int    `json:"gomaxprocs"`
	MemoryBytes int64  `json:"memoryBytes"`
	GoVersion   string `json:"goVersion"`
	OS          string `json:"os"`
}

// ConfigSummary is the part of Config that shapes the figures.
type ConfigSummary struct {
	Writers          int  `json:"writers"`
	Pods             int  `json:"pods"`
	RawPuts          int  `json:"rawPuts"`
	RawRounds        int  `json:"rawRounds"`
	Gets             int  `json:"gets"`
	GetConcurrency   int  `json:"getConcurrency"`
	ListRuns         int  `json:"listRuns"`
	Watchers         int  `json:"watchers"`
	Events           int  `json:"events"`
	SharedConnection bool `json:"sharedConnection"`
}

func summarize(c Config) ConfigSummary {
	return ConfigSummary{Writers: c.Writers, Pods: c.Pods, RawPuts: c.RawPuts, RawRounds: c.RawRounds, Gets: c.Gets, GetConcurrency: c.GetConcurrency,
		ListRuns: c.ListRuns, Watchers: max(c.Watchers, 0), Events: c.Events, SharedConnection: c.SharedConnection}
}

// Throughput is a count of operations over a time.
type Throughput struct {
	Count     int     `json:"count"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"perSecond"`
	// P50Ms and P99Ms are the latencies of single operations.
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
	// Rounds are the rates of every round, when the figure is the median
	// of several.
	Rounds []float64 `json:"roundsPerSecond,omitempty"`
}

// Latency is the distribution of single-request times.
type Latency struct {
	Count       int     `json:"count"`
	Concurrency int     `json:"concurrency"`
	P50Ms       float64 `json:"p50Ms"`
	P90Ms       float64 `json:"p90Ms"`
	P99Ms       float64 `json:"p99Ms"`
	MaxMs       float64 `json:"maxMs"`
	PerSecond   float64 `json:"perSecond"`
}

// ListTiming is the time of full LISTs.
type ListTiming struct {
	Items    int       `json:"items"`
	Runs     []float64 `json:"runsMs"`
	MedianMs float64   `json:"medianMs"`
	MinMs    float64   `json:"minMs"`
}

// WatchResult is the fan-out of update events to watchers.
type WatchResult struct {
	Watchers int `json:"watchers"`
	Events   int `json:"events"`
	// Seconds runs from the first update to the last event received by
	// the last watcher; WriteSeconds from the first to the last update.
	Seconds      float64 `json:"seconds"`
	WriteSeconds float64 `json:"writeSeconds"`
	// DeliveredPerSecond is Watchers × Events / Seconds.
	DeliveredPerSecond float64 `json:"deliveredPerSecond"`
	// LagP50Ms and LagP99Ms are, per watcher, the time from the last
	// update's acknowledgement to that watcher's receiving it.
	LagP50Ms float64 `json:"lagP50Ms"`
	LagP99Ms float64 `json:"lagP99Ms"`
	// Rewatches counts how often watchers watched again from their last
	// resourceVersion after the server ended their watch.
	Rewatches int `json:"rewatches"`
	// Complete is true when every watcher received every event exactly
	// once and in order.
	Complete         bool     `json:"complete"`
	WatchersComplete int      `json:"watchersComplete"`
	MinReceived      int      `json:"minReceived"`
	Problems         []string `json:"problems,omitempty"`
}

// Memory is a process's resident memory from /proc/<pid>/status.
type Memory struct {
	RSSBytes     int64 `json:"rssBytes"`
	RSSAnonBytes int64 `json:"rssAnonBytes"`
	RSSFileBytes int64 `json:"rssFileBytes"`
	// HeapInuseBytes is Go's in-use heap (this process only).
	HeapInuseBytes int64 `json:"heapInuseBytes,omitempty"`
	// EtcdDBBytes is the size of etcd's bbolt file.
	EtcdDBBytes int64 `json:"etcdDBBytes,omitempty"`
	// Goroutines is the number of goroutines (this process only).
	Goroutines int `json:"goroutines,omitempty"`
}

// ChildRSS is the idle RSS of a `skiff apiserver` or `skiff server`
// child process.
type ChildRSS struct {
	Name    string  `json:"name"`
	Command string  `json:"command"`
	Memory  *Memory `json:"memory,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// PhaseCost is the wall and CPU time one phase took.
type PhaseCost struct {
	Name        string  `json:"name"`
	WallSeconds float64 `json:"wallSeconds"`
	CPUSeconds  float64 `json:"cpuSeconds"`
	// OtherCPUSeconds is CPU time other processes on the machine used (or
	// the hypervisor stole) during the phase: a sign of a noisy run.
	OtherCPUSeconds float64 `json:"otherCPUSeconds"`
}

// Target is one of the targets.
type Target struct {
	Name   string `json:"name"`
	Target string `json:"target"`
	Value  string `json:"value"`
	Pass   bool   `json:"pass"`
}

func evaluate(r *Results) []Target {
	t := []Target{
		{Name: "creates / raw etcd puts", Target: ">= 70%", Value: fmt.Sprintf("%.0f%%", 100*r.CreateToRawPut), Pass: r.CreateToRawPut >= 0.70},
		{Name: "GET p99 (sequential)", Target: "< 5 ms", Value: ms(r.GetSequential.P99Ms), Pass: r.GetSequential.P99Ms < 5},
		{Name: fmt.Sprintf("GET p99 (%d concurrent)", r.GetConcurrent.Concurrency), Target: "< 5 ms", Value: ms(r.GetConcurrent.P99Ms), Pass: r.GetConcurrent.P99Ms < 5},
		{Name: fmt.Sprintf("LIST %d pods, JSON", r.ListJSON.Items), Target: "< 300 ms", Value: ms(r.ListJSON.MedianMs), Pass: r.ListJSON.MedianMs < 300},
		{Name: fmt.Sprintf("LIST %d pods, protobuf", r.ListProtobuf.Items), Target: "< 300 ms", Value: ms(r.ListProtobuf.MedianMs), Pass: r.ListProtobuf.MedianMs < 300},
	}
	if w := r.Watch; w != nil {
		t = append(t, Target{Name: fmt.Sprintf("%d watchers x %d events", w.Watchers, w.Events), Target: "all delivered",
			Value: fmt.Sprintf("%d/%d watchers complete", w.WatchersComplete, w.Watchers), Pass: w.Complete})
	}
	t = append(t, Target{Name: "idle RSS after load (in-process)", Target: "< 80 MB", Value: mb(r.IdleRSS.RSSBytes), Pass: r.IdleRSS.RSSBytes < 80<<20})
	for _, c := range r.Children {
		if c.Memory != nil {
			t = append(t, Target{Name: "idle RSS, " + c.Name, Target: "< 80 MB", Value: mb(c.Memory.RSSBytes), Pass: c.Memory.RSSBytes < 80<<20})
		}
	}
	return t
}

func ms(v float64) string {
	if v < 10 {
		return fmt.Sprintf("%.2f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

func rates(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.0f", x)
	}
	return strings.Join(s, ", ")
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

// WriteTable prints the results for people.
func (r *Results) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }
	m := r.Machine
	p("Skiff API benchmark, %s", r.Date.Format("2006-01-02 15:04 MST"))
	p("machine: %s, %d CPUs (GOMAXPROCS %d), %.0f GiB, %s %s", m.CPUModel, m.CPUs, m.GOMAXPROCS, float64(m.MemoryBytes)/(1<<30), m.GoVersion, m.OS)
	c := r.Config
	conn := "one connection per client"
	if c.SharedConnection {
		conn = "one shared connection"
	}
	p("load: %d writers, %d pods (%d B stored), %d watchers x %d events, %s", c.Writers, c.Pods, r.StoredPodBytes, c.Watchers, c.Events, conn)
	p("")
	p("MEASURE\tRESULT\tDETAIL")
	p("raw etcd put\t%.0f /s\t%d puts of %d B in %.2fs (median of rounds at %s /s); p50 %s, p99 %s", r.RawPut.PerSecond, r.RawPut.Count, r.RawPutBytes, r.RawPut.Seconds, rates(r.RawPut.Rounds), ms(r.RawPut.P50Ms), ms(r.RawPut.P99Ms))
	p("raw etcd create txn (a create's etcd work)\t%.0f /s\t%d in %.2fs (median of rounds at %s /s); p50 %s, p99 %s", r.RawCreate.PerSecond, r.RawCreate.Count, r.RawCreate.Seconds, rates(r.RawCreate.Rounds), ms(r.RawCreate.P50Ms), ms(r.RawCreate.P99Ms))
	p("pod create (client-go, protobuf)\t%.0f /s\t%d creates in %.2fs; p50 %s, p99 %s; %.0f%% of raw puts, %.0f%% of raw create txns", r.Create.PerSecond, r.Create.Count, r.Create.Seconds, ms(r.Create.P50Ms), ms(r.Create.P99Ms), 100*r.CreateToRawPut, 100*r.CreateToRawCreate)
	for _, g := range []struct {
		name string
		l    Latency
	}{{"GET pod, sequential", r.GetSequential}, {fmt.Sprintf("GET pod, %d concurrent", r.GetConcurrent.Concurrency), r.GetConcurrent}} {
		p("%s\tp99 %s\tp50 %s, p90 %s, max %s; %.0f /s over %d GETs", g.name, ms(g.l.P99Ms), ms(g.l.P50Ms), ms(g.l.P90Ms), ms(g.l.MaxMs), g.l.PerSecond, g.l.Count)
	}
	for _, l := range []struct {
		name string
		t    ListTiming
	}{{"LIST pods, JSON", r.ListJSON}, {"LIST pods, protobuf", r.ListProtobuf}} {
		p("%s\t%s\tmedian of %d lists of %d pods; min %s", l.name, ms(l.t.MedianMs), len(l.t.Runs), l.t.Items, ms(l.t.MinMs))
	}
	if w := r.Watch; w != nil {
		p("watch fan-out\t%.0f events/s\t%d watchers x %d events in %.1fs (updates took %.1fs); lag p50 %s, p99 %s; %d/%d watchers complete; %d re-watches",
			w.DeliveredPerSecond, w.Watchers, w.Events, w.Seconds, w.WriteSeconds, ms(w.LagP50Ms), ms(w.LagP99Ms), w.WatchersComplete, w.Watchers, w.Rewatches)
		for _, pr := range w.Problems {
			p("  problem\t\t%s", pr)
		}
	}
	im := r.IdleRSS
	p("idle RSS after load, in-process\t%s\tanon %s, file %s; Go heap in use %s; etcd db %s; %d goroutines",
		mb(im.RSSBytes), mb(im.RSSAnonBytes), mb(im.RSSFileBytes), mb(im.HeapInuseBytes), mb(im.EtcdDBBytes), im.Goroutines)
	for _, c := range r.Children {
		if m := c.Memory; m != nil {
			p("idle RSS, %s\t%s\tanon %s, file %s; etcd db %s", c.Name, mb(m.RSSBytes), mb(m.RSSAnonBytes), mb(m.RSSFileBytes), mb(m.EtcdDBBytes))
		} else {
			p("idle RSS, %s\t-\t%s", c.Name, c.Error)
		}
	}
	p("")
	p("PHASE\tWALL\tCPU OF THIS PROCESS\tCPU OF OTHER PROCESSES")
	for _, ph := range r.Phases {
		share := func(s float64) float64 { return 100 * s / ph.WallSeconds / float64(max(m.CPUs, 1)) }
		p("%s\t%.1fs\t%.1fs (%.0f%% of %d cores)\t%.1fs (%.0f%%)", ph.Name, ph.WallSeconds, ph.CPUSeconds, share(ph.CPUSeconds), m.CPUs, ph.OtherCPUSeconds, share(ph.OtherCPUSeconds))
	}
	p("")
	p("TARGET\tVALUE\tGOAL\tPASS")
	for _, t := range r.Targets {
		mark := "yes"
		if !t.Pass {
			mark = "NO"
		}
		p("%s\t%s\t%s\t%s", t.Name, t.Value, t.Target, mark)
	}
	return tw.Flush()
}

// percentile returns the nearest-rank p-th percentile (0 < p <= 100) of
// sorted durations, in milliseconds.
func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(float64(len(sorted))*p/100+0.999999) - 1
	rank = min(max(rank, 0), len(sorted)-1)
	return float64(sorted[rank]) / float64(time.Millisecond)
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// cpuModel finds the first "model name" in /proc/cpuinfo.
func cpuModel(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
