package apiserver_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The real kubectls of this machine (as test/e2e finds them) against the
// in-process server and a fake kubelet: logs -f, exec (websocket from
// 1.30 on, SPDY before), attach, port-forward (websocket tunnel from 1.31
// on) and top. Skipped under -short and when no kubectl is installed.

const cloudSDKBin = "/usr/lib/google-cloud-sdk/bin"

// kubectls are the binaries to drive: the oldest and the newest release
// this machine has, and /usr/bin/kubectl.
func kubectls(t *testing.T) map[string]string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs kubectl: skipped under -short")
	}
	out := map[string]string{}
	for _, v := range []string{"1.27", "1.29", "1.30", "1.33"} {
		if p := filepath.Join(cloudSDKBin, "kubectl."+v); fileExists(p) {
			out[v] = p
		}
	}
	if fileExists("/usr/bin/kubectl") {
		out["default"] = "/usr/bin/kubectl"
	}
	if len(out) == 0 {
		t.Skip("no kubectl installed")
	}
	return out
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

type kubectlRunner struct {
	bin, kubeconfig, home string
}

func (k kubectlRunner) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, k.bin, append([]string{"--kubeconfig", k.kubeconfig}, args...)...)
	env := []string{"HOME=" + k.home}
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "KUBECONFIG=") && !strings.HasPrefix(e, "HOME=") {
			env = append(env, e)
		}
	}
	cmd.Env = env
	return cmd
}

func (k kubectlRunner) run(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := k.command(ctx, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	err := cmd.Run()
	return out.String(), errOut.String(), err
}

func (k kubectlRunner) ok(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := k.run(t, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func TestKubectlStreaming(t *testing.T) {
	bins := kubectls(t)
	kc := newKubeletCluster(t)
	ctx := context.Background()
	ns := "streams"
	if _, err := kc.c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	runPod(t, kc.s, ns, "one", "n1", "app")
	runPod(t, kc.s, ns, "two", "n1", "a", "b")
	runPod(t, kc.s, ns, "waits", "n1", "waiting")
	runPod(t, kc.s, ns, "pending", "", "app")
	annotated := runPod(t, kc.s, ns, "annotated", "n1", "a", "b")
	annotated.Annotations = map[string]string{"kubectl.kubernetes.io/default-container": "b"}
	if _, err := kc.c.CoreV1().Pods(ns).Update(ctx, annotated, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "metrics"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	runPod(t, kc.s, "metrics", "web", "n1", "app", "sidecar")
	runPod(t, kc.s, "metrics", "db", "n1", "db")

	for v, bin := range bins {
		t.Run(v, func(t *testing.T) {
			k := kubectlRunner{bin: bin, kubeconfig: kc.s.Kubeconfig, home: t.TempDir()}

			if out := k.ok(t, "", "logs", "-n", ns, "one"); out != "app line 1\napp line 2\napp line 3\n" {
				t.Errorf("logs: %q", out)
			}
			if out := k.ok(t, "", "logs", "-n", ns, "two", "-c", "b", "--tail=1"); out != "b line 3\n" {
				t.Errorf("logs --tail: %q", out)
			}
			// kubectl itself resolves the default-container annotation, as
			// against upstream, whose server does not read it.
			if out := k.ok(t, "", "logs", "-n", ns, "annotated"); out != "b line 1\nb line 2\nb line 3\n" {
				t.Errorf("logs of a pod with a default container: %q", out)
			}
			_, errOut, err := k.run(t, "", "logs", "-n", ns, "waits")
			if err == nil || !strings.Contains(errOut, `Error from server (BadRequest): container "waiting" in pod "waits" is waiting to start: ContainerCreating`) {
				t.Errorf("logs of a waiting container: %v %q", err, errOut)
			}
			followLogs(t, k, ns)

			mark := kc.logs.mark()
			if out := k.ok(t, "", "exec", "-n", ns, "one", "--", "echo", "hello", "world"); out != "hello world\n" {
				t.Errorf("exec echo: %q", out)
			}
			// kubectl 1.30 and later exec over a websocket (GET), older ones
			// over SPDY (POST); neither falls back.
			if want := wantVerb(v, "1.30"); want != "" {
				lines := kc.logs.requestLines(mark, "/pods/one/exec")
				if len(lines) != 1 || !strings.Contains(lines[0], "verb="+want) || !strings.Contains(lines[0], "code=101") {
					t.Errorf("exec requests, want one %s upgraded:\n%s", want, strings.Join(lines, "\n"))
				}
			}
			if out := k.ok(t, "piped in\n", "exec", "-i", "-n", ns, "one", "--", "cat"); out != "piped in\n" {
				t.Errorf("exec -i cat: %q", out)
			}
			_, errOut, err = k.run(t, "", "exec", "-n", ns, "one", "--", "exit", "3")
			var exitErr *exec.ExitError
			if err == nil || !errorsAs(err, &exitErr) || exitErr.ExitCode() != 3 {
				t.Errorf("exec exit 3: %v %q", err, errOut)
			}
			// (port-forward checks the pod's phase itself.)
			_, errOut, err = k.run(t, "", "exec", "-n", ns, "pending", "--", "echo")
			if err == nil || !strings.Contains(errOut, "pod pending does not have a host assigned") {
				t.Errorf("exec on an unscheduled pod: %v %q", err, errOut)
			}
			// The kubelet's refusal reaches the user through either protocol.
			_, errOut, err = k.run(t, "", "exec", "-n", ns, "waits", "--", "echo")
			if err == nil || !strings.Contains(errOut, `unable to upgrade connection: container not found ("waiting")`) {
				t.Errorf("exec into a container the kubelet does not run: %v %q", err, errOut)
			}
			if out := k.ok(t, "attached\n", "attach", "-i", "-n", ns, "one"); !strings.Contains(out, "attached\n") {
				t.Errorf("attach: %q", out)
			}
			mark = kc.logs.mark()
			portForward(t, k, ns)
			// kubectl 1.31 and later tunnel port-forward through a websocket.
			if want := wantVerb(v, "1.31"); want != "" {
				// The request is logged when the tunnel closes, after kubectl exits.
				var lines []string
				for deadline := time.Now().Add(5 * time.Second); len(lines) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
					lines = kc.logs.requestLines(mark, "/pods/one/portforward")
				}
				if len(lines) != 1 || !strings.Contains(lines[0], "verb="+want) || !strings.Contains(lines[0], "code=101") {
					t.Errorf("portforward requests, want one %s upgraded:\n%s", want, strings.Join(lines, "\n"))
				}
			}

			start := time.Now()
			out := k.ok(t, "", "top", "nodes")
			t.Logf("kubectl top nodes took %v", time.Since(start).Round(time.Millisecond))
			if !regexp.MustCompile(`(?m)^n1\s+(4\d\d|5\d\d)m\s+2\d%\s+512Mi\s+12%\s*$`).MatchString(out) {
				t.Errorf("top nodes:\n%s", out)
			}
			out = k.ok(t, "", "top", "pods", "-n", "metrics")
			if !regexp.MustCompile(`(?m)^web\s+(4\d\d|5\d\d)m\s+128Mi\s*$`).MatchString(out) || !regexp.MustCompile(`(?m)^db\s+(2\d\d|3\d\d)m\s+64Mi\s*$`).MatchString(out) {
				t.Errorf("top pods:\n%s", out)
			}
			// metrics-server's Tables; its names (singular "node" for
			// nodes, none for pods) make these the ways to ask.
			out = k.ok(t, "", "get", "nodes.metrics.k8s.io")
			if !regexp.MustCompile(`(?m)^NAME\s+CPU\s+MEMORY\s+WINDOW\s*$`).MatchString(out) || !regexp.MustCompile(`(?m)^n1\s+\d+n\s+512Mi\s+\S+s\s*$`).MatchString(out) {
				t.Errorf("get nodes.metrics.k8s.io:\n%s", out)
			}
			out = k.ok(t, "", "get", "podmetrics", "-n", "metrics", "web")
			if !regexp.MustCompile(`(?m)^web\s+\d+n\s+128Mi\s+\S+s\s*$`).MatchString(out) {
				t.Errorf("get podmetrics:\n%s", out)
			}
			out = k.ok(t, "", "top", "pods", "-n", "metrics", "--containers", "-l", "app=web")
			if !regexp.MustCompile(`(?m)^web\s+sidecar\s+(2\d\d|3\d\d)m\s+64Mi\s*$`).MatchString(out) || strings.Contains(out, "db") {
				t.Errorf("top pods --containers -l app=web:\n%s", out)
			}
		})
	}
}

// wantVerb is the verb kubectl release v uses for a streaming request:
// get (websocket) from release since on, create (SPDY) before; "" for the
// default kubectl, whose release depends on the machine.
func wantVerb(v, since string) string {
	switch {
	case v == "default":
		return ""
	case v >= since:
		return "get"
	}
	return "create"
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}

// start runs a long-lived kubectl and returns its output, its error
// output and a stop that kills it and waits for it.
func (k kubectlRunner) start(t *testing.T, args ...string) (*bufio.Reader, *lockedBuffer, func()) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	cmd := k.command(ctx, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	errOut := &lockedBuffer{}
	cmd.Stderr = errOut
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	stop := func() { cancel(); _ = cmd.Wait() }
	return bufio.NewReader(stdout), errOut, stop
}

// followLogs runs logs -f, reads past the existing lines into the
// followed ones, and stops it.
func followLogs(t *testing.T, k kubectlRunner, ns string) {
	t.Helper()
	r, errOut, stop := k.start(t, "logs", "-f", "-n", ns, "one")
	defer stop()
	for i := 1; i <= 6; i++ {
		line, err := r.ReadString('\n')
		if err != nil || line != fmt.Sprintf("app line %d\n", i) {
			t.Fatalf("logs -f line %d: %q, %v (%s)", i, line, err, errOut.String())
		}
	}
}

var forwardingFrom = regexp.MustCompile(`Forwarding from 127\.0\.0\.1:(\d+) -> 8080`)

// portForward forwards a local port to the pod's 8080, talks through it
// and stops kubectl.
func portForward(t *testing.T, k kubectlRunner, ns string) {
	t.Helper()
	r, errOut, stop := k.start(t, "port-forward", "-n", ns, "pod/one", ":8080")
	defer stop()
	var port string
	for port == "" {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("port-forward: %v (%s)", err, errOut.String())
		}
		if m := forwardingFrom.FindStringSubmatch(line); m != nil {
			port = m[1]
		}
	}
	go func() { _, _ = io.Copy(io.Discard, r) }()
	for i := 0; i < 2; i++ {
		conn, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err != nil {
			t.Fatal(err)
		}
		cr := bufio.NewReader(conn)
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		greeting, err := cr.ReadString('\n')
		if err != nil || greeting != "port 8080\n" {
			t.Fatalf("port-forward greeting %q, %v (%s)", greeting, err, errOut.String())
		}
		_, _ = io.WriteString(conn, "ping\n")
		if echo, err := cr.ReadString('\n'); err != nil || echo != "ping\n" {
			t.Fatalf("port-forward echo %q, %v", echo, err)
		}
		conn.Close()
	}
}
