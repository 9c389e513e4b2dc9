// Package e2e drives the real kubectl against the real skiff binary: the
// binary is built once, each test group starts `skiff server` as a child
// process on free ports, and every check reads what kubectl prints, which
// must be what it prints against an upstream cluster.
//
// The tests skip under -short and when /usr/bin/kubectl is missing.
package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// kubectlPath is the kubectl every test drives.
	kubectlPath = "/usr/bin/kubectl"
	// olderKubectls holds the oldest and newest kubectl releases, which
	// run a core subset.
	olderKubectls = "/usr/lib/google-cloud-sdk/bin"
	// serverVersion is what `kubectl version` must report.
	serverVersion = "v1.37.2+skiff"
	// kubectlTimeout bounds one kubectl call.
	kubectlTimeout = 60 * time.Second
)

// skiffBin is the binary TestMain built.
var skiffBin string

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if !testing.Short() && haveKubectl() {
		dir, err := os.MkdirTemp("", "skiff-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		skiffBin = filepath.Join(dir, "skiff")
		if err := buildSkiff(skiffBin); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
	}
	defer stopShared()
	return m.Run()
}

// repoRoot is the module root, two directories above this file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

func buildSkiff(out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goBin, "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "./cmd/skiff")
	cmd.Dir = repoRoot()
	// As `make build`: the static binary users run.
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/skiff: %v\n%s", err, b)
	}
	return nil
}

func haveKubectl() bool {
	_, err := os.Stat(kubectlPath)
	return err == nil
}

// requireE2E skips a test that cannot run here.
func requireE2E(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped under -short")
	}
	if !haveKubectl() {
		t.Skipf("%s is not installed", kubectlPath)
	}
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// cluster is a `skiff server` child process.
type cluster struct {
	dir     string // holds data/, home/ and skiff.log
	dataDir string
	apiPort int
	args    []string

	// wrap, when set, is the command that runs skiff (nsenter into a
	// network namespace): the process is wrap..., skiff, args....
	wrap []string
	// host is the address the test reaches the API server on; default
	// 127.0.0.1.
	host string

	cmd  *exec.Cmd
	done chan struct{}
	err  error // the process's exit, once done is closed
}

// newCluster prepares (but does not start) a server in dir. Without
// --etcd-servers in extra, it runs an embedded etcd on free ports.
func newCluster(t testing.TB, dir string, extra ...string) *cluster {
	t.Helper()
	c := &cluster{dir: dir, dataDir: filepath.Join(dir, "data"), apiPort: freePort(t)}
	for _, d := range []string{c.dataDir, c.home()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	c.args = []string{"server", "--data-dir", c.dataDir, "--api-port", strconv.Itoa(c.apiPort), "--bind-address", "127.0.0.1"}
	external := false
	for _, a := range extra {
		if strings.HasPrefix(a, "--etcd-servers") {
			external = true
		}
	}
	if !external {
		c.args = append(c.args,
			"--etcd-client-url", fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
			"--etcd-peer-url", fmt.Sprintf("http://127.0.0.1:%d", freePort(t)))
	}
	// The cluster DNS on a port of its own: tests run beside each other
	// and beside a developer's cluster.
	c.args = append(c.args, "--cluster-dns-port", strconv.Itoa(freePort(t)))
	c.args = append(c.args, extra...)
	return c
}

func (c *cluster) home() string { return filepath.Join(c.dir, "home") }
func (c *cluster) apiURL() string {
	host := c.host
	if host == "" {
		host = "127.0.0.1"
	}
	return fmt.Sprintf("https://%s:%d", host, c.apiPort)
}
func (c *cluster) kubeconfig() string { return filepath.Join(c.dataDir, "admin.kubeconfig") }
func (c *cluster) logPath() string    { return filepath.Join(c.dir, "skiff.log") }

// start runs the server and waits until the admin kubeconfig exists and
// /readyz answers 200.
func (c *cluster) start() error {
	logf, err := os.OpenFile(c.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "=== skiff %s\n", strings.Join(c.args, " "))
	c.cmd = exec.Command(skiffBin, c.args...)
	if len(c.wrap) > 0 {
		c.cmd = exec.Command(c.wrap[0], append(append(c.wrap[1:len(c.wrap):len(c.wrap)], skiffBin), c.args...)...)
	}
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	c.done = make(chan struct{})
	go func() {
		c.err = c.cmd.Wait()
		logf.Close()
		close(c.done)
	}()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		// Only readiness is probed here; kubectl verifies the CA.
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			return fmt.Errorf("skiff server exited before it was ready (%v):\n%s", c.err, c.logTail())
		case <-time.After(100 * time.Millisecond):
		}
		if _, err := os.Stat(c.kubeconfig()); err != nil {
			continue
		}
		resp, err := client.Get(c.apiURL() + "/readyz")
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
	}
	c.kill()
	return fmt.Errorf("skiff server was not ready within 60s:\n%s", c.logTail())
}

// stop sends SIGTERM and waits for a clean exit.
func (c *cluster) stop() error {
	if c.cmd == nil || c.cmd.Process == nil {
		return nil
	}
	select {
	case <-c.done:
		return c.exitError()
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
		return c.exitError()
	case <-time.After(30 * time.Second):
		c.kill()
		return errors.New("skiff server did not stop within 30s of SIGTERM")
	}
}

func (c *cluster) exitError() error {
	if c.err != nil {
		return fmt.Errorf("skiff server exited with %v:\n%s", c.err, c.logTail())
	}
	return nil
}

func (c *cluster) kill() {
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// logTail is the end of the server's log, for failure messages.
func (c *cluster) logTail() string {
	b, _ := os.ReadFile(c.logPath())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// startCluster starts a server for one test and stops it when the test
// ends.
func startCluster(t *testing.T, extra ...string) *cluster {
	t.Helper()
	c := newCluster(t, t.TempDir(), extra...)
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Error(err)
		}
	})
	return c
}

// shared is the server the kubectl tests share; TestMain stops it.
var shared struct {
	once sync.Once
	c    *cluster
	dir  string
	err  error
}

func sharedCluster(t *testing.T) *cluster {
	t.Helper()
	requireE2E(t)
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "skiff-e2e-")
		if err != nil {
			shared.err = err
			return
		}
		shared.dir = dir
		shared.c = newCluster(t, dir)
		shared.err = shared.c.start()
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.c
}

func stopShared() {
	if shared.c != nil {
		if err := shared.c.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: shared server:", err)
		}
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
}

// kubectl runs one kubectl binary against one cluster.
type kubectl struct {
	bin string
	c   *cluster
}

func newKubectl(c *cluster) kubectl { return kubectl{bin: kubectlPath, c: c} }

func (k kubectl) command(ctx context.Context, args ...string) *exec.Cmd {
	global := []string{"--kubeconfig", k.c.kubeconfig()}
	if k.c.host != "" {
		global = append(global, "--server", k.c.apiURL())
	}
	cmd := exec.CommandContext(ctx, k.bin, append(global, args...)...)
	env := []string{"HOME=" + k.c.home()}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "KUBECONFIG=") && !strings.HasPrefix(e, "HOME=") {
			env = append(env, e)
		}
	}
	cmd.Env = env
	return cmd
}

// run runs kubectl and returns what it printed and how it exited.
func (k kubectl) run(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kubectlTimeout)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := k.command(ctx, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err = cmd.Run()
	if d := time.Since(start); d > 2*time.Second {
		t.Logf("slow: kubectl %s took %v", strings.Join(args, " "), d.Round(time.Millisecond))
	}
	if ctx.Err() != nil {
		err = fmt.Errorf("kubectl %s: timed out after %v", strings.Join(args, " "), kubectlTimeout)
	}
	return out.String(), errb.String(), err
}

// ok runs kubectl, fails the test unless it succeeds, and returns stdout.
func (k kubectl) ok(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := k.run(t, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// fails runs kubectl, fails the test if it succeeds, and returns stderr.
func (k kubectl) fails(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, err := k.run(t, args...)
	var exit *exec.ExitError
	if err == nil || !errors.As(err, &exit) {
		t.Fatalf("kubectl %s: want a non-zero exit, got %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return errOut
}

// background is a kubectl left running (get -w, wait).
type background struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	errOut bytes.Buffer
	done   chan struct{}
	err    error
}

type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (k kubectl) start(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), kubectlTimeout)
	bg := &background{done: make(chan struct{})}
	bg.cmd = k.command(ctx, args...)
	bg.cmd.Stdout = lockedWriter{&bg.mu, &bg.out}
	bg.cmd.Stderr = lockedWriter{&bg.mu, &bg.errOut}
	if err := bg.cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() {
		bg.err = bg.cmd.Wait()
		cancel()
		close(bg.done)
	}()
	t.Cleanup(bg.kill)
	return bg
}

func (bg *background) stdout() string {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	return bg.out.String()
}

func (bg *background) stderr() string {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	return bg.errOut.String()
}

// startWait starts `kubectl wait` and returns once it watches: were the
// object gone before wait first looked, it would exit 0 printing nothing.
func (k kubectl) startWait(t *testing.T, args ...string) *background {
	t.Helper()
	bg := k.start(t, append([]string{"wait", "-v=6"}, args...)...)
	bg.waitForStderr(t, `watch=true`)
	return bg
}

// waitForStderr waits until stderr matches re.
func (bg *background) waitForStderr(t *testing.T, re string) {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if rx.MatchString(bg.stderr()) {
			return
		}
		select {
		case <-bg.done:
			t.Fatalf("kubectl exited (%v) before its stderr matched %q\nstdout:\n%s\nstderr:\n%s", bg.err, re, bg.stdout(), bg.stderr())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("stderr did not match %q within 20s:\n%s", re, bg.stderr())
}

// waitFor waits until stdout has a line matching re.
func (bg *background) waitFor(t *testing.T, re string) {
	t.Helper()
	rx := regexp.MustCompile("(?m)" + re)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if rx.MatchString(bg.stdout()) {
			return
		}
		select {
		case <-bg.done:
			if rx.MatchString(bg.stdout()) {
				return
			}
			t.Fatalf("kubectl exited (%v) without printing a line matching %q\nstdout:\n%s\nstderr:\n%s", bg.err, re, bg.stdout(), bg.stderr())
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("no line matching %q within 20s\nstdout:\n%s\nstderr:\n%s", re, bg.stdout(), bg.stderr())
}

// wait waits for kubectl to exit by itself.
func (bg *background) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-bg.done:
		return bg.err
	case <-time.After(kubectlTimeout):
		t.Fatalf("kubectl did not exit\nstdout:\n%s\nstderr:\n%s", bg.stdout(), bg.stderr())
		return nil
	}
}

func (bg *background) kill() {
	select {
	case <-bg.done:
	default:
		_ = bg.cmd.Process.Kill()
		<-bg.done
	}
}

// writeFile writes a manifest into the test's temp dir.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// lines splits output into lines without the trailing empty one.
func lines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

var columnGap = regexp.MustCompile(`\s{2,}`)

// columns splits a table line at runs of two or more spaces (kubectl pads
// columns with at least three; single spaces are inside a header).
func columns(line string) []string {
	return columnGap.Split(strings.TrimSpace(line), -1)
}

// table parses kubectl's column output into its header and rows.
func table(t *testing.T, out string) (header []string, rows [][]string) {
	t.Helper()
	ls := lines(out)
	if len(ls) == 0 {
		t.Fatalf("empty table output")
	}
	for _, l := range ls[1:] {
		rows = append(rows, columns(l))
	}
	return columns(ls[0]), rows
}

// wantLines checks that out is exactly these lines.
func wantLines(t *testing.T, out string, want ...string) {
	t.Helper()
	got := lines(out)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("output:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}
}

// wantMatch checks that some line of out matches each pattern.
func wantMatch(t *testing.T, out string, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile("(?m)" + p).MatchString(out) {
			t.Errorf("no line matches %q in:\n%s", p, out)
		}
	}
}

// wantContains checks that out contains each string.
func wantContains(t *testing.T, out string, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(out, s) {
			t.Errorf("output does not contain %q:\n%s", s, out)
		}
	}
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00")
}

// wantHeader checks a table's header columns.
func wantHeader(t *testing.T, out string, want ...string) {
	t.Helper()
	header, _ := table(t, out)
	if !equalStrings(header, want) {
		t.Errorf("header = %q, want %q\n%s", header, want, out)
	}
}

// row finds the table row whose first column is name.
func row(t *testing.T, out, name string) []string {
	t.Helper()
	_, rows := table(t, out)
	for _, r := range rows {
		if r[0] == name {
			return r
		}
	}
	t.Fatalf("no row %q in:\n%s", name, out)
	return nil
}

// deleted matches kubectl's delete line; newer kubectls add the namespace.
func deleted(resource, name string) string {
	return "^" + regexp.QuoteMeta(fmt.Sprintf("%s %q deleted", resource, name)) + `( from \S+ namespace)?$`
}
