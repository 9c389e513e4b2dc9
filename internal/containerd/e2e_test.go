package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	cri "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/testimage"
)

// node is a supervised containerd started by a test.
type node struct {
	t       *testing.T
	cfg     Config
	c       *Containerd
	rs      cri.RuntimeService
	is      cri.ImageManagerService
	bridge  string
	podCIDR string
	dir     string
	// cancel and done stop the running component (nil when stopped).
	cancel context.CancelFunc
	done   chan error
	// cgroups are sandbox cgroups to remove, with their pod's, once the
	// sandboxes are gone.
	cgroups []string
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// skipUnlessRuntime skips t unless it runs as root with containerd and runc.
func skipUnlessRuntime(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to run containerd")
	}
	for _, bin := range []string{"containerd", "runc", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s: %v", bin, err)
		}
	}
}

// startNode starts a supervised containerd in a temp dir with its own
// bridge and pod CIDR, and stops it, its pods and its bridge when t ends.
func startNode(t *testing.T) *node {
	t.Helper()
	skipUnlessRuntime(t)
	r := make([]byte, 3)
	_, _ = rand.Read(r)
	n := &node{
		t:      t,
		dir:    t.TempDir(),
		bridge: "skt" + hex.EncodeToString(r),
		// A /24 in 10.200.0.0/13 picked at random, so that parallel
		// tests' bridges do not route the same subnet.
		podCIDR: fmt.Sprintf("10.%d.%d.0/24", 200+int(r[0])%8, r[1]),
	}
	n.cfg = Config{DataDir: n.dir, BridgeName: n.bridge, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
	t.Cleanup(func() {
		if n.cancel != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			removeAllPods(ctx, t, n.rs)
			cancel()
		}
		for _, cg := range n.cgroups {
			removeCgroup(t, cg)
		}
		n.stop()
		if out, err := exec.Command("ip", "link", "del", n.bridge).CombinedOutput(); err != nil && !strings.Contains(string(out), "Cannot find device") {
			t.Logf("ip link del %s: %v: %s", n.bridge, err, out)
		}
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(n.dir, "containerd.log")); err == nil {
				t.Logf("containerd log:\n%s", tail(string(b), 4000))
			}
		}
	})
	n.start()
	return n
}

// start runs a new component on the node's data dir and connects the CRI
// clients once it is ready.
func (n *node) start() {
	t := n.t
	t.Helper()
	c, err := New(n.cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.c = c
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel, n.done = cancel, make(chan error, 1)
	began := time.Now()
	go func() { n.done <- c.Run(ctx) }()
	waitFor(t, 60*time.Second, "containerd ready", c.Ready)
	t.Logf("Run to Ready: %v (containerd start, CRI answer, pause image import)", time.Since(began))
	n.rs, n.is, err = NewCRIClient(ctx, c.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
}

// stop ends the component as skiff's shutdown does.
func (n *node) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	if err := <-n.done; err != nil {
		n.t.Errorf("Run: %v", err)
	}
	n.cancel = nil
}

// removeAllPods stops and removes every sandbox and container the test
// left, which unmounts their root filesystems and runs CNI DEL (removing
// their iptables rules and IPs).
func removeAllPods(ctx context.Context, t *testing.T, rs cri.RuntimeService) {
	cs, err := rs.ListContainers(ctx, nil)
	if err != nil {
		t.Logf("cleanup: list containers: %v", err)
	}
	for _, c := range cs {
		_ = rs.StopContainer(ctx, c.Id, 0)
		if err := rs.RemoveContainer(ctx, c.Id); err != nil {
			t.Logf("cleanup: remove container %s: %v", c.Id, err)
		}
	}
	sbs, err := rs.ListPodSandbox(ctx, nil)
	if err != nil {
		t.Logf("cleanup: list sandboxes: %v", err)
	}
	for _, sb := range sbs {
		_ = rs.StopPodSandbox(ctx, sb.Id)
		if err := rs.RemovePodSandbox(ctx, sb.Id); err != nil {
			t.Logf("cleanup: remove sandbox %s: %v", sb.Id, err)
		}
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sandboxConfig(name, uid, cgroupParent, logDir string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: uid},
		Hostname:     name,
		LogDirectory: logDir,
		Linux:        &runtimeapi.LinuxPodSandboxConfig{CgroupParent: cgroupParent},
	}
}

// TestSupervisedContainerd drives one supervised containerd over the CRI
// the way the kubelet will, then kills it and checks the supervisor brings
// it back with its pods.
func TestSupervisedContainerd(t *testing.T) {
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rs, is := n.rs, n.is

	v, err := rs.Version(ctx, "v1")
	if err != nil {
		t.Fatalf("CRI Version: %v", err)
	}
	t.Logf("runtime %s %s, CRI %s", v.RuntimeName, v.RuntimeVersion, v.RuntimeApiVersion)

	if st, err := is.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: PauseImage}, false); err != nil || st.Image == nil {
		t.Fatalf("pause image %s not in the CRI image store: %v", PauseImage, err)
	}

	if err := rs.UpdateRuntimeConfig(ctx, &runtimeapi.RuntimeConfig{NetworkConfig: &runtimeapi.NetworkConfig{PodCidr: n.podCIDR}}); err != nil {
		t.Fatalf("UpdateRuntimeConfig: %v", err)
	}
	waitFor(t, 20*time.Second, "NetworkReady", func() bool {
		st, err := rs.Status(ctx, false)
		if err != nil {
			return false
		}
		for _, c := range st.Status.Conditions {
			if c.Type == runtimeapi.NetworkReady {
				return c.Status
			}
		}
		return false
	})

	uid := randomHex(8)
	logDir := filepath.Join(n.dir, "pods", "default_web_"+uid)
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sbCfg := sandboxConfig("web", uid, "/kubepods/burstable/pod"+uid, logDir)
	sbID, err := rs.RunPodSandbox(ctx, sbCfg, "")
	if err != nil {
		t.Fatalf("RunPodSandbox with cgroupfs parent: %v", err)
	}
	sbStatus, err := rs.PodSandboxStatus(ctx, sbID, false)
	if err != nil {
		t.Fatal(err)
	}
	_, cidr, _ := net.ParseCIDR(n.podCIDR)
	ip := net.ParseIP(sbStatus.Status.GetNetwork().GetIp())
	if ip == nil || !cidr.Contains(ip) {
		t.Fatalf("sandbox IP %q not in pod CIDR %s", sbStatus.Status.GetNetwork().GetIp(), n.podCIDR)
	}
	t.Logf("sandbox %s: IP %s, cgroup parent %s", sbID[:12], ip, sbCfg.Linux.CgroupParent)
	pausePid := sandboxPid(ctx, t, rs, sbID)
	// runc start returns once runc init is told to exec, maybe before.
	waitFor(t, 10*time.Second, "the sandbox process to run the shipped /pause", func() bool {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pausePid))
		return err == nil && string(cmdline) == "/pause\x00"
	})
	n.cgroups = append(n.cgroups, "/kubepods/burstable/pod"+uid+"/"+sbID)
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup/memory/kubepods/burstable/pod"+uid, sbID)); err != nil {
		t.Errorf("sandbox cgroup not where cgroupfs puts it: %v", err)
	}

	reg := testimage.StartRegistry(t, "", "")
	busybox := reg.Push(t, "busybox:e2e", testimage.Busybox(t))
	if _, err := is.PullImage(ctx, &runtimeapi.ImageSpec{Image: busybox}, nil, sbCfg); err != nil {
		t.Fatalf("PullImage %s over plain HTTP: %v", busybox, err)
	}
	viaLocalhost := strings.Replace(busybox, "127.0.0.1:", "localhost:", 1)
	if _, err := is.PullImage(ctx, &runtimeapi.ImageSpec{Image: viaLocalhost}, nil, sbCfg); err != nil {
		t.Fatalf("PullImage %s over plain HTTP: %v", viaLocalhost, err)
	}

	private := testimage.StartRegistry(t, "puller", "s3cret")
	privateRef := private.Push(t, "private/busybox:1", testimage.Busybox(t))
	if _, err := is.PullImage(ctx, &runtimeapi.ImageSpec{Image: privateRef}, nil, sbCfg); err == nil {
		t.Errorf("PullImage %s without credentials succeeded", privateRef)
	}
	if _, err := is.PullImage(ctx, &runtimeapi.ImageSpec{Image: privateRef}, &runtimeapi.AuthConfig{Username: "puller", Password: "s3cret"}, sbCfg); err != nil {
		t.Errorf("PullImage %s with credentials: %v", privateRef, err)
	}

	echoID := createAndStart(ctx, t, rs, sbID, sbCfg, busybox, "echo", []string{"/bin/sh", "-c", "echo hello"})
	waitFor(t, 20*time.Second, "echo to exit", func() bool {
		st, err := rs.ContainerStatus(ctx, echoID, false)
		return err == nil && st.Status.State == runtimeapi.ContainerState_CONTAINER_EXITED
	})
	logBytes, err := os.ReadFile(filepath.Join(logDir, "echo", "0.log"))
	if err != nil || !strings.Contains(string(logBytes), " stdout F hello") {
		t.Fatalf("CRI log of echo: %q, %v", logBytes, err)
	}

	archive := filepath.Join(t.TempDir(), "imported.tar")
	testimage.WriteArchive(t, archive, "skiff.test/imported:1", testimage.WithConfig(t, testimage.Busybox(t), testimageConfig()))
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	names, err := ImportImages(ctx, n.c.Address(), f)
	f.Close()
	if err != nil || len(names) != 1 || names[0] != "skiff.test/imported:1" {
		t.Fatalf("ImportImages = %v, %v", names, err)
	}
	waitFor(t, 10*time.Second, "imported image in CRI", func() bool {
		st, err := is.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: "skiff.test/imported:1"}, false)
		return err == nil && st.Image != nil
	})
	ociArchive := filepath.Join(t.TempDir(), "oci.tar")
	testimage.WriteOCIArchive(t, ociArchive, "skiff.test/oci:1", testimage.Busybox(t))
	f, err = os.Open(ociArchive)
	if err != nil {
		t.Fatal(err)
	}
	names, err = ImportImages(ctx, n.c.Address(), f)
	f.Close()
	if err != nil || len(names) != 1 || names[0] != "skiff.test/oci:1" {
		t.Fatalf("ImportImages of an OCI layout = %v, %v", names, err)
	}
	waitFor(t, 10*time.Second, "OCI-layout image in CRI", func() bool {
		st, err := is.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: "skiff.test/oci:1"}, false)
		return err == nil && st.Image != nil
	})

	sleepID := createAndStart(ctx, t, rs, sbID, sbCfg, "skiff.test/imported:1", "sleep", nil)

	// kill -9 containerd: the supervisor restarts it; pods survive.
	pid := n.c.Pid()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "Ready to go false", func() bool { return !n.c.Ready() })
	waitFor(t, 60*time.Second, "containerd back", func() bool { return n.c.Ready() && n.c.Pid() != pid })
	sbs, err := rs.ListPodSandbox(ctx, nil)
	if err != nil || len(sbs) != 1 || sbs[0].Id != sbID || sbs[0].State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Fatalf("after restart: sandboxes %v, %v", sbs, err)
	}
	st, err := rs.ContainerStatus(ctx, sleepID, false)
	if err != nil || st.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("after restart: sleep container %v, %v", st, err)
	}

	// The same runtime as someone else's (--container-runtime-endpoint):
	// nothing started, Ready once it answers; StopAllPods stops the pod.
	ext, err := New(Config{Endpoint: n.c.Endpoint()})
	if err != nil {
		t.Fatal(err)
	}
	extCtx, extCancel := context.WithCancel(ctx)
	extDone := make(chan error, 1)
	go func() { extDone <- ext.Run(extCtx) }()
	waitFor(t, 10*time.Second, "external runtime ready", ext.Ready)
	if ext.Endpoint() != n.c.Endpoint() || ext.Pid() != 0 {
		t.Errorf("external runtime: endpoint %s, pid %d", ext.Endpoint(), ext.Pid())
	}
	if err := ext.StopAllPods(ctx); err != nil {
		t.Fatalf("StopAllPods: %v", err)
	}
	extCancel()
	if err := <-extDone; err != nil {
		t.Errorf("external Run: %v", err)
	}
	sbStatus, err = rs.PodSandboxStatus(ctx, sbID, false)
	if err != nil || sbStatus.Status.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Fatalf("after StopAllPods: sandbox %v, %v", sbStatus, err)
	}
}

func testimageConfig() v1Config {
	return v1Config{Cmd: []string{"/bin/sleep", "3600"}, Env: []string{"PATH=/bin"}}
}

func createAndStart(ctx context.Context, t *testing.T, rs cri.RuntimeService, sbID string, sbCfg *runtimeapi.PodSandboxConfig, image, name string, command []string) string {
	t.Helper()
	id, err := rs.CreateContainer(ctx, sbID, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: image},
		Command:  command,
		LogPath:  filepath.Join(name, "0.log"),
		Linux:    &runtimeapi.LinuxContainerConfig{},
	}, sbCfg)
	if err != nil {
		t.Fatalf("CreateContainer %s: %v", name, err)
	}
	if err := rs.StartContainer(ctx, id); err != nil {
		t.Fatalf("StartContainer %s: %v", name, err)
	}
	return id
}

// TestSkiffRestartKeepsContainers stops the component (skiff's shutdown)
// and starts a new one on the same data dir: the container started before
// still runs, is listed, and the network still works for new sandboxes.
func TestSkiffRestartKeepsContainers(t *testing.T) {
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := n.rs.UpdateRuntimeConfig(ctx, &runtimeapi.RuntimeConfig{NetworkConfig: &runtimeapi.NetworkConfig{PodCidr: n.podCIDR}}); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "busybox.tar")
	testimage.WriteArchive(t, archive, "skiff.test/sleep:1", testimage.WithConfig(t, testimage.Busybox(t), testimageConfig()))
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ImportImages(ctx, n.c.Address(), f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	uid := randomHex(8)
	sbCfg := sandboxConfig("keep", uid, "/kubepods/besteffort/pod"+uid, t.TempDir())
	sbID, err := n.rs.RunPodSandbox(ctx, sbCfg, "")
	if err != nil {
		t.Fatal(err)
	}
	n.cgroups = append(n.cgroups, "/kubepods/besteffort/pod"+uid+"/"+sbID)
	waitFor(t, 10*time.Second, "image in CRI", func() bool {
		st, err := n.is.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: "skiff.test/sleep:1"}, false)
		return err == nil && st.Image != nil
	})
	sleepID := createAndStart(ctx, t, n.rs, sbID, sbCfg, "skiff.test/sleep:1", "sleep", nil)
	before, err := n.rs.ContainerStatus(ctx, sleepID, true)
	if err != nil {
		t.Fatal(err)
	}

	n.stop()
	n.start()

	after, err := n.rs.ContainerStatus(ctx, sleepID, true)
	if err != nil || after.Status.State != runtimeapi.ContainerState_CONTAINER_RUNNING || after.Status.StartedAt != before.Status.StartedAt {
		t.Fatalf("after restart: %v, %v; want the same container still running", after, err)
	}
	uid2 := randomHex(8)
	sb2, err := n.rs.RunPodSandbox(ctx, sandboxConfig("new", uid2, "/kubepods/besteffort/pod"+uid2, ""), "")
	if err != nil {
		t.Fatalf("new sandbox after restart: %v", err)
	}
	n.cgroups = append(n.cgroups, "/kubepods/besteffort/pod"+uid2+"/"+sb2)
}

// TestCgroupParentFormats records where a sandbox's cgroup lands under
// the cgroupfs driver for each style of parent the kubelet could send: the
// cgroupfs style nests it under the QoS and pod cgroups; a systemd slice
// name is accepted too, but runc then makes one flat cgroup named
// "<slice>:cri-containerd:<id>" at the hierarchy's root, outside kubepods.
func TestCgroupParentFormats(t *testing.T) {
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := n.rs.UpdateRuntimeConfig(ctx, &runtimeapi.RuntimeConfig{NetworkConfig: &runtimeapi.NetworkConfig{PodCidr: n.podCIDR}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		style  string
		parent func(uid string) string
		want   func(parent, id string) string // cgroup path under each controller
	}{
		{"cgroupfs", func(uid string) string { return "/kubepods/burstable/pod" + uid },
			func(parent, id string) string { return parent + "/" + id }},
		{"systemd", func(uid string) string { return "kubepods-burstable-pod" + uid + ".slice" },
			func(parent, id string) string { return parent + ":cri-containerd:" + id }},
	} {
		t.Run(tc.style, func(t *testing.T) {
			uid := randomHex(8)
			parent := tc.parent(uid)
			id, err := n.rs.RunPodSandbox(ctx, sandboxConfig("cg-"+tc.style, uid, parent, ""), "")
			if err != nil {
				t.Fatalf("RunPodSandbox with %s parent %q: %v", tc.style, parent, err)
			}
			want := tc.want(parent, id)
			t.Cleanup(func() { removeCgroup(t, want) })
			defer func() {
				_ = n.rs.StopPodSandbox(ctx, id)
				_ = n.rs.RemovePodSandbox(ctx, id)
			}()
			got := sandboxCgroup(ctx, t, n.rs, id)
			if !strings.HasSuffix(got, want) {
				t.Errorf("%s parent %q: sandbox in memory cgroup %s, want one ending in %s", tc.style, parent, got, want)
			}
			t.Logf("%s parent %q -> memory cgroup %s", tc.style, parent, got)
		})
	}
}

// sandboxPid is the pid of a sandbox's pause process.
func sandboxPid(ctx context.Context, t *testing.T, rs cri.RuntimeService, id string) int {
	t.Helper()
	st, err := rs.PodSandboxStatus(ctx, id, true)
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Pid int }
	if err := json.Unmarshal([]byte(st.Info["info"]), &info); err != nil || info.Pid == 0 {
		t.Fatalf("sandbox verbose info: %v (%q)", err, st.Info["info"])
	}
	return info.Pid
}

// sandboxCgroup is the memory cgroup of a sandbox's pause process.
func sandboxCgroup(ctx context.Context, t *testing.T, rs cri.RuntimeService, id string) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", sandboxPid(ctx, t, rs, id)))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if parts := strings.SplitN(line, ":", 3); len(parts) == 3 && parts[1] == "memory" {
			return parts[2]
		}
	}
	t.Fatalf("no memory cgroup in %s", b)
	return ""
}

// removeCgroup removes the cgroup dir of path, and its parent if that is
// a pod's (runc removes only the container's own), in every v1 hierarchy.
func removeCgroup(t *testing.T, path string) {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*")
	for _, root := range roots {
		_ = os.Remove(filepath.Join(root, path))
		if dir := filepath.Dir(path); strings.HasPrefix(filepath.Base(dir), "pod") {
			_ = os.Remove(filepath.Join(root, dir))
		}
	}
}

// TestStopPodsOnExit: with the flag, stopping the component stops the pods
// first; the next start finds the sandbox not ready.
func TestStopPodsOnExit(t *testing.T) {
	n := startNode(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := n.rs.UpdateRuntimeConfig(ctx, &runtimeapi.RuntimeConfig{NetworkConfig: &runtimeapi.NetworkConfig{PodCidr: n.podCIDR}}); err != nil {
		t.Fatal(err)
	}
	uid := randomHex(8)
	sbID, err := n.rs.RunPodSandbox(ctx, sandboxConfig("drain", uid, "/kubepods/besteffort/pod"+uid, ""), "")
	if err != nil {
		t.Fatal(err)
	}
	n.cgroups = append(n.cgroups, "/kubepods/besteffort/pod"+uid+"/"+sbID)
	n.stop()
	n.cfg.StopPodsOnExit = true
	n.start()
	n.stop()
	n.cfg.StopPodsOnExit = false
	n.start()
	st, err := n.rs.PodSandboxStatus(ctx, sbID, false)
	if err != nil || st.Status.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Fatalf("sandbox after a stop with StopPodsOnExit: %v, %v", st, err)
	}
}
