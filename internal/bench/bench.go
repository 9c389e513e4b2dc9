// Package bench measures a Skiff control plane: it starts etcd and the API
// server in-process, wired as `skiff server` wires them, then drives them
// with client-go and the etcd client and reports throughput, latency and
// memory. `skiff bench api` is its command line; docs/benchmarks.md records
// the figures.
//
// Everything runs in one process, so client and server share the CPUs.
// Server goroutines carry the pprof label skiff=server and client
// goroutines skiff=client, so a CPU profile can be split with
// `go tool pprof -tagfocus skiff=server`.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Config says what to measure. Zero values take the defaults noted on each
// field, which are those of `skiff bench api`.
type Config struct {
	// DataDir is where the control plane keeps its certificates and etcd's
	// data. Default: a new temporary directory, removed when Run returns.
	// A given directory is kept.
	DataDir string
	// Writers is how many clients write concurrently, for raw etcd puts,
	// pod creates and the updates that feed watchers. Default 16.
	Writers int
	// Pods is how many pods are created (and then read and listed).
	// Default 10,000.
	Pods int
	// RawPuts is how many raw etcd puts (and as many raw create
	// transactions) each raw round makes. Default: Pods.
	RawPuts int
	// RawRounds is how many rounds of raw puts and transactions are made;
	// the median round is reported, which steadies a figure that takes
	// well under a second to measure. Default 3.
	RawRounds int
	// RawPutBytes is the size of each raw put's value. Default: the size of
	// one stored bench pod, measured before the puts.
	RawPutBytes int
	// Gets is how many single-pod GETs each GET run makes. Default 5,000.
	Gets int
	// GetConcurrency is how many clients GET at once in the concurrent run.
	// Default 16.
	GetConcurrency int
	// ListRuns is how many full LISTs are timed per encoding; the median is
	// reported. Default 5.
	ListRuns int
	// Watchers is how many client-go watches receive the update events.
	// Default 100; negative skips the watch phase.
	Watchers int
	// Events is how many pod updates are made while the watchers watch;
	// every watcher must receive every one. Default 10,000.
	Events int
	// WatchTimeout bounds the watch phase. Default 5 minutes.
	WatchTimeout time.Duration
	// SharedConnection makes all clients share one HTTP/2 connection, as
	// the goroutines of one process using one clientset do. Default: each
	// writer, GET client and watcher has a connection of its own, as
	// separate processes would.
	SharedConnection bool
	// ServerBinary, when set, is a skiff binary started after the load to
	// measure the RSS of idle servers in processes of their own: `skiff
	// apiserver` (etcd and the API server) on the bench's data and on an
	// empty data dir, and `skiff server` (the whole control plane) on an
	// empty data dir. Empty skips these measurements.
	ServerBinary string
	// FreshServerSettle is how long those servers idle after they are
	// ready before their RSS is read. Default 5 seconds.
	FreshServerSettle time.Duration
	// CPUProfileDir, when set, receives one CPU profile per phase
	// (raw.pprof, create.pprof, get.pprof,
	// list-json.pprof, list-protobuf.pprof, watch.pprof), and a heap
	// profile of the idle process after the load (idle-heap.pprof). If
	// watchers still wait for events a second before WatchTimeout, every
	// goroutine's stack goes to watch-stalled-goroutines.txt.
	CPUProfileDir string
	// Logger receives the control plane's logs. Default: discarded.
	Logger *slog.Logger
	// Progress, when set, gets one line as each phase starts and ends.
	Progress io.Writer
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Writers, 16)
	def(&c.Pods, 10000)
	def(&c.RawPuts, c.Pods)
	def(&c.RawRounds, 3)
	def(&c.Gets, 5000)
	def(&c.GetConcurrency, 16)
	def(&c.ListRuns, 5)
	def(&c.Watchers, 100)
	def(&c.Events, 10000)
	if c.WatchTimeout == 0 {
		c.WatchTimeout = 5 * time.Minute
	}
	if c.FreshServerSettle == 0 {
		c.FreshServerSettle = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
}

func (c *Config) validate() error {
	if c.Writers < 1 || c.Pods < 1 || c.RawPuts < 1 || c.RawRounds < 1 || c.Gets < 1 || c.GetConcurrency < 1 || c.ListRuns < 1 {
		return errors.New("bench: writers, pods, raw puts, gets, get concurrency and list runs must be positive")
	}
	if c.Watchers > 0 && c.Events < 1 {
		return errors.New("bench: events must be positive when there are watchers")
	}
	return nil
}

// Run starts a control plane, measures it, stops it and returns the
// figures. A phase that fails ends the run with its error; targets that
// are missed are not errors (see Results.Targets).
func Run(ctx context.Context, cfg Config) (*Results, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	res := &Results{Date: time.Now().UTC(), Machine: describeMachine(), Config: summarize(cfg)}

	dir := cfg.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "skiff-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	if cfg.CPUProfileDir != "" {
		if err := os.MkdirAll(cfg.CPUProfileDir, 0o755); err != nil {
			return nil, err
		}
	}

	cp, err := startControlPlane(ctx, filepath.Join(dir, "server"), cfg.Logger)
	if err != nil {
		return nil, err
	}
	stopped := false
	defer func() {
		if !stopped {
			cp.stop()
		}
	}()
	r := &runner{cfg: cfg, cp: cp, res: res}
	if err := r.run(ctx); err != nil {
		r.closeClients()
		return res, err
	}
	r.closeClients()
	res.IdleRSS = r.idleRSS(filepath.Join(dir, "server"))
	// An idle server's compactor drops all history within two intervals;
	// do it now, so that the restarted server below holds what an idle
	// server would: the pods' latest versions.
	compactErr := cp.compact(ctx)
	cp.stop()
	stopped = true
	if compactErr != nil {
		return res, fmt.Errorf("compacting etcd: %w", compactErr)
	}

	if cfg.ServerBinary != "" {
		for _, child := range []struct {
			name, command, dir string
		}{
			{fmt.Sprintf("skiff apiserver restarted on the %d pods", cfg.Pods), "apiserver", filepath.Join(dir, "server")},
			{"fresh skiff apiserver", "apiserver", filepath.Join(dir, "fresh-apiserver")},
			{"fresh skiff server", "server", filepath.Join(dir, "fresh-server")},
		} {
			r.progress("idle RSS: %s", child.name)
			c := ChildRSS{Name: child.name, Command: child.command}
			if m, err := serverRSS(ctx, cfg.ServerBinary, child.command, child.dir, cfg.FreshServerSettle); err != nil {
				c.Error = err.Error()
			} else {
				c.Memory = m
			}
			res.Children = append(res.Children, c)
		}
	}
	res.Targets = evaluate(res)
	return res, nil
}

// phase runs fn as one measured phase: its CPU time is recorded, and a CPU
// profile is written when profiles are asked for.
func (r *runner) phase(ctx context.Context, name string, fn func(context.Context) error) error {
	r.progress("%s: start", name)
	if r.cfg.CPUProfileDir != "" {
		f, err := os.Create(filepath.Join(r.cfg.CPUProfileDir, name+".pprof"))
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("cpu profile for %s: %w", name, err)
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	cpu0, busy0, wall0 := cpuTime(), machineBusy(), time.Now()
	var err error
	pprof.Do(ctx, pprof.Labels("skiff", "client", "phase", name), func(ctx context.Context) { err = fn(ctx) })
	p := PhaseCost{Name: name, WallSeconds: time.Since(wall0).Seconds(), CPUSeconds: (cpuTime() - cpu0).Seconds()}
	if busy0 >= 0 {
		p.OtherCPUSeconds = max(0, (machineBusy()-busy0).Seconds()-p.CPUSeconds)
	}
	r.res.Phases = append(r.res.Phases, p)
	r.progress("%s: done in %.1fs (%.1f CPU-s)", name, p.WallSeconds, p.CPUSeconds)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func (r *runner) progress(format string, args ...any) {
	fmt.Fprintf(r.cfg.Progress, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineBusy is the CPU time all processes have used (or had stolen)
// since boot, from /proc/stat; -1 if unknown.
func machineBusy() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return -1
	}
	// user nice system idle iowait irq softirq steal: all but idle and
	// iowait, in USER_HZ ticks (100 a second on Linux).
	var ticks int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return -1
		}
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// describeMachine names the CPU and counts the cores.
func describeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		m.CPUModel = cpuModel(string(data))
	}
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kb, ok := statusKB(string(data), "MemTotal"); ok {
			m.MemoryBytes = kb * 1024
		}
	}
	if h, err := os.Hostname(); err == nil {
		m.Hostname = h
	}
	return m
}
