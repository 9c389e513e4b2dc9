package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// statusKB reads a "Key:   123 kB" line of /proc/<pid>/status or
// /proc/meminfo.
func statusKB(status, key string) (int64, bool) {
	for _, line := range strings.Split(status, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != key {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			return 0, false
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		return n, err == nil
	}
	return 0, false
}

// readMemory reads the resident memory of pid ("self" for this process).
func readMemory(pid string) (Memory, error) {
	data, err := os.ReadFile(filepath.Join("/proc", pid, "status"))
	if err != nil {
		return Memory{}, err
	}
	s := string(data)
	var m Memory
	rss, ok := statusKB(s, "VmRSS")
	if !ok {
		return Memory{}, fmt.Errorf("no VmRSS in /proc/%s/status", pid)
	}
	m.RSSBytes = rss * 1024
	if v, ok := statusKB(s, "RssAnon"); ok {
		m.RSSAnonBytes = v * 1024
	}
	if v, ok := statusKB(s, "RssFile"); ok {
		m.RSSFileBytes = v * 1024
	}
	if v, ok := statusKB(s, "RssShmem"); ok {
		m.RSSFileBytes += v * 1024
	}
	return m, nil
}

func etcdDBSize(dataDir string) int64 {
	fi, err := os.Stat(filepath.Join(dataDir, "etcd", "member", "snap", "db"))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// idleRSS measures this process once the load is gone: clients closed,
// a GC, memory returned to the OS, and a pause for the server's
// connections and goroutines to wind down.
func (r *runner) idleRSS(dataDir string) Memory {
	r.progress("idle RSS: settling")
	for range 2 {
		runtime.GC()
		debug.FreeOSMemory()
		time.Sleep(2 * time.Second)
	}
	debug.FreeOSMemory()
	m, err := readMemory("self")
	if err != nil {
		return Memory{}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.HeapInuseBytes = int64(ms.HeapInuse)
	m.Goroutines = runtime.NumGoroutine()
	m.EtcdDBBytes = etcdDBSize(dataDir)
	r.progress("idle RSS: %s", mb(m.RSSBytes))
	if r.cfg.CPUProfileDir != "" {
		if f, err := os.Create(filepath.Join(r.cfg.CPUProfileDir, "idle-heap.pprof")); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
	}
	return m
}

// serverRSS starts `binary command` (server or apiserver) on free ports
// with its data in dir, waits until it is ready and then for settle, reads
// its RSS and stops it.
func serverRSS(ctx context.Context, binary, command, dir string, settle time.Duration) (*Memory, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(binary, command,
		"--data-dir", dir,
		"--bind-address", "127.0.0.1",
		"--advertise-address", "127.0.0.1",
		"--api-port", strconv.Itoa(ports[0]),
		"--etcd-client-url", fmt.Sprintf("http://127.0.0.1:%d", ports[1]),
		"--etcd-peer-url", fmt.Sprintf("http://127.0.0.1:%d", ports[2]),
	)
	logs, err := os.Create(filepath.Join(dir, fmt.Sprintf("server-%d.log", time.Now().UnixNano())))
	if err != nil {
		return nil, err
	}
	defer logs.Close()
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		select {
		case <-exited:
			return
		default:
		}
		stopChild(cmd, exited, syscall.SIGTERM, 30*time.Second)
	}()

	// /readyz is public; the server's certificate is from its own fresh
	// CA, and this is only a readiness probe on 127.0.0.1.
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer hc.CloseIdleConnections()
	url := fmt.Sprintf("https://127.0.0.1:%d/readyz", ports[0])
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			return nil, fmt.Errorf("skiff %s exited before it was ready (%v); see %s", command, err, logs.Name())
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("skiff %s not ready in 2 minutes", command)
		}
	}
	hc.CloseIdleConnections()
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	m, err := readMemory(strconv.Itoa(cmd.Process.Pid))
	if err != nil {
		return nil, err
	}
	m.EtcdDBBytes = etcdDBSize(dir)
	return &m, nil
}

// stopChild sends sig to cmd and waits for its exit (exited delivers
// cmd.Wait's result), killing it after timeout.
func stopChild(cmd *exec.Cmd, exited <-chan error, sig os.Signal, timeout time.Duration) {
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-exited
	}
}
