package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/controlplane"
	"github.com/skiff-sh/skiff/internal/scheduler"
)

// SchedulerConfig says what `skiff bench scheduler` measures. Zero values
// take the defaults noted on each field.
type SchedulerConfig struct {
	// DataDir is where the control plane keeps its data. Default: a new
	// temporary directory, removed when RunScheduler returns.
	DataDir string
	// Nodes is how many Node objects exist (no kubelets). Default 5,000.
	Nodes int
	// Pods is how many pods are created at once for the scheduler to
	// place. Default 10,000.
	Pods int
	// Writers is how many clients create pods concurrently. Default 16.
	Writers int
	// Timeout bounds the wait for the last binding. Default 5 minutes.
	Timeout time.Duration
	// CPUProfile, when set, receives a CPU profile of the pod phase (from
	// the first create to the last binding). Goroutines carry the label
	// skiff=server (etcd, API server), skiff=scheduler or skiff=client.
	CPUProfile string
	// Logger receives the control plane's and the scheduler's logs.
	// Default: discarded.
	Logger *slog.Logger
	// Progress, when set, gets a line as each phase starts and ends.
	Progress io.Writer
}

// SchedulerResults are the figures of one `skiff bench scheduler` run.
type SchedulerResults struct {
	Date    time.Time `json:"date"`
	Machine Machine   `json:"machine"`
	Nodes   int       `json:"nodes"`
	Pods    int       `json:"pods"`
	Writers int       `json:"writers"`
	// NodeCreate is the creation of the Node objects.
	NodeCreate Throughput `json:"nodeCreate"`
	// SchedulerSyncMs is how long the scheduler took to list and cache
	// the nodes before it could schedule.
	SchedulerSyncMs float64 `json:"schedulerSyncMs"`
	// Create is the pod creates, alone (first create to last answer).
	Create Throughput `json:"create"`
	// Bound is the headline: pods bound per second from the first create
	// to the last binding the API server answered.
	Bound Throughput `json:"bound"`
	// Latency is per pod, from the start of its create request to the
	// answer to its binding.
	Latency Latency `json:"latency"`
	// CPUSeconds is this process's CPU time during the pod phase (API
	// server, etcd, scheduler and the bench's clients together);
	// OtherCPUSeconds what other processes on the machine used meanwhile,
	// a sign of a noisy run.
	CPUSeconds      float64 `json:"cpuSeconds"`
	OtherCPUSeconds float64 `json:"otherCPUSeconds"`
	// Target is the issue's: at least 1000 pods bound per second for
	// 5000 nodes and 10,000 pods.
	Target Target `json:"target"`
}

func (c *SchedulerConfig) setDefaults() {
	if c.Nodes == 0 {
		c.Nodes = 5000
	}
	if c.Pods == 0 {
		c.Pods = 10000
	}
	if c.Writers == 0 {
		c.Writers = 16
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

// RunScheduler starts a control plane and the scheduler in this process,
// wired as `skiff server` wires them (the scheduler a client over HTTPS
// with its own certificate), creates the nodes, then the pods all at once,
// and measures how fast they are bound.
func RunScheduler(ctx context.Context, cfg SchedulerConfig) (*SchedulerResults, error) {
	cfg.setDefaults()
	if cfg.Nodes < 1 || cfg.Pods < 1 || cfg.Writers < 1 {
		return nil, errors.New("bench: nodes, pods and writers must be positive")
	}
	progress := func(format string, args ...any) {
		fmt.Fprintf(cfg.Progress, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	res := &SchedulerResults{Date: time.Now().UTC(), Machine: describeMachine(), Nodes: cfg.Nodes, Pods: cfg.Pods, Writers: cfg.Writers}
	dir := cfg.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "skiff-bench-scheduler-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	cp, err := startControlPlane(ctx, filepath.Join(dir, "server"), cfg.Logger)
	if err != nil {
		return nil, err
	}
	defer cp.stop()
	clients := make([]*client, cfg.Writers)
	for i := range clients {
		if clients[i], err = cp.newClient(false, false); err != nil {
			return nil, err
		}
		defer clients[i].close()
	}
	forEach := func(ctx context.Context, n int, op func(ctx context.Context, i int, c *client) error) error {
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		var next atomic.Int64
		var wg sync.WaitGroup
		for _, c := range clients {
			wg.Go(func() {
				pprof.SetGoroutineLabels(ctx)
				for {
					i := int(next.Add(1)) - 1
					if i >= n || ctx.Err() != nil {
						return
					}
					if err := op(ctx, i, c); err != nil {
						cancel(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
		return ctx.Err()
	}

	var clientCtx context.Context
	pprof.Do(ctx, pprof.Labels("skiff", "client"), func(c context.Context) { clientCtx = c })

	progress("nodes: creating %d", cfg.Nodes)
	start := time.Now()
	if err := forEach(clientCtx, cfg.Nodes, func(ctx context.Context, i int, c *client) error {
		_, err := c.CoreV1().Nodes().Create(ctx, schedulerBenchNode(i), metav1.CreateOptions{})
		return err
	}); err != nil {
		return nil, fmt.Errorf("creating nodes: %w", err)
	}
	el := time.Since(start)
	res.NodeCreate = Throughput{Count: cfg.Nodes, Seconds: el.Seconds(), PerSecond: float64(cfg.Nodes) / el.Seconds()}
	progress("nodes: %d in %.1fs", cfg.Nodes, el.Seconds())

	path, err := controlplane.ComponentKubeconfig(cp.cfg, "scheduler", "system:kube-scheduler", []string{"system:masters"})
	if err != nil {
		return nil, err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, err
	}
	rc.Host = cp.rest.Host

	// A pod is bound when the API server answers its binding: the
	// scheduler's transport notes the time. (A watch would say the same a
	// little later, and decoding 20,000 JSON events would cost the run
	// about 7% of its CPU.)
	const namespace = "default"
	created := make([]time.Time, cfg.Pods)
	bound := make([]time.Time, cfg.Pods)
	index := make(map[string]int, cfg.Pods)
	for i := range cfg.Pods {
		index[podName(i)] = i
	}
	var numBound atomic.Int64
	allBound := make(chan struct{})
	rc.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := rt.RoundTrip(req)
			if err != nil || req.Method != http.MethodPost || resp.StatusCode != http.StatusCreated {
				return resp, err
			}
			rest, ok := strings.CutPrefix(req.URL.Path, "/api/v1/namespaces/"+namespace+"/pods/")
			if !ok {
				return resp, err
			}
			name, ok := strings.CutSuffix(rest, "/binding")
			if i, known := index[name]; ok && known {
				bound[i] = time.Now()
				if numBound.Add(1) == int64(cfg.Pods) {
					close(allBound)
				}
			}
			return resp, err
		})
	})
	sched, err := scheduler.New(scheduler.Config{RESTConfig: rc, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	schedCtx, stopSched := context.WithCancel(context.Background())
	schedDone := make(chan error, 1)
	start = time.Now()
	pprof.Do(schedCtx, pprof.Labels("skiff", "scheduler"), func(ctx context.Context) {
		go func() { schedDone <- sched.Run(ctx) }()
	})
	defer func() {
		stopSched()
		<-schedDone
	}()
	for !sched.Leading() {
		select {
		case err := <-schedDone:
			return nil, fmt.Errorf("scheduler stopped: %v", err)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	res.SchedulerSyncMs = float64(time.Since(start)) / float64(time.Millisecond)
	progress("scheduler: synced in %.0fms", res.SchedulerSyncMs)

	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return nil, err
		}
		defer pprof.StopCPUProfile()
	}
	progress("pods: creating %d with %d writers", cfg.Pods, cfg.Writers)
	cpu0, busy0 := cpuTime(), machineBusy()
	start = time.Now()
	if err := forEach(clientCtx, cfg.Pods, func(ctx context.Context, i int, c *client) error {
		created[i] = time.Now()
		_, err := c.CoreV1().Pods(namespace).Create(ctx, benchPod(namespace, podName(i)), metav1.CreateOptions{})
		return err
	}); err != nil {
		return nil, fmt.Errorf("creating pods: %w", err)
	}
	el = time.Since(start)
	res.Create = Throughput{Count: cfg.Pods, Seconds: el.Seconds(), PerSecond: float64(cfg.Pods) / el.Seconds()}
	progress("pods: created in %.1fs; waiting for the bindings", el.Seconds())
	select {
	case <-allBound:
	case <-time.After(cfg.Timeout):
		return nil, fmt.Errorf("%d of %d pods bound in %v", numBound.Load(), cfg.Pods, cfg.Timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if cfg.CPUProfile != "" {
		pprof.StopCPUProfile()
	}
	res.CPUSeconds = (cpuTime() - cpu0).Seconds()
	if busy := machineBusy(); busy >= 0 && busy0 >= 0 {
		res.OtherCPUSeconds = max(0, (busy-busy0).Seconds()-res.CPUSeconds)
	}
	list, err := clients[0].CoreV1().Pods(namespace).List(clientCtx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, p := range list.Items {
		if p.Spec.NodeName == "" {
			return nil, fmt.Errorf("pod %s is not bound although its binding was answered", p.Name)
		}
	}
	last := start
	lat := make([]time.Duration, cfg.Pods)
	for i := range cfg.Pods {
		if bound[i].After(last) {
			last = bound[i]
		}
		lat[i] = bound[i].Sub(created[i])
	}
	el = last.Sub(start)
	res.Bound = Throughput{Count: cfg.Pods, Seconds: el.Seconds(), PerSecond: float64(cfg.Pods) / el.Seconds()}
	sortDurations(lat)
	res.Latency = Latency{Count: cfg.Pods, Concurrency: cfg.Writers, P50Ms: percentile(lat, 50), P90Ms: percentile(lat, 90),
		P99Ms: percentile(lat, 99), MaxMs: percentile(lat, 100), PerSecond: res.Bound.PerSecond}
	res.Target = Target{Name: "pods bound per second (5000 nodes, 10,000 pods)", Target: ">= 1000",
		Value: fmt.Sprintf("%.0f", res.Bound.PerSecond), Pass: res.Bound.PerSecond >= 1000 && cfg.Nodes >= 5000 && cfg.Pods >= 10000}
	progress("pods: %d bound in %.1fs", cfg.Pods, el.Seconds())
	return res, nil
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// schedulerBenchNode is a node like upstream's scheduler_perf nodes: 32
// cores, 128 GiB, 110 pods, in one of 3 zones.
func schedulerBenchNode(i int) *corev1.Node {
	name := fmt.Sprintf("bench-node-%05d", i)
	room := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("128Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			corev1.LabelHostname:       name,
			corev1.LabelTopologyZone:   fmt.Sprintf("zone-%d", i%3),
			corev1.LabelTopologyRegion: "region",
		}},
		Status: corev1.NodeStatus{Capacity: room, Allocatable: room, Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
	}
}

// WriteTable prints the figures for a person.
func (r *SchedulerResults) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "Machine\t%s, %d CPUs (GOMAXPROCS %d), %s\n", r.Machine.CPUModel, r.Machine.CPUs, r.Machine.GOMAXPROCS, r.Machine.GoVersion)
	fmt.Fprintf(tw, "Cluster\t%d nodes, %d pods created by %d writers at once\n", r.Nodes, r.Pods, r.Writers)
	fmt.Fprintf(tw, "Node creates\t%.0f/s\n", r.NodeCreate.PerSecond)
	fmt.Fprintf(tw, "Scheduler sync\t%.0f ms\n", r.SchedulerSyncMs)
	fmt.Fprintf(tw, "Pod creates\t%.0f/s (%.1f s)\n", r.Create.PerSecond, r.Create.Seconds)
	fmt.Fprintf(tw, "Pods bound\t%.0f/s (first create to last binding, %.1f s)\n", r.Bound.PerSecond, r.Bound.Seconds)
	fmt.Fprintf(tw, "Create → bound\tp50 %s  p90 %s  p99 %s  max %s\n", ms(r.Latency.P50Ms), ms(r.Latency.P90Ms), ms(r.Latency.P99Ms), ms(r.Latency.MaxMs))
	fmt.Fprintf(tw, "CPU\t%.1f s in %.1f s (%.2f ms a pod); other processes %.1f s\n",
		r.CPUSeconds, r.Bound.Seconds, 1000*r.CPUSeconds/float64(max(r.Pods, 1)), r.OtherCPUSeconds)
	verdict := "met"
	switch {
	case r.Nodes < 5000 || r.Pods < 10000:
		verdict = "not the target's size"
	case !r.Target.Pass:
		verdict = "MISSED"
	}
	fmt.Fprintf(tw, "Target\t%s %s: %s (%s)\n", r.Target.Name, r.Target.Target, r.Target.Value, verdict)
	return tw.Flush()
}
