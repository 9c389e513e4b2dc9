package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// UpConfig says how `skiff bench up` measures `skiff up`.
type UpConfig struct {
	// Binary is the skiff binary started as `skiff up` (required).
	Binary string
	// Runtime is `skiff up --runtime`: "simulated" (default) or
	// "containerd" (a real node: needs root, and starts kube-proxy, whose
	// rules stay in the host's nftables after it stops, as always).
	Runtime string
	// DataDir is the data dir both runs share. Default: a new temporary
	// directory (short, for containerd's socket path), removed afterwards.
	DataDir string
	// Settle is how long the cluster idles after it is up before the RSS
	// is read. Default 30 s.
	Settle time.Duration
	// ExtraArgs are added to `skiff up` (e.g. --cni-bridge and
	// --cluster-cidr away from a developer's own cluster).
	ExtraArgs []string
	// Timeout bounds each run's wait for the cluster. Default 2 minutes.
	Timeout time.Duration
	// Progress, when set, receives a line per step.
	Progress io.Writer
}

// UpResults are the figures of `skiff bench up`.
type UpResults struct {
	Date        time.Time `json:"date"`
	Machine     Machine   `json:"machine"`
	Runtime     string    `json:"runtime"`
	Command     string    `json:"command"`
	BinaryBytes int64     `json:"binaryBytes"`
	// Runs are the fresh start and the resume on the same data dir.
	Runs    []UpRun  `json:"runs"`
	Targets []Target `json:"targets"`
}

// UpRun is one `skiff up` from exec to Ctrl-C.
type UpRun struct {
	Name string `json:"name"`
	// NodeReadySeconds is from exec to the node's Ready condition True.
	NodeReadySeconds float64 `json:"nodeReadySeconds"`
	// UpSeconds is from exec to the node Ready and every kube-system pod
	// Running and Ready (KubeSystemPods of them; none before the control
	// plane shows as mirror pods).
	UpSeconds      float64 `json:"upSeconds"`
	KubeSystemPods int     `json:"kubeSystemPods"`
	// IdleRSS is the skiff process after Settle.
	IdleRSS Memory `json:"idleRSS"`
	// RuntimeRSSBytes is containerd and its shims (RuntimeProcesses of
	// them) at the same moment; 0 for the simulated runtime.
	RuntimeRSSBytes  int64 `json:"runtimeRSSBytes"`
	RuntimeProcesses int   `json:"runtimeProcesses"`
	// StopSeconds is from SIGINT to the process's exit; ExitCode its code.
	StopSeconds float64 `json:"stopSeconds"`
	ExitCode    int     `json:"exitCode"`
}

func (c *UpConfig) progress(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "bench up: "+format+"\n", args...)
	}
}

// RunUp starts `skiff up` on a fresh data dir and free ports, measures
// the time to a usable cluster and the idle RSS, stops it with SIGINT,
// then does the same again on the same data dir (the resume).
func RunUp(ctx context.Context, cfg UpConfig) (*UpResults, error) {
	if cfg.Binary == "" {
		return nil, errors.New("bench up: a skiff binary is required")
	}
	if cfg.Runtime == "" {
		cfg.Runtime = "simulated"
	}
	if cfg.Settle == 0 {
		cfg.Settle = 30 * time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "sk-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = filepath.Join(dir, "d")
	}
	fi, err := os.Stat(cfg.Binary)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	args := []string{"up", "--data-dir", cfg.DataDir, "--runtime", cfg.Runtime,
		"--api-port", strconv.Itoa(ports[0]), "--bind-address", "127.0.0.1",
		"--etcd-client-url", fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		"--etcd-peer-url", fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
		"--cluster-dns-port", strconv.Itoa(ports[3]), "--kubelet-port", strconv.Itoa(ports[4]),
		"--stop-pods-on-exit"}
	args = append(args, cfg.ExtraArgs...)
	res := &UpResults{Date: time.Now().UTC(), Machine: describeMachine(), Runtime: cfg.Runtime,
		Command: "skiff " + strings.Join(args, " "), BinaryBytes: fi.Size()}
	for _, name := range []string{"fresh", "resume"} {
		run, err := runUpOnce(ctx, cfg, name, args)
		if err != nil {
			return nil, fmt.Errorf("bench up: %s run: %w", name, err)
		}
		res.Runs = append(res.Runs, *run)
	}
	res.Targets = evaluateUp(res)
	return res, nil
}

func runUpOnce(ctx context.Context, cfg UpConfig, name string, args []string) (*UpRun, error) {
	logPath := filepath.Join(filepath.Dir(cfg.DataDir), "bench-"+name+".out")
	out, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	cmd := exec.Command(cfg.Binary, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cfg.progress("%s: skiff %s", name, strings.Join(args, " "))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() (time.Duration, int) {
		t := time.Now()
		stopChild(cmd, done, syscall.SIGINT, 60*time.Second)
		return time.Since(t), cmd.ProcessState.ExitCode()
	}
	run := &UpRun{Name: name}
	if err := waitUp(ctx, cfg, start, done, run); err != nil {
		stop()
		b, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("%w\n%s", err, tail(b, 3000))
	}
	cfg.progress("%s: up in %.2fs (node Ready %.2fs, %d kube-system pods); idling %v", name, run.UpSeconds, run.NodeReadySeconds, run.KubeSystemPods, cfg.Settle)
	select {
	case <-time.After(cfg.Settle):
	case <-ctx.Done():
		stop()
		return nil, ctx.Err()
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	if run.IdleRSS, err = readMemory(pid); err != nil {
		stop()
		return nil, err
	}
	run.RuntimeRSSBytes, run.RuntimeProcesses = runtimeRSS(cfg.DataDir, cmd.Process.Pid)
	d, code := stop()
	run.StopSeconds, run.ExitCode = d.Seconds(), code
	cfg.progress("%s: idle RSS %s, runtime %s in %d processes; stopped in %.2fs (exit %d)", name,
		mb(run.IdleRSS.RSSBytes), mb(run.RuntimeRSSBytes), run.RuntimeProcesses, run.StopSeconds, code)
	return run, nil
}

// waitUp polls the cluster until its node is Ready and every kube-system
// pod is Running and Ready, filling run's times.
func waitUp(ctx context.Context, cfg UpConfig, start time.Time, exited <-chan error, run *UpRun) error {
	kubeconfig := filepath.Join(cfg.DataDir, "admin.kubeconfig")
	deadline := time.Now().Add(cfg.Timeout)
	var client kubernetes.Interface
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("skiff up exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if client == nil {
			rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
			if err != nil {
				continue
			}
			rc.Timeout = 2 * time.Second
			if client, err = kubernetes.NewForConfig(rc); err != nil {
				return err
			}
		}
		if run.NodeReadySeconds == 0 {
			nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil || !anyNodeReady(nodes.Items) {
				continue
			}
			run.NodeReadySeconds = time.Since(start).Seconds()
		}
		pods, err := client.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{})
		if err != nil || !allRunning(pods.Items) {
			continue
		}
		run.UpSeconds, run.KubeSystemPods = time.Since(start).Seconds(), len(pods.Items)
		return nil
	}
	return fmt.Errorf("not up within %v", cfg.Timeout)
}

func anyNodeReady(nodes []v1.Node) bool {
	for _, n := range nodes {
		for _, c := range n.Status.Conditions {
			if c.Type == v1.NodeReady && c.Status == v1.ConditionTrue {
				return true
			}
		}
	}
	return false
}

func allRunning(pods []v1.Pod) bool {
	for _, p := range pods {
		if p.Status.Phase != v1.PodRunning {
			return false
		}
		ready := false
		for _, c := range p.Status.Conditions {
			if c.Type == v1.PodReady && c.Status == v1.ConditionTrue {
				ready = true
			}
		}
		if !ready {
			return false
		}
	}
	return true
}

// runtimeRSS sums the RSS of the processes other than skiffPID whose
// command line names dataDir: the supervised containerd and its shims.
func runtimeRSS(dataDir string, skiffPID int) (int64, int) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return 0, 0
	}
	entries, _ := os.ReadDir("/proc")
	var total int64
	n := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == skiffPID || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !strings.Contains(string(cmdline), abs) {
			continue
		}
		if m, err := readMemory(e.Name()); err == nil {
			total += m.RSSBytes
			n++
		}
	}
	return total, n
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func evaluateUp(r *UpResults) []Target {
	var t []Target
	for _, run := range r.Runs {
		t = append(t,
			Target{Name: "up (" + run.Name + "): node Ready, kube-system Running", Target: "<= 2 s",
				Value: fmt.Sprintf("%.2f s", run.UpSeconds), Pass: run.UpSeconds <= 2},
			Target{Name: "idle RSS of skiff (" + run.Name + ")", Target: "<= 100 MB",
				Value: mb(run.IdleRSS.RSSBytes), Pass: run.IdleRSS.RSSBytes <= 100<<20})
	}
	return t
}

// WriteTable prints the results for people.
func (r *UpResults) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := func(format string, args ...any) { fmt.Fprintf(tw, format+"\n", args...) }
	m := r.Machine
	p("skiff up benchmark, %s, runtime %s", r.Date.Format("2006-01-02 15:04 MST"), r.Runtime)
	p("machine: %s, %d CPUs, %s", m.CPUModel, m.CPUs, mb(m.MemoryBytes))
	p("binary: %s", mb(r.BinaryBytes))
	p("")
	p("run\tnode Ready\tup (kube-system pods)\tidle RSS skiff (anon + file)\tcontainerd + shims\tstop (exit)")
	for _, run := range r.Runs {
		rt := "-"
		if run.RuntimeProcesses > 0 {
			rt = fmt.Sprintf("%s (%d)", mb(run.RuntimeRSSBytes), run.RuntimeProcesses)
		}
		p("%s\t%.2f s\t%.2f s (%d)\t%s (%s + %s)\t%s\t%.2f s (%d)", run.Name, run.NodeReadySeconds, run.UpSeconds, run.KubeSystemPods,
			mb(run.IdleRSS.RSSBytes), mb(run.IdleRSS.RSSAnonBytes), mb(run.IdleRSS.RSSFileBytes), rt, run.StopSeconds, run.ExitCode)
	}
	p("")
	p("target\twant\tgot\t")
	for _, t := range r.Targets {
		verdict := "ok"
		if !t.Pass {
			verdict = "MISSED"
		}
		p("%s\t%s\t%s\t%s", t.Name, t.Target, t.Value, verdict)
	}
	return tw.Flush()
}
