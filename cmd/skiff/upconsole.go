package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// upLog is where `skiff up` sends the components' logs.
type upLog struct {
	logger *slog.Logger
	shown  string // where the logs are, for the console ("" for stderr)
	file   *os.File
}

func (l *upLog) Close() error {
	if l.file == nil {
		return nil
	}
	return l.file.Close()
}

// openUpLog opens `skiff up`'s log: path "-" is every line on stderr (as
// `skiff server` logs); "" is dataDir/skiff.log. A file gets every line
// at the verbosity; stderr then only gets warnings and errors, so that
// the console's ready lines stay readable (as kind prints its steps and
// keeps the logs aside), while a failing component still shows at once.
func openUpLog(path, dataDir string, verbosity int, stderr io.Writer) (*upLog, error) {
	if path == "-" {
		return &upLog{logger: newLogger(verbosity)}, nil
	}
	if path == "" {
		path = filepath.Join(dataDir, "skiff.log")
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--log-file: %w", err)
	}
	level := slog.LevelInfo
	if verbosity >= 4 {
		level = slog.LevelDebug
	}
	h := slog.NewMultiHandler(
		slog.NewTextHandler(f, &slog.HandlerOptions{Level: level}),
		slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}),
	)
	return &upLog{logger: slog.New(h), shown: path, file: f}, nil
}

// upConsole is what `skiff up` prints on stdout: a line per component as
// it becomes ready, with its time since the start, then how to use the
// cluster; and the stop.
type upConsole struct {
	out        io.Writer
	kubeconfig string
	logs       string
	runtime    string
	stopPods   bool
	// components is how many components start; the last one ready means
	// the cluster is up.
	components int

	mu     sync.Mutex
	nReady int
}

func (c *upConsole) starting(dataDir string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	logs := "stderr"
	if c.logs != "" {
		logs = c.logs
	}
	fmt.Fprintf(c.out, "Starting a one-node cluster (data dir %s, logs in %s)\n", dataDir, logs)
}

// ready is the component manager's OnReady.
func (c *upConsole) ready(name string, since time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.out, "  %-25s ready  %5.2fs\n", name, since.Seconds())
	c.nReady++
	if c.nReady != c.components {
		return
	}
	note := ""
	if c.runtime == runtimeSimulated {
		note = " (simulated runtime: pods get IPs and statuses, no containers run)"
	}
	fmt.Fprintf(c.out, "Skiff is up in %s%s. Try:\n  export KUBECONFIG=%s\n  kubectl cluster-info\n  kubectl get nodes\n  kubectl get pods -n kube-system\n",
		since.Round(time.Millisecond), note, c.kubeconfig)
}

// stopping is the component manager's OnStop.
func (c *upConsole) stopping() {
	c.mu.Lock()
	defer c.mu.Unlock()
	what := "containers keep running; the next skiff up adopts them"
	if c.stopPods || c.runtime == runtimeSimulated {
		what = "pods stop with it"
	}
	fmt.Fprintf(c.out, "Stopping (%s); Ctrl-C again stops at once\n", what)
}

// stopped prints the end, unless the run failed (the error is printed
// instead).
func (c *upConsole) stopped(err error) {
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintln(c.out, "Stopped; skiff up on the same data dir resumes the cluster")
}

// servePprof serves net/http/pprof's handlers on addr until the process
// ends; a busy address is an error before anything starts.
func servePprof(addr string, logger *slog.Logger) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--pprof-address: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go func() {
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		if err := srv.Serve(l); err != nil {
			logger.Warn("pprof server stopped", "err", err)
		}
	}()
	return nil
}
