package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/testimage"
)

// The real node's pod network in these tests: its own bridge and range,
// so that a developer's `make up` on the same host is not disturbed.
const (
	nodeBridge      = "skiffe2e0"
	nodeClusterCIDR = "10.244.0.0/16"
	nodePodCIDR     = "10.244.0.0/24"
)

// requireRealNode skips a test that needs root, containerd, runc and
// busybox-static.
func requireRealNode(t *testing.T) {
	t.Helper()
	requireE2E(t)
	if os.Geteuid() != 0 {
		t.Skip("a real node needs root")
	}
	for _, bin := range []string{"containerd", "runc", "iptables"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("a real node needs %s: %v", bin, err)
		}
	}
}

// nodeCluster is `skiff up` with a real node on a short data dir (the
// containerd socket path must fit a unix socket address).
func nodeCluster(t *testing.T, extra ...string) *cluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "sk-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	args := append([]string{"--cni-bridge", nodeBridge, "--cluster-cidr", nodeClusterCIDR, "--node-name", "e2e-node", "--kubelet-port", strconv.Itoa(freePort(t))}, extra...)
	c := newCluster(t, dir, args...)
	c.args[0] = "up"
	// Every log line on stderr, into skiff.log beside the console, as
	// `skiff server` logs.
	c.args = append(c.args, "--log-file", "-")
	t.Cleanup(func() {
		// Leave nothing running on the host: the kubelet tears the pods
		// down, the last skiff stops whatever is left, and the bridge
		// goes.
		c.args = append(c.args, "--stop-pods-on-exit")
		if c.cmd == nil {
			return
		}
		select {
		case <-c.done:
			if c.start() != nil {
				return
			}
		default:
		}
		_, _, _ = newKubectl(c).run(t, "delete", "pods", "--all", "--grace-period=1", "--timeout=30s")
		_ = c.stop()
		_ = exec.Command("ip", "link", "del", nodeBridge).Run()
		_ = exec.Command(skiffBin, "proxy", "--cleanup").Run()
		_ = exec.Command(skiffBin, "podnet", "--cleanup").Run()
	})
	return c
}

// TestRealNode runs pods in real containers through the supervised
// containerd, with an image the kubelet pulls from a registry on
// loopback: the event sequence, the pod IP, probes, restarts, crash
// loops, graceful deletion, a missing image, and the kubelet and
// containerd restarting under running pods.
func TestRealNode(t *testing.T) {
	requireRealNode(t)
	reg := testimage.StartRegistry(t, "", "")
	image := reg.Push(t, "busybox:1", testimage.Busybox(t))

	c := nodeCluster(t)
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	k := newKubectl(c)
	waitFor(t, 30*time.Second, func() (bool, string) {
		out, _, _ := k.run(t, "get", "node", "e2e-node", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		return out == "True", "node Ready: " + out
	})

	t.Run("run: events, pod IP", func(t *testing.T) {
		k.ok(t, "run", "test-pod", "--image="+image, "--", "sh", "-c", "echo hello from skiff; exec sleep 3600")
		k.ok(t, "wait", "--for=condition=Ready", "pod/test-pod", "--timeout=60s")
		reasons := eventReasons(t, k, "test-pod")
		want := []string{"Scheduled", "Pulling", "Pulled", "Created", "Started"}
		if !isSubsequence(want, reasons) {
			t.Errorf("events of test-pod: got %v, want %v in that order", reasons, want)
		}
		ip := strings.TrimSpace(k.ok(t, "get", "pod", "test-pod", "-o", "jsonpath={.status.podIP}"))
		addr, err := netip.ParseAddr(ip)
		if err != nil || !netip.MustParsePrefix(nodePodCIDR).Contains(addr) {
			t.Errorf("pod IP %q is not in the node's pod CIDR %s", ip, nodePodCIDR)
		}
		msg := k.ok(t, "get", "events", "--field-selector", "involvedObject.name=test-pod,reason=Pulled", "-o", "jsonpath={.items[*].message}")
		if !strings.Contains(msg, "Successfully pulled image") || !strings.Contains(msg, " bytes.") {
			t.Errorf("Pulled event: %q", msg)
		}
	})

	t.Run("logs, exec, port-forward, top", func(t *testing.T) {
		waitFor(t, 10*time.Second, func() (bool, string) {
			out, _, _ := k.run(t, "logs", "test-pod")
			return strings.Contains(out, "hello from skiff"), "logs: " + out
		})
		if out := k.ok(t, "exec", "test-pod", "--", "sh", "-c", "echo out; echo err >&2"); out != "out\n" {
			t.Errorf("exec stdout %q", out)
		}
		// kubectl 1.27 and 1.29 exec over SPDY end to end; newer ones over
		// a websocket the API server translates to SPDY for containerd.
		for _, v := range []string{"1.27", "1.29", "1.33"} {
			bin := filepath.Join(olderKubectls, "kubectl."+v)
			if _, err := os.Stat(bin); err != nil {
				continue
			}
			old := kubectl{bin: bin, c: c}
			if out := old.ok(t, "exec", "test-pod", "--", "echo", v); out != v+"\n" {
				t.Errorf("kubectl %s exec: %q", v, out)
			}
		}
		k.ok(t, "exec", "test-pod", "--", "sh", "-c", "mkdir -p /www && echo served > /www/index.html && httpd -p 8080 -h /www")
		port := freePort(t)
		pf := k.start(t, "port-forward", "pod/test-pod", fmt.Sprintf("%d:8080", port))
		pf.waitFor(t, "Forwarding from")
		waitFor(t, 10*time.Second, func() (bool, string) {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/index.html", port))
			if err != nil {
				return false, err.Error()
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return string(b) == "served\n", string(b)
		})
		pf.kill()
		// Usage is a rate between two scrapes, so the first answer may
		// take a moment.
		waitFor(t, 30*time.Second, func() (bool, string) {
			out, errOut, err := k.run(t, "top", "pod", "test-pod", "--no-headers")
			return err == nil && strings.HasPrefix(out, "test-pod"), out + errOut
		})
		out := k.ok(t, "top", "node", "--no-headers")
		if !strings.HasPrefix(out, "e2e-node ") {
			t.Errorf("kubectl top node: %q", out)
		}
	})

	t.Run("service: cluster IP, node port, no endpoints", func(t *testing.T) {
		// test-pod serves /www on 8080 since the subtest above.
		k.ok(t, "expose", "pod", "test-pod", "--name", "web", "--port", "80", "--target-port", "8080", "--type", "NodePort")
		ip := strings.TrimSpace(k.ok(t, "get", "service", "web", "-o", "jsonpath={.spec.clusterIP}"))
		nodePort := strings.TrimSpace(k.ok(t, "get", "service", "web", "-o", "jsonpath={.spec.ports[0].nodePort}"))
		fetch := func(url string) (string, error) {
			c := http.Client{Timeout: 3 * time.Second}
			resp, err := c.Get(url)
			if err != nil {
				return "", err
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			return string(b), err
		}
		// From the host: the cluster IP, the node port on loopback and on
		// the node's address.
		for _, url := range []string{"http://" + ip + "/index.html", "http://127.0.0.1:" + nodePort + "/index.html"} {
			waitFor(t, 30*time.Second, func() (bool, string) {
				body, err := fetch(url)
				return body == "served\n", fmt.Sprintf("%s: %q %v", url, body, err)
			})
		}
		// From another pod, by cluster IP.
		k.ok(t, "run", "client", "--image="+image, `--overrides={"spec":{"terminationGracePeriodSeconds":1}}`, "--", "sleep", "3600")
		k.ok(t, "wait", "--for=condition=Ready", "pod/client", "--timeout=60s")
		waitFor(t, 30*time.Second, func() (bool, string) {
			out, errOut, _ := k.run(t, "exec", "client", "--", "wget", "-q", "-O", "-", "http://"+ip+"/index.html")
			return out == "served\n", "from a pod: " + out + errOut
		})
		// By name, through the cluster DNS behind kube-dns: the pod's
		// resolv.conf searches its namespace.
		waitFor(t, 30*time.Second, func() (bool, string) {
			out, errOut, _ := k.run(t, "exec", "client", "--", "nslookup", "web.default.svc.cluster.local")
			return strings.Contains(out, ip), "nslookup: " + out + errOut
		})
		if out, errOut, _ := k.run(t, "exec", "client", "--", "wget", "-q", "-O", "-", "http://web/index.html"); out != "served\n" {
			t.Errorf("by the short name: %q %s", out, errOut)
		}
		// A Service without endpoints refuses at once.
		k.ok(t, "create", "service", "clusterip", "nobody", "--tcp", "80:8080")
		nobody := strings.TrimSpace(k.ok(t, "get", "service", "nobody", "-o", "jsonpath={.spec.clusterIP}"))
		waitFor(t, 30*time.Second, func() (bool, string) {
			start := time.Now()
			_, err := fetch("http://" + nobody + "/")
			return err != nil && strings.Contains(err.Error(), "connection refused") && time.Since(start) < time.Second,
				fmt.Sprintf("service without endpoints: %v after %v", err, time.Since(start))
		})
		k.ok(t, "delete", "service", "web", "nobody")
		k.ok(t, "delete", "pod", "client")
	})

	t.Run("rolling update: traffic reaches only the new pods", func(t *testing.T) {
		serve := `mkdir -p /www && echo $VERSION > /www/index.html && exec httpd -f -p 8080 -h /www`
		k.ok(t, "create", "deployment", "site", "--image="+image, "--replicas=2", "--", "sh", "-c", serve)
		k.ok(t, "set", "env", "deployment/site", "VERSION=v1")
		k.ok(t, "patch", "deployment", "site", "-p", `{"spec":{"template":{"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"busybox","readinessProbe":{"httpGet":{"path":"/index.html","port":8080},"periodSeconds":1}}]}}}}`)
		k.ok(t, "rollout", "status", "deployment/site", "--timeout=90s")
		k.ok(t, "expose", "deployment", "site", "--port", "80", "--target-port", "8080")
		ip := strings.TrimSpace(k.ok(t, "get", "service", "site", "-o", "jsonpath={.spec.clusterIP}"))
		get := func() string {
			c := http.Client{Timeout: 3 * time.Second}
			resp, err := c.Get("http://" + ip + "/index.html")
			if err != nil {
				return err.Error()
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return strings.TrimSpace(string(b))
		}
		// consistently waits until n answers in a row are want.
		consistently := func(want string, n int) {
			waitFor(t, 60*time.Second, func() (bool, string) {
				for i := range n {
					if got := get(); got != want {
						return false, fmt.Sprintf("answer %d: %q, want %q", i, got, want)
					}
				}
				return true, ""
			})
		}
		consistently("v1", 10)
		k.ok(t, "set", "env", "deployment/site", "VERSION=v2")
		k.ok(t, "rollout", "status", "deployment/site", "--timeout=90s")
		consistently("v2", 20)
		k.ok(t, "delete", "service", "site")
		k.ok(t, "delete", "deployment", "site")
	})

	t.Run("host network", func(t *testing.T) {
		k.ok(t, "run", "hostnet", "--image="+image, `--overrides={"spec":{"hostNetwork":true,"terminationGracePeriodSeconds":1}}`, "--", "sleep", "3600")
		k.ok(t, "wait", "--for=condition=Ready", "pod/hostnet", "--timeout=60s")
		ips := k.ok(t, "get", "pod", "hostnet", "-o", "jsonpath={.status.podIP} {.status.hostIP}")
		if f := strings.Fields(ips); len(f) != 2 || f[0] != f[1] {
			t.Errorf("a host-network pod's IP should be its node's: podIP hostIP = %q", ips)
		}
		k.ok(t, "delete", "pod", "hostnet")
	})

	t.Run("liveness failure restarts the container", func(t *testing.T) {
		k.ok(t, "apply", "-f", writeFile(t, "liveness.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: liveness}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: c
    image: %s
    command: ["sh", "-c", "touch /tmp/healthy; sleep 2; rm /tmp/healthy; exec sleep 3600"]
    livenessProbe:
      exec: {command: ["cat", "/tmp/healthy"]}
      periodSeconds: 1
      failureThreshold: 1
`, image)))
		waitFor(t, 60*time.Second, func() (bool, string) {
			n := k.ok(t, "get", "pod", "liveness", "-o", "jsonpath={.status.containerStatuses[0].restartCount}")
			return n != "" && n != "0", "restartCount " + n
		})
		reasons := eventReasons(t, k, "liveness")
		if !isSubsequence([]string{"Unhealthy", "Killing"}, reasons) {
			t.Errorf("events of liveness: %v, want Unhealthy then Killing", reasons)
		}
	})

	t.Run("crash loop", func(t *testing.T) {
		k.ok(t, "run", "crasher", "--image="+image, "--", "sh", "-c", "exit 3")
		waitFor(t, 60*time.Second, func() (bool, string) {
			out := k.ok(t, "get", "pod", "crasher", "--no-headers")
			return strings.Contains(out, "CrashLoopBackOff"), out
		})
		code := k.ok(t, "get", "pod", "crasher", "-o", "jsonpath={.status.containerStatuses[0].lastState.terminated.exitCode}")
		if code != "3" {
			t.Errorf("last exit code %q, want 3", code)
		}
		k.ok(t, "delete", "pod", "crasher", "--grace-period=1")
	})

	t.Run("missing image", func(t *testing.T) {
		k.ok(t, "run", "nosuch", "--image="+reg.Host+"/nosuch:1")
		waitFor(t, 60*time.Second, func() (bool, string) {
			out := k.ok(t, "get", "pod", "nosuch", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}")
			return out == "ImagePullBackOff", out
		})
		reasons := eventReasons(t, k, "nosuch")
		if !isSubsequence([]string{"Pulling", "Failed", "BackOff"}, reasons) {
			t.Errorf("events of nosuch: %v", reasons)
		}
		if phase := k.ok(t, "get", "pod", "test-pod", "-o", "jsonpath={.status.phase}"); phase != "Running" {
			t.Errorf("test-pod is %s next to a pod whose image is missing", phase)
		}
		k.ok(t, "delete", "pod", "nosuch", "--grace-period=1")
	})

	t.Run("image pull secret", func(t *testing.T) {
		private := testimage.StartRegistry(t, "skiff", "s3cret")
		image := private.Push(t, "private/busybox:1", testimage.Busybox(t))
		k.ok(t, "create", "secret", "docker-registry", "regcred", "--docker-server="+private.Host, "--docker-username=skiff", "--docker-password=s3cret")
		k.ok(t, "run", "private", "--image="+image, `--overrides={"spec":{"imagePullSecrets":[{"name":"regcred"}],"terminationGracePeriodSeconds":1}}`, "--", "sleep", "3600")
		k.ok(t, "wait", "--for=condition=Ready", "pod/private", "--timeout=60s")
		// Without the secret the same registry refuses the pull.
		k.ok(t, "run", "nocred", "--image="+private.Host+"/private/busybox:1", "--image-pull-policy=Always", "--", "sleep", "3600")
		waitFor(t, 60*time.Second, func() (bool, string) {
			out := k.ok(t, "get", "pod", "nocred", "-o", "jsonpath={.status.containerStatuses[0].state.waiting.reason}")
			return out == "ErrImagePull" || out == "ImagePullBackOff", out
		})
		k.ok(t, "delete", "pod", "private", "nocred", "--grace-period=1")
	})

	t.Run("graceful delete", func(t *testing.T) {
		k.ok(t, "run", "graceful", "--image="+image, "--", "sh", "-c", "trap 'echo bye; exit 0' TERM; while true; do sleep 1; done")
		k.ok(t, "wait", "--for=condition=Ready", "pod/graceful", "--timeout=60s")
		start := time.Now()
		k.ok(t, "delete", "pod", "graceful", "--wait=true")
		if d := time.Since(start); d > 20*time.Second {
			t.Errorf("a pod that exits on SIGTERM took %v to delete", d)
		}
		if !isSubsequence([]string{"Started", "Killing"}, eventReasons(t, k, "graceful")) {
			t.Errorf("no Killing event for graceful")
		}
	})

	containerID := func() string {
		return k.ok(t, "get", "pod", "test-pod", "-o", "jsonpath={.status.containerStatuses[0].containerID}")
	}
	before := containerID()

	t.Run("kubelet restart keeps containers", func(t *testing.T) {
		if err := c.stop(); err != nil {
			t.Fatal(err)
		}
		if err := c.start(); err != nil {
			t.Fatal(err)
		}
		k.ok(t, "wait", "--for=condition=Ready", "pod/test-pod", "--timeout=60s")
		if got := containerID(); got != before {
			t.Errorf("container changed across a restart: %s, then %s", before, got)
		}
		if n := k.ok(t, "get", "pod", "test-pod", "-o", "jsonpath={.status.containerStatuses[0].restartCount}"); n != "0" {
			t.Errorf("restartCount %s after a kubelet restart", n)
		}
	})

	t.Run("containerd killed is restarted", func(t *testing.T) {
		pidFile := filepath.Join(c.dataDir, "containerd", "containerd.pid")
		b, err := os.ReadFile(pidFile)
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, func() (bool, string) {
			b, _ := os.ReadFile(pidFile)
			return strings.TrimSpace(string(b)) != strconv.Itoa(pid), "containerd pid " + string(b)
		})
		k.ok(t, "run", "after-crash", "--image="+image, "--", "sleep", "3600")
		k.ok(t, "wait", "--for=condition=Ready", "pod/after-crash", "--timeout=60s")
		if got := containerID(); got != before {
			t.Errorf("test-pod's container changed when containerd restarted: %s, then %s", before, got)
		}
		if phase := k.ok(t, "get", "pod", "test-pod", "-o", "jsonpath={.status.phase}"); phase != "Running" {
			t.Errorf("test-pod is %s after containerd restarted", phase)
		}
	})
}

// eventReasons lists the reasons of an object's events, oldest first.
func eventReasons(t *testing.T, k kubectl, name string) []string {
	t.Helper()
	out := k.ok(t, "get", "events", "--sort-by=.metadata.creationTimestamp",
		"--field-selector", "involvedObject.name="+name, "-o", "jsonpath={range .items[*]}{.reason}{\"\\n\"}{end}")
	return strings.Fields(out)
}

// isSubsequence reports whether want appears in got in order.
func isSubsequence(want, got []string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	return i == len(want)
}

// waitFor polls cond every 200 ms until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, s := cond()
		if ok {
			return
		}
		last = s
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("condition not met in %v; last: %s", timeout, last)
}
