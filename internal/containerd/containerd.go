// Package containerd starts, supervises and stops the containerd a Skiff
// node drives over the CRI, and loads images into it. See README.md.
package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Containerd is the node's container runtime as a component: either a
// containerd it runs itself, or a runtime at Config.Endpoint.
type Containerd struct {
	cfg    Config
	layout layout
	ready  atomic.Bool

	mu  sync.Mutex
	cmd *exec.Cmd // the running containerd, nil between runs
}

// New validates cfg and fills its defaults; it starts nothing.
func New(cfg Config) (*Containerd, error) {
	if err := cfg.complete(); err != nil {
		return nil, err
	}
	c := &Containerd{cfg: cfg}
	if cfg.Endpoint == "" {
		c.layout = newLayout(cfg.DataDir)
	}
	return c, nil
}

// Name is the component's name in logs.
func (c *Containerd) Name() string { return "containerd" }

// Ready reports whether the runtime answers the CRI and, for a supervised
// containerd, has the pause image. It is false while containerd restarts.
func (c *Containerd) Ready() bool { return c.ready.Load() }

// Endpoint is the CRI endpoint for the kubelet, e.g.
// "unix:///var/lib/skiff/containerd/containerd.sock".
func (c *Containerd) Endpoint() string {
	if c.cfg.Endpoint != "" {
		return c.cfg.Endpoint
	}
	return "unix://" + c.layout.socket
}

// Address is the socket path containerd's own Go client dials (the CRI
// endpoint without its scheme).
func (c *Containerd) Address() string {
	return strings.TrimPrefix(c.Endpoint(), "unix://")
}

// LogFile is where the supervised containerd's output goes ("" for an
// external runtime).
func (c *Containerd) LogFile() string { return c.layout.log }

// Pid is the supervised containerd's process id, 0 when none runs.
func (c *Containerd) Pid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// Run starts containerd and keeps it running until ctx ends, then stops it
// (containers keep running unless Config.StopPodsOnExit). With
// Config.Endpoint it only watches that runtime answer.
func (c *Containerd) Run(ctx context.Context) error {
	if c.cfg.Endpoint != "" {
		return c.watchExternal(ctx)
	}
	log := c.cfg.Logger.With("component", c.Name())
	if err := writeFiles(&c.cfg, c.layout, PauseImage, !canLowerOOMScore()); err != nil {
		return fmt.Errorf("containerd: %w", err)
	}
	c.killStale()
	var wait, backoff time.Duration
	for {
		began := c.cfg.Clock.Now()
		p, err := c.start()
		if err != nil {
			return err
		}
		if answered, err := c.awaitStarted(ctx, p); err != nil {
			if ctx.Err() == nil {
				log.Error("containerd did not start; killing it", "err", err, "log", c.layout.log)
				_ = p.cmd.Process.Kill()
			}
		} else {
			c.ready.Store(true)
			log.Info("containerd ready", "endpoint", c.Endpoint(), "pid", p.cmd.Process.Pid,
				"took", c.cfg.Clock.Since(began).Round(time.Millisecond), "criAnsweredAfter", answered.Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			c.ready.Store(false)
			c.stop(p)
			return nil
		case <-p.done:
			c.ready.Store(false)
			c.setCmd(nil)
			wait, backoff = restartBackoff(backoff, c.cfg.RestartBackoff, c.cfg.Clock.Since(began))
			log.Error("containerd exited; restarting", "err", p.err, "backoff", wait, "log", c.layout.log)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.cfg.Clock.After(wait):
		}
	}
}

// restartBackoff is how long to wait before restarting a containerd that
// ran for uptime, and the back-off to keep for its next exit: it doubles
// from first up to MaxRestartBackoff and starts over after a run of more
// than MaxRestartBackoff.
func restartBackoff(current, first, uptime time.Duration) (wait, next time.Duration) {
	if uptime > MaxRestartBackoff || current < first {
		current = first
	}
	return current, min(2*current, MaxRestartBackoff)
}

// proc is one run of containerd.
type proc struct {
	cmd *exec.Cmd
	// done is closed when the process has exited; err is then its wait
	// error.
	done chan struct{}
	err  error
}

// start starts one containerd. An error means containerd cannot be run
// at all (no binary, no log file).
func (c *Containerd) start() (*proc, error) {
	logFile, err := os.OpenFile(c.layout.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("containerd: open log: %w", err)
	}
	defer logFile.Close()
	// Not exec.CommandContext: stopping is ours (SIGTERM first).
	cmd := exec.Command(c.cfg.Binary, "--config", c.layout.config)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group keeps a Ctrl-C to skiff from reaching
	// containerd before skiff stops it; the parent-death signal keeps a
	// crashed skiff from leaving it behind. Shims are containerd's own
	// children in their own groups and outlive both.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the starting thread exits,
		// not the process: keep this goroutine on its thread until
		// containerd is gone, so the Go runtime cannot retire it.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("containerd: start %s: %w", c.cfg.Binary, err)
	}
	_ = os.WriteFile(c.pidFile(), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600)
	c.setCmd(cmd)
	return p, nil
}

func (c *Containerd) setCmd(cmd *exec.Cmd) {
	c.mu.Lock()
	c.cmd = cmd
	c.mu.Unlock()
}

func (c *Containerd) pidFile() string { return filepath.Join(c.layout.dir, "containerd.pid") }

// killStale kills a containerd an earlier skiff left on this data dir
// (one that was SIGKILLed before its parent-death signal could help),
// which would otherwise hold the metadata database's lock.
func (c *Containerd) killStale() {
	b, err := os.ReadFile(c.pidFile())
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(c.layout.config)) {
		return
	}
	c.cfg.Logger.Warn("killing a containerd left running on this data dir", "component", c.Name(), "pid", pid)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(20 * time.Millisecond)
	}
}

// awaitStarted waits until containerd answers CRI Version, then imports
// the pause image; it returns how long the CRI took to answer.
func (c *Containerd) awaitStarted(ctx context.Context, p *proc) (time.Duration, error) {
	began := c.cfg.Clock.Now()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	if err := waitCRI(ctx, c.Endpoint(), p.done); err != nil {
		return 0, err
	}
	answered := c.cfg.Clock.Since(began)
	return answered, importPause(ctx, c.Address())
}

// waitCRI polls CRI Version until it answers, ctx ends or exited closes.
func waitCRI(ctx context.Context, endpoint string, exited <-chan struct{}) error {
	// gRPC's default reconnect back-off starts at a second; containerd
	// answers within tens of milliseconds of starting.
	conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 20 * time.Millisecond, Multiplier: 1.6, MaxDelay: 500 * time.Millisecond},
			MinConnectTimeout: time.Second,
		}))
	if err != nil {
		return fmt.Errorf("dial %s: %w", endpoint, err)
	}
	defer conn.Close()
	rs := runtimeapi.NewRuntimeServiceClient(conn)
	for {
		callCtx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := rs.Version(callCtx, &runtimeapi.VersionRequest{})
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("CRI at %s did not answer: %w (last error: %v)", endpoint, ctx.Err(), err)
		case <-exited:
			return errors.New("containerd exited before answering")
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// stop stops containerd: pods first if configured, then SIGTERM, then
// SIGKILL after StopTimeout.
func (c *Containerd) stop(p *proc) {
	log := c.cfg.Logger.With("component", c.Name())
	if c.cfg.StopPodsOnExit {
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.StopTimeout)
		if err := c.StopAllPods(ctx); err != nil {
			log.Error("stopping pods", "err", err)
		}
		cancel()
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-c.cfg.Clock.After(c.cfg.StopTimeout):
		log.Warn("containerd did not stop after SIGTERM; killing it", "timeout", c.cfg.StopTimeout)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	c.setCmd(nil)
	_ = os.Remove(c.pidFile())
	log.Info("containerd stopped")
}

// watchExternal keeps Ready equal to "the runtime at Endpoint answers".
func (c *Containerd) watchExternal(ctx context.Context) error {
	log := c.cfg.Logger.With("component", c.Name(), "endpoint", c.cfg.Endpoint)
	for {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := waitCRI(wctx, c.cfg.Endpoint, nil)
		cancel()
		if was := c.ready.Swap(err == nil); was != (err == nil) {
			if err == nil {
				log.Info("runtime answers")
			} else {
				log.Error("runtime does not answer", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			c.ready.Store(false)
			return nil
		case <-c.cfg.Clock.After(5 * time.Second):
		}
	}
}

// StopAllPods stops every pod sandbox of the runtime over the CRI (their
// containers with them), as upstream's kubelet does before a drain.
func (c *Containerd) StopAllPods(ctx context.Context) error {
	conn, err := grpc.NewClient(c.Endpoint(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	rs := runtimeapi.NewRuntimeServiceClient(conn)
	resp, err := rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("list pod sandboxes: %w", err)
	}
	var errs []error
	for _, sb := range resp.Items {
		if sb.State != runtimeapi.PodSandboxState_SANDBOX_READY {
			continue
		}
		if _, err := rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stop pod sandbox %s (%s/%s): %w", sb.Id, sb.Metadata.GetNamespace(), sb.Metadata.GetName(), err))
		}
	}
	return errors.Join(errs...)
}
