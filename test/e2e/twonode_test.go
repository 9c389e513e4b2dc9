package e2e

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/testimage"
)

// The two-node cluster's addresses: both nodes and the host on one
// switch (a bridge in a namespace of its own), each node in its own
// network namespace, so nothing the nodes write (bridges, routes, nft
// tables) lands in the host's namespace. Its pod range differs from
// TestRealNode's.
const (
	twoNodeClusterCIDR = "10.245.0.0/16"
	twoNodeHostIP      = "10.250.0.1"
	twoNodeAIP         = "10.250.0.2"
	twoNodeBIP         = "10.250.0.3"
	twoNodeImage       = "skiff.test/busybox:1"
)

// testNet is the test's network: namespaces sw (a bridge, the switch), a
// and b (one per node, eth0 on the switch, default route via the host),
// and a veth from the host (10.250.0.1/24) to the switch.
type testNet struct {
	sw, a, b, hostLink string
}

// newTestNet builds the network and removes it when the test ends. It
// first removes what a killed earlier run left (namespaces and the host
// link named after a process that no longer runs), and skips the test
// when the host routes 10.250.0.0/24 some other way: the test's own link
// would shadow or be shadowed by it.
func newTestNet(t *testing.T) *testNet {
	t.Helper()
	removeLeftoverTestNets()
	out, err := exec.Command("ip", "-4", "-o", "route", "show", "match", twoNodeHostIP+"/24").Output()
	if err != nil {
		t.Fatalf("ip route show match: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line != "" && !strings.HasPrefix(line, "default ") {
			t.Skipf("the host already routes the test network %s/24 (%q): "+
				"TestTwoNodes needs it for its switch; remove that route or change twoNodeHostIP", twoNodeHostIP, line)
		}
	}
	id := strconv.Itoa(os.Getpid() % 100000)
	n := &testNet{sw: "skpn-sw-" + id, a: "skpn-a-" + id, b: "skpn-b-" + id, hostLink: "skpnh" + id}
	t.Cleanup(n.remove)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	for _, ns := range []string{n.sw, n.a, n.b} {
		run("netns", "add", ns)
		run("-n", ns, "link", "set", "lo", "up")
	}
	run("-n", n.sw, "link", "add", "br0", "type", "bridge")
	run("-n", n.sw, "link", "set", "br0", "up")
	run("link", "add", n.hostLink, "type", "veth", "peer", "name", "swhost", "netns", n.sw)
	run("addr", "add", twoNodeHostIP+"/24", "dev", n.hostLink)
	run("link", "set", n.hostLink, "up")
	run("-n", n.sw, "link", "set", "swhost", "master", "br0", "up")
	for _, node := range []struct{ ns, port, ip string }{{n.a, "swa", twoNodeAIP}, {n.b, "swb", twoNodeBIP}} {
		run("-n", n.sw, "link", "add", node.port, "type", "veth", "peer", "name", "eth0", "netns", node.ns)
		run("-n", n.sw, "link", "set", node.port, "master", "br0", "up")
		run("-n", node.ns, "addr", "add", node.ip+"/24", "dev", "eth0")
		run("-n", node.ns, "link", "set", "eth0", "up")
		run("-n", node.ns, "route", "add", "default", "via", twoNodeHostIP)
	}
	return n
}

// removeLeftoverTestNets deletes the skpn-* namespaces and skpnh* links
// whose numeric suffix (the pid of the run that made them) names no
// running process: an earlier run was killed before its clean-up.
func removeLeftoverTestNets() {
	alive := func(name, prefix string) bool {
		id, err := strconv.Atoi(strings.TrimPrefix(name, prefix))
		if err != nil {
			return true // not one of ours
		}
		_, err = os.Stat("/proc/" + strconv.Itoa(id))
		return err == nil
	}
	if out, err := exec.Command("ip", "netns", "list").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || !strings.HasPrefix(f[0], "skpn-") {
				continue
			}
			if i := strings.LastIndex(f[0], "-"); !alive(f[0][i+1:], "") {
				_ = exec.Command("ip", "netns", "delete", f[0]).Run()
			}
		}
	}
	if out, err := exec.Command("ip", "-o", "link", "show").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
			if strings.HasPrefix(name, "skpnh") && !alive(name, "skpnh") {
				_ = exec.Command("ip", "link", "delete", name).Run()
			}
		}
	}
}

func (n *testNet) remove() {
	for _, ns := range []string{n.a, n.b, n.sw} {
		_ = exec.Command("ip", "netns", "delete", ns).Run()
	}
	_ = exec.Command("ip", "link", "delete", n.hostLink).Run()
}

// in is the command prefix that runs a program in network namespace ns
// (only the network: the nodes need the host's mounts and cgroups).
func (n *testNet) in(ns string) []string { return []string{"nsenter", "--net=/run/netns/" + ns} }

// run runs a command in namespace ns and returns its combined output.
func (n *testNet) run(ns string, args ...string) (string, error) {
	cmd := append(n.in(ns), args...)
	out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
	return string(out), err
}

// TestTwoNodes is issue 6's pod network: `skiff up` in one namespace,
// `skiff agent` joining it from another, and pods on the two nodes
// reaching each other by pod IP with their own source addresses, a
// Service whose only endpoint is on the other node (by cluster IP and by
// name), and the outside (masqueraded to the node's address); a route
// deleted behind the pod network's back comes back; its cleanup removes
// what it made.
func TestTwoNodes(t *testing.T) {
	requireRealNode(t)
	for _, bin := range []string{"nft", "nsenter", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("two nodes need %s: %v", bin, err)
		}
	}
	tn := newTestNet(t)
	dir, err := os.MkdirTemp("", "sk-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Last (after the teardown); nothing stays mounted under it.
		unmountUnder(dir)
		_ = os.RemoveAll(dir)
	})
	archive := filepath.Join(dir, "busybox.tar")
	testimage.WriteArchive(t, archive, twoNodeImage, testimage.Busybox(t))

	a := newCluster(t, filepath.Join(dir, "a"),
		"--bind-address", "0.0.0.0", "--advertise-address", twoNodeAIP, "--node-ip", twoNodeAIP,
		"--node-name", "node-a", "--cni-bridge", "skpna0", "--cluster-cidr", twoNodeClusterCIDR,
		"--kubelet-port", strconv.Itoa(freePort(t)), "--stop-pods-on-exit")
	a.args[0], a.wrap, a.host = "up", tn.in(tn.a), twoNodeAIP
	// The agent is a process of the same cluster: its kubeconfig is a
	// copy of the admin's, its readiness the API server's.
	bDir := filepath.Join(dir, "b")
	b := &cluster{dir: bDir, dataDir: filepath.Join(bDir, "data"), apiPort: a.apiPort, host: twoNodeAIP, wrap: tn.in(tn.b)}
	b.args = []string{"agent", "--kubeconfig", b.kubeconfig(), "--server", a.apiURL(),
		"--node-name", "node-b", "--node-ip", twoNodeBIP, "--data-dir", b.dataDir,
		"--cni-bridge", "skpnb0", "--cluster-cidr", twoNodeClusterCIDR,
		"--kubelet-port", strconv.Itoa(freePort(t)), "--stop-pods-on-exit"}
	k := newKubectl(a)
	t.Cleanup(func() { teardownTwoNodes(t, k, dir, a, b) })

	if err := a.start(); err != nil {
		t.Fatal(err)
	}
	kc, err := os.ReadFile(a.kubeconfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(b.dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.kubeconfig(), kc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.start(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"node-a", "node-b"} {
		waitFor(t, 120*time.Second, func() (bool, string) {
			out, _, _ := k.run(t, "get", "node", n, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status} {.spec.podCIDR}`)
			f := strings.Fields(out)
			return len(f) == 2 && f[0] == "True", n + " Ready, podCIDR: " + out + "\n" + b.logTail()
		})
	}
	podCIDRA := k.ok(t, "get", "node", "node-a", "-o", "jsonpath={.spec.podCIDR}")
	podCIDRB := k.ok(t, "get", "node", "node-b", "-o", "jsonpath={.spec.podCIDR}")
	if podCIDRA == podCIDRB {
		t.Fatalf("both nodes have pod CIDR %s", podCIDRA)
	}
	for _, c := range []*cluster{a, b} {
		if out, err := exec.Command(skiffBin, "images", "import", "--data-dir", c.dataDir, archive).CombinedOutput(); err != nil {
			t.Fatalf("images import into %s: %v: %s", c.dataDir, err, out)
		}
	}

	// web-<node> serves its node's name at / and, at /cgi-bin/ip, the
	// address its client came from.
	var manifest strings.Builder
	for _, n := range []string{"a", "b"} {
		fmt.Fprintf(&manifest, `---
apiVersion: v1
kind: Pod
metadata: {name: web-%[1]s, labels: {app: web-%[1]s}}
spec:
  nodeName: node-%[1]s
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: %[2]s
    imagePullPolicy: IfNotPresent
    env: [{name: NODE, value: node-%[1]s}]
    command: ["sh", "-c", "mkdir -p /www/cgi-bin && echo $NODE > /www/index.html && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' > /www/cgi-bin/ip && chmod +x /www/cgi-bin/ip && exec httpd -f -p 8080 -h /www"]
`, n, twoNodeImage)
	}
	manifest.WriteString(`---
apiVersion: v1
kind: Service
metadata: {name: web-b}
spec:
  selector: {app: web-b}
  ports: [{port: 80, targetPort: 8080}]
`)
	k.ok(t, "apply", "-f", writeFile(t, "web.yaml", manifest.String()))
	k.ok(t, "wait", "--for=condition=Ready", "pod/web-a", "pod/web-b", "--timeout=120s")
	ipA := k.ok(t, "get", "pod", "web-a", "-o", "jsonpath={.status.podIP}")
	ipB := k.ok(t, "get", "pod", "web-b", "-o", "jsonpath={.status.podIP}")
	fetch := func(from, url string) string {
		out, errOut, err := k.run(t, "exec", from, "--", "timeout", "5", "wget", "-q", "-O", "-", url)
		if err != nil {
			return fmt.Sprintf("%v: %s", err, errOut)
		}
		// busybox httpd gives CGIs an IPv4 client as [::ffff:a.b.c.d].
		return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(out), "[::ffff:"), "]")
	}
	// fetchIs polls until a pod's fetch answers want.
	fetchIs := func(t *testing.T, from, url, want string) {
		t.Helper()
		waitFor(t, 60*time.Second, func() (bool, string) {
			got := fetch(from, url)
			return got == want, fmt.Sprintf("%s: %s: %q, want %q", from, url, got, want)
		})
	}

	t.Run("routes", func(t *testing.T) {
		want := podCIDRB + " via " + twoNodeBIP + " dev eth0"
		out, err := tn.run(tn.a, "ip", "route", "show", "proto", "212")
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("node-a's pod network routes: %v\n%s\nwant %q", err, out, want)
		}
		// Deleted behind its back, the route comes back at the next
		// resync (30 s).
		if out, err := tn.run(tn.a, "ip", "route", "del", podCIDRB); err != nil {
			t.Fatalf("ip route del: %v: %s", err, out)
		}
		waitFor(t, 90*time.Second, func() (bool, string) {
			out, _ := tn.run(tn.a, "ip", "route", "show", "proto", "212")
			return strings.Contains(out, want), "routes: " + out
		})
	})

	t.Run("pod to pod across nodes, own source IPs", func(t *testing.T) {
		fetchIs(t, "web-a", "http://"+ipB+":8080/", "node-b")
		fetchIs(t, "web-a", "http://"+ipB+":8080/cgi-bin/ip", ipA)
		fetchIs(t, "web-b", "http://"+ipA+":8080/cgi-bin/ip", ipB)
		// Round trips for docs/benchmarks.md (logged with -v, not checked):
		// pod to pod across nodes, and node to node beneath it.
		if out, _, err := k.run(t, "exec", "web-a", "--", "ping", "-q", "-c", "20", "-i", "0.2", ipB); err == nil {
			t.Logf("pod to pod across nodes: %s", lastLine(out))
		}
		if out, err := tn.run(tn.a, "busybox", "ping", "-q", "-c", "20", "-i", "0.2", twoNodeBIP); err == nil {
			t.Logf("node to node: %s", lastLine(out))
		}
	})

	t.Run("service with endpoints on the other node", func(t *testing.T) {
		ip := k.ok(t, "get", "service", "web-b", "-o", "jsonpath={.spec.clusterIP}")
		fetchIs(t, "web-a", "http://"+ip+"/", "node-b")
		fetchIs(t, "web-a", "http://web-b/", "node-b")
		fetchIs(t, "web-a", "http://web-b.default.svc.cluster.local/cgi-bin/ip", ipA)
	})

	t.Run("outside, masqueraded", func(t *testing.T) {
		l, err := net.Listen("tcp", twoNodeHostIP+":0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			fmt.Fprintln(w, host)
		})}
		go srv.Serve(l)
		defer srv.Close()
		url := "http://" + l.Addr().String() + "/"
		fetchIs(t, "web-a", url, twoNodeAIP)
		fetchIs(t, "web-b", url, twoNodeBIP)
	})

	t.Run("cleanup removes routes and rules", func(t *testing.T) {
		if err := b.stop(); err != nil {
			t.Fatal(err)
		}
		if out, err := tn.run(tn.b, skiffBin, "podnet", "--cleanup"); err != nil {
			t.Fatalf("skiff podnet --cleanup: %v: %s", err, out)
		}
		if out, _ := tn.run(tn.b, "ip", "route", "show", "proto", "212"); strings.TrimSpace(out) != "" {
			t.Errorf("routes left after cleanup:\n%s", out)
		}
		if out, err := tn.run(tn.b, "nft", "list", "table", "ip", "skiff-podnet"); err == nil {
			t.Errorf("table ip skiff-podnet left after cleanup:\n%s", out)
		}
		if out, _ := tn.run(tn.b, "iptables", "-S", "FORWARD"); strings.Contains(out, "skiff-podnet") {
			t.Errorf("FORWARD rules left after cleanup:\n%s", out)
		}
	})
}

func lastLine(s string) string {
	l := lines(s)
	if len(l) == 0 {
		return ""
	}
	return l[len(l)-1]
}

// teardownTwoNodes stops both nodes (their pods stop with them), then
// removes what they leave on the host: stray processes run from the
// test's directory, mounts under it, the pods' cgroups, the directory.
// The network namespaces go with the test's network.
func teardownTwoNodes(t *testing.T, k kubectl, dir string, nodes ...*cluster) {
	var uids []string
	if out, _, err := k.run(t, "get", "pods", "-A", "-o", "jsonpath={.items[*].metadata.uid}"); err == nil {
		uids = strings.Fields(out)
	}
	for i := len(nodes) - 1; i >= 0; i-- {
		if err := nodes[i].stop(); err != nil {
			t.Log(err)
		}
	}
	killProcessesUnder(dir)
	unmountUnder(dir)
	// The pods' cgroups (runc leaves the pod level) in every hierarchy,
	// cgroup v2 or each v1 controller. rmdir removes only an empty
	// cgroup, and another node's pods have other UIDs.
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/kubepods")
	roots = append(roots, "/sys/fs/cgroup/kubepods")
	for _, root := range roots {
		for _, uid := range uids {
			for _, qos := range []string{"", "burstable", "besteffort"} {
				_ = syscall.Rmdir(filepath.Join(root, qos, "pod"+uid))
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Log(err)
	}
}

// killProcessesUnder kills the processes whose command line names dir
// (containerd shims of the test's nodes that outlived them).
func killProcessesUnder(dir string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), dir+"/") {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// unmountUnder detaches every mount below dir, deepest first.
func unmountUnder(dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var points []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			points = append(points, fields[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		_ = syscall.Unmount(p, syscall.MNT_DETACH)
	}
}
