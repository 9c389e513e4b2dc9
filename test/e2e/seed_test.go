package e2e

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/v1"

	"github.com/skiff-sh/skiff/internal/testimage"
)

// TestSeedWalkthrough runs the hands-on commands of the cluster
// architecture page (shared/seed/cluster-architecture.txt) with the real
// kubectl against `skiff up` on a real containerd node, in the page's
// order, and checks what each prints against what kubectl prints for a
// kubeadm node. -v shows every command's output.
func TestSeedWalkthrough(t *testing.T) {
	requireRealNode(t)
	// The page runs nginx; a Busybox image serving HTTP on 80 stands in
	// for it, pulled from a registry on loopback.
	reg := testimage.StartRegistry(t, "", "")
	busybox := testimage.Busybox(t)
	image := reg.Push(t, "nginx:1", testimage.WithConfig(t, busybox, ggcr.Config{
		// As nginx, it stops at once on SIGTERM (httpd alone, as pid 1,
		// would ignore it and wait out the grace period).
		Cmd: []string{"sh", "-c", "trap 'exit 0' TERM; httpd -f -p 80 -h /var/www & wait"},
		Env: []string{"PATH=/bin"},
	}))

	c := nodeCluster(t)
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	k := newKubectl(c)
	show := func(args ...string) string {
		t.Helper()
		out := k.ok(t, args...)
		t.Logf("$ kubectl %s\n%s", strings.Join(args, " "), out)
		return out
	}
	waitFor(t, 60*time.Second, func() (bool, string) {
		out, _, _ := k.run(t, "get", "node", "e2e-node", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		return out == "True", "node Ready: " + out
	})
	api := fmt.Sprintf("https://127.0.0.1:%d", c.apiPort)

	// # View cluster info
	out := show("cluster-info")
	wantMatch(t, out,
		`^Kubernetes control plane is running at `+regexp.QuoteMeta(api)+`$`,
		`^CoreDNS is running at `+regexp.QuoteMeta(api+"/api/v1/namespaces/kube-system/services/kube-dns:dns/proxy")+`$`)

	// # View all nodes
	out = show("get", "nodes")
	wantHeader(t, out, "NAME", "STATUS", "ROLES", "AGE", "VERSION")
	if r := row(t, out, "e2e-node"); len(r) != 5 || r[1] != "Ready" || r[2] != "control-plane" || r[4] != serverVersion {
		t.Errorf("get nodes row %q", r)
	}
	out = show("get", "nodes", "-o", "wide")
	if r := row(t, out, "e2e-node"); !strings.HasPrefix(r[len(r)-1], "containerd://") {
		t.Errorf("CONTAINER-RUNTIME of a real node: %q", r)
	}
	describeNode(t, show("describe", "node", "e2e-node"))

	// # View control plane components
	// The control plane as kubeadm's mirror pods, each Running and Ready.
	controlPlane := []string{"coredns-e2e-node", "etcd-e2e-node", "kube-apiserver-e2e-node",
		"kube-controller-manager-e2e-node", "kube-proxy-e2e-node", "kube-scheduler-e2e-node"}
	waitFor(t, 60*time.Second, func() (bool, string) {
		out, _, _ := k.run(t, "get", "pods", "-n", "kube-system", "--no-headers")
		for _, name := range controlPlane {
			if !regexp.MustCompile(`(?m)^` + name + `\s+1/1\s+Running\s`).MatchString(out) {
				return false, out
			}
		}
		return true, out
	})
	out = show("get", "pods", "-n", "kube-system")
	wantHeader(t, out, "NAME", "READY", "STATUS", "RESTARTS", "AGE")
	// `| grep etcd`, `| grep api`
	wantMatch(t, out, `^etcd-e2e-node\s`, `^kube-apiserver-e2e-node\s`)

	// # Watch the scheduler in action
	wantLines(t, show("run", "test-pod", "--image="+image), "pod/test-pod created")
	k.ok(t, "wait", "--for=condition=Ready", "pod/test-pod", "--timeout=90s")
	// The page's `| tail -10` shows the latest events. Sorted by
	// creation, the five of test-pod are the last ones, in order. Sorted
	// by lastTimestamp, Scheduled comes first of all: the scheduler
	// writes through events.k8s.io/v1, which sets eventTime only (its
	// validation refuses deprecatedLastTimestamp), and core/v1 shows such
	// an event without lastTimestamp, as upstream's conversion does; the
	// five are still in order.
	want := []string{"Scheduled", "Pulling", "Pulled", "Created", "Started"}
	for _, sortBy := range []string{".metadata.creationTimestamp", ".lastTimestamp"} {
		out := show("get", "events", "--sort-by="+sortBy)
		wantHeader(t, out, "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE")
		ls := lines(out)[1:]
		if sortBy == ".metadata.creationTimestamp" && len(ls) > 10 {
			ls = ls[len(ls)-10:]
		}
		var reasons []string
		for _, l := range ls {
			if col := columns(l); len(col) >= 4 && col[3] == "pod/test-pod" {
				reasons = append(reasons, col[2])
			}
		}
		if strings.Join(reasons, " ") != strings.Join(want, " ") {
			t.Errorf("--sort-by=%s: test-pod's reasons %v, want %v", sortBy, reasons, want)
		}
	}
	// Every event has a time kubectl shows as LAST SEEN: lastTimestamp
	// (core/v1 writers: the kubelet, the controllers) or eventTime
	// (events.k8s.io/v1 writers: the scheduler).
	stamps := k.ok(t, "get", "events", "-o", `jsonpath={range .items[*]}{.reason} {.source.component}{.reportingComponent} [{.lastTimestamp}{.eventTime}]{"\n"}{end}`)
	for _, l := range lines(stamps) {
		if strings.HasSuffix(l, "[]") {
			t.Errorf("event without lastTimestamp or eventTime: %s", l)
		}
	}

	wantMatch(t, show("delete", "pod", "test-pod"), deleted("pod", "test-pod"))

	// Quick reference: a pod with requests and limits shows in describe
	// node's Non-terminated Pods and Allocated resources; kubectl top.
	show("run", "sized", "--image="+image, `--overrides={"spec":{"terminationGracePeriodSeconds":1,"containers":[{"name":"sized","image":"`+image+`","resources":{"requests":{"cpu":"100m","memory":"64Mi"},"limits":{"cpu":"200m","memory":"128Mi"}}}]}}`)
	k.ok(t, "wait", "--for=condition=Ready", "pod/sized", "--timeout=90s")
	out = show("describe", "node", "e2e-node")
	wantMatch(t, out,
		fmt.Sprintf(`^Non-terminated Pods:\s+\(%d in total\)$`, len(controlPlane)+1),
		`^\s+default\s+sized\s+100m \(\d+%\)\s+200m \(\d+%\)\s+64Mi \(\d+%\)\s+128Mi \(\d+%\)\s+\d+s$`,
		`^\s+kube-system\s+kube-apiserver-e2e-node\s+\S+ \(\d+%\)\s+\S+ \(\d+%\)\s+\S+ \(\d+%\)\s+\S+ \(\d+%\)\s+\d+s$`,
		`^\s+cpu\s+\d+m \(\d+%\)\s+\d+m \(\d+%\)$`,
		`^\s+memory\s+\d+Mi \(\d+%\)\s+\d+Mi \(\d+%\)$`,
		// kube-proxy's own event on its node, as upstream's.
		`^\s+Normal\s+Starting\s+\S+\s+kube-proxy\s*$`)
	waitFor(t, 60*time.Second, func() (bool, string) {
		out, errOut, err := k.run(t, "top", "nodes")
		return err == nil && strings.Contains(out, "e2e-node"), out + errOut
	})
	out = show("top", "nodes")
	wantHeader(t, out, "NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)")
	waitFor(t, 60*time.Second, func() (bool, string) {
		out, errOut, err := k.run(t, "top", "pods")
		return err == nil && strings.Contains(out, "sized"), out + errOut
	})
	wantHeader(t, show("top", "pods"), "NAME", "CPU(cores)", "MEMORY(bytes)")
	// The components share one process: its usage shows on the API
	// server's pod.
	waitFor(t, 60*time.Second, func() (bool, string) {
		out, errOut, err := k.run(t, "top", "pods", "-n", "kube-system")
		return err == nil && strings.Contains(out, "kube-apiserver-e2e-node"), out + errOut
	})
	show("top", "pods", "-n", "kube-system")
	k.ok(t, "delete", "pod", "sized")
}

// describeNode checks every section kubectl describe node prints for a
// kubeadm node, in its order.
func describeNode(t *testing.T, out string) {
	t.Helper()
	sections := []string{
		`^Name:\s+e2e-node$`,
		`^Roles:\s+control-plane$`,
		`^Labels:\s+beta.kubernetes.io/arch=`,
		`^\s+kubernetes.io/hostname=e2e-node$`,
		`^\s+node-role.kubernetes.io/control-plane=$`,
		`^Annotations:\s+\S`,
		`^CreationTimestamp:\s+\S`,
		`^Taints:\s+<none>$`,
		`^Unschedulable:\s+false$`,
		`^Lease:$`,
		`^\s+HolderIdentity:\s+e2e-node$`,
		`^\s+RenewTime:\s+\S`,
		`^Conditions:$`,
		`^\s+MemoryPressure\s+False\s+.*KubeletHasSufficientMemory\s+kubelet has sufficient memory available$`,
		`^\s+DiskPressure\s+False\s+.*KubeletHasNoDiskPressure\s+kubelet has no disk pressure$`,
		`^\s+PIDPressure\s+False\s+.*KubeletHasSufficientPID\s+kubelet has sufficient PID available$`,
		`^\s+Ready\s+True\s+.*KubeletReady\s+kubelet is posting ready status$`,
		`^Addresses:$`,
		`^\s+InternalIP:\s+\d+\.\d+\.\d+\.\d+$`,
		`^\s+Hostname:\s+e2e-node$`,
		`^Capacity:$`,
		`^\s+cpu:\s+\d+$`,
		`^\s+ephemeral-storage:\s+\d+Ki$`,
		`^\s+memory:\s+\d+Ki$`,
		`^\s+pods:\s+110$`,
		`^Allocatable:$`,
		`^System Info:$`,
		`^\s+Machine ID:\s+\S`,
		`^\s+Boot ID:\s+\S`,
		`^\s+Kernel Version:\s+\S`,
		`^\s+OS Image:\s+\S`,
		`^\s+Operating System:\s+linux$`,
		`^\s+Container Runtime Version:\s+containerd://\S+$`,
		`^\s+Kubelet Version:\s+` + regexp.QuoteMeta(serverVersion) + `$`,
		`^PodCIDR:\s+10\.244\.0\.0/24$`,
		`^PodCIDRs:\s+10\.244\.0\.0/24$`,
		`^Non-terminated Pods:\s+\(\d+ in total\)$`,
		`^\s+Namespace\s+Name\s+CPU Requests\s+CPU Limits\s+Memory Requests\s+Memory Limits\s+Age$`,
		`^Allocated resources:$`,
		`^\s+Resource\s+Requests\s+Limits$`,
		`^\s+cpu\s+\S+ \(\d+%\)\s+\S+ \(\d+%\)$`,
		`^Events:$`,
		`^\s+Normal\s+Starting\s+.*kubelet\s+Starting kubelet\.$`,
		`^\s+Normal\s+NodeReady\s+.*kubelet\s+Node e2e-node status is now: NodeReady$`,
		`^\s+Normal\s+RegisteredNode\s+.*node-controller\s+Node e2e-node event: Registered Node e2e-node in Controller$`,
	}
	wantMatch(t, out, sections...)
	// The sections come in kubectl's order.
	last := -1
	for _, s := range []string{"Name:", "Roles:", "Labels:", "Annotations:", "CreationTimestamp:", "Taints:", "Unschedulable:", "Lease:",
		"Conditions:", "Addresses:", "Capacity:", "Allocatable:", "System Info:", "PodCIDR:", "PodCIDRs:", "Non-terminated Pods:",
		"Allocated resources:", "Events:"} {
		i := strings.Index(out, "\n"+s)
		if s == "Name:" && strings.HasPrefix(out, s) {
			i = 0
		}
		if i <= last {
			t.Errorf("describe node: section %q missing or out of order", s)
		}
		last = i
	}
}
