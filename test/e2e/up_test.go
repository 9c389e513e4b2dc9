package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestUpConsoleErrorsAndResume drives `skiff up --runtime=simulated`: the
// console's ready lines, a clear error (and nothing started) for a data
// dir or a port already in use, Ctrl-C ending with exit code 0, and a
// second `skiff up` on the same data dir resuming the cluster with its
// pods.
func TestUpConsoleErrorsAndResume(t *testing.T) {
	requireE2E(t)
	c := newCluster(t, t.TempDir(), "--runtime", "simulated", "--node-name", "sim-node", "--kubelet-port", strconv.Itoa(freePort(t)))
	c.args[0] = "up"
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.stop() })
	k := newKubectl(c)
	waitFor(t, 60*time.Second, func() (bool, string) {
		out, _ := os.ReadFile(c.logPath())
		return strings.Contains(string(out), "Skiff is up in"), string(out)
	})
	console, _ := os.ReadFile(c.logPath())
	for _, name := range []string{"etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager", "coredns", "kubelet"} {
		wantMatch(t, string(console), `^  `+name+` +ready +\d+\.\d\ds$`)
	}
	wantMatch(t, string(console), `^  export KUBECONFIG=`+c.kubeconfig()+`$`, `^  kubectl get pods -n kube-system$`)
	if strings.Contains(string(console), "level=INFO") {
		t.Errorf("info logs on the console; they belong in the data dir's skiff.log:\n%s", console)
	}
	if _, err := os.Stat(c.dataDir + "/skiff.log"); err != nil {
		t.Errorf("no skiff.log in the data dir: %v", err)
	}

	// A second skiff up on the same data dir, then on another data dir
	// with the same API port: an error naming the cause, at once.
	second := func(args ...string) string {
		t.Helper()
		var stderr bytes.Buffer
		cmd := exec.Command(skiffBin, args...)
		cmd.Stderr = &stderr
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("skiff %s: exit 0, want an error", strings.Join(args, " "))
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("skiff %s did not exit with an error:\n%s", strings.Join(args, " "), stderr.String())
		}
		return stderr.String()
	}
	out := second(c.args...)
	wantMatch(t, out, fmt.Sprintf(`^Error: data dir %s is in use by another skiff \(pid %d\); stop it, or use another --data-dir$`, c.dataDir, c.cmd.Process.Pid))
	other := append([]string{}, c.args...)
	for i, a := range other {
		if a == "--data-dir" {
			other[i+1] = t.TempDir()
		}
	}
	out = second(other...)
	wantMatch(t, out, fmt.Sprintf(`^Error: --api-port %d: tcp address 127.0.0.1:%d already in use; is another skiff up running\? choose another with --api-port$`, c.apiPort, c.apiPort))

	k.ok(t, "create", "deployment", "web", "--image=nginx", "--replicas=2")
	k.ok(t, "rollout", "status", "deployment/web", "--timeout=60s")
	before := k.ok(t, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}")

	// Ctrl-C: a clean stop, exit code 0.
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("skiff up did not stop within 30s of SIGINT:\n%s", c.logTail())
	}
	if c.err != nil {
		t.Fatalf("skiff up exited with %v after SIGINT:\n%s", c.err, c.logTail())
	}
	wantMatch(t, c.logTail(), `^Stopped; skiff up on the same data dir resumes the cluster$`)

	// The same data dir: the same pods, Running again.
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	k.ok(t, "wait", "--for=condition=Ready", "node/sim-node", "--timeout=60s")
	waitFor(t, 60*time.Second, func() (bool, string) {
		out := k.ok(t, "get", "pods", "-l", "app=web", "-o", `jsonpath={range .items[*]}{.metadata.name}={.status.phase}{" "}{end}`)
		return strings.Count(out, "=Running") == 2, out
	})
	if after := k.ok(t, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"); after != before {
		t.Errorf("pods after the resume %q, before %q", after, before)
	}
}
