package kubelet

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"google.golang.org/protobuf/proto"
	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	cri "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	criclient "k8s.io/cri-client/pkg"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/pki"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// busyboxImage pushes an image holding only /bin/busybox (static) to a
// registry on 127.0.0.1 and returns its reference. Its default command
// sleeps, so that it serves as the sandbox (pause) image too.
func busyboxImage(t *testing.T) string {
	t.Helper()
	bb, err := os.ReadFile("/usr/bin/busybox")
	if err != nil {
		t.Skip("busybox-static is not installed")
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	_ = tw.WriteHeader(&tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755})
	_ = tw.WriteHeader(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bb))})
	_, _ = tw.Write(bb)
	_ = tw.WriteHeader(&tar.Header{Name: "bin/sh", Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777})
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layer.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	// Config first: AppendLayers then fills in the diff IDs.
	img, err := mutate.ConfigFile(empty.Image, &ggcrv1.ConfigFile{
		Architecture: "amd64", OS: "linux",
		Config: ggcrv1.Config{Cmd: []string{"/bin/busybox", "sleep", "2147483647"}},
		RootFS: ggcrv1.RootFS{Type: "layers"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if img, err = mutate.AppendLayers(img, l); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	ref := strings.TrimPrefix(srv.URL, "http://") + "/skiff/busybox:1"
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	return ref
}

// startContainerd runs Debian's containerd with its own root, state and
// socket under a temp dir, its CRI streaming server on streamPort, pulling
// from the plain-HTTP registry of image. It stops when the test ends.
func startContainerd(t *testing.T, image string, streamPort int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "kapi-containerd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "containerd.sock")
	host := strings.SplitN(image, "/", 2)[0]
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
[grpc]
  address = %[3]q
[plugins."io.containerd.internal.v1.opt"]
  path = %[4]q
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %[5]q
  stream_server_address = "127.0.0.1"
  stream_server_port = "%[6]d"
  # Sandboxes ask for oom_score_adj -998, which an unprivileged-ish host
  # (this one) refuses; containerd then keeps its own score instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
    BinaryName = "/usr/sbin/runc"
    Root = %[9]q
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = %[7]q
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors.%[8]q]
    endpoint = ["http://%[8]s"]
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, filepath.Join(dir, "opt"), image, streamPort, filepath.Join(dir, "cni"), host, filepath.Join(dir, "runc"))
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "containerd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/usr/bin/containerd", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), "PATH=/usr/bin:/usr/sbin:/bin:/sbin")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			lines := strings.Split(string(b), "\n")
			t.Logf("containerd log (end):\n%s", strings.Join(lines[max(0, len(lines)-20):], "\n"))
		}
		_ = logFile.Close()
	})
	waitFor(t, 30*time.Second, "containerd socket", func() (bool, error) {
		_, err := os.Stat(sock)
		return err == nil, err
	})
	return "unix://" + sock
}

// TestKubeletServerExecContainerd runs a pod on containerd through the
// kubelet, `echo`es through /exec with client-go's SPDY executor (as
// `kubectl exec` does through the API server), reads the log containerd
// wrote, its stats, and port-forwards to the pod's httpd.
func TestKubeletServerExecContainerd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts containerd")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	for _, bin := range []string{"/usr/bin/containerd", "/usr/sbin/runc", "/usr/bin/containerd-shim-runc-v2"} {
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("%s is missing", bin)
		}
	}
	image := busyboxImage(t)
	endpoint := startContainerd(t, image, testserver.FreePort(t))
	ctx := context.Background()
	rt, err := criclient.NewRemoteRuntimeService(ctx, endpoint, 10*time.Second, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	images, err := criclient.NewRemoteImageService(ctx, endpoint, 10*time.Second, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	cgroupRoot := fmt.Sprintf("/kapi-test-%d", time.Now().UnixNano())
	// Containers outlive containerd (their shims keep them): remove every
	// sandbox before it is stopped, then the cgroups they were put in.
	t.Cleanup(func() {
		sbs, _ := rt.ListPodSandbox(ctx, nil)
		for _, sb := range sbs {
			_ = rt.StopPodSandbox(ctx, sb.Id)
			_ = rt.RemovePodSandbox(ctx, sb.Id)
		}
		dirs, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", "*", cgroupRoot))
		dirs2, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup", cgroupRoot))
		for _, d := range append(dirs, dirs2...) {
			subs, _ := filepath.Glob(filepath.Join(d, "*", "*"))
			pods, _ := filepath.Glob(filepath.Join(d, "pod*"))
			for _, sub := range append(subs, pods...) {
				if fi, err := os.Stat(sub); err == nil && fi.IsDir() {
					_ = os.Remove(sub)
				}
			}
			_ = os.Remove(d)
		}
	})

	c := newCluster(t)
	port := testserver.FreePort(t)
	certDir, logsDir := t.TempDir(), t.TempDir()
	c.startNode(t, "node-ctrd", nil, func(cfg *Config) {
		cfg.Runtime, cfg.Images, cfg.ProbeDialer = cgroupfsRuntime{rt, cgroupRoot}, images, nil
		cfg.ServerPort, cfg.ServerAddress = port, "127.0.0.1"
		cfg.CertDir, cfg.PodLogsDir = certDir, logsDir
		cfg.NodeStats = SimulatedNodeReadings(MachineInfo{CPUs: 2, MemoryBytes: 4 << 30, EphemeralStorageBytes: 10 << 30}, clock.RealClock{})
	})
	httpPort := testserver.FreePort(t)
	pod := simplePod("sh", v1.Container{Name: "app", Image: image, Command: []string{"/bin/busybox", "sh", "-c",
		fmt.Sprintf("echo started; echo oops >&2; exec /bin/busybox httpd -f -p 127.0.0.1:%d -h /", httpPort)}})
	pod.Spec.HostNetwork = true
	c.bindPod(t, pod, "node-ctrd")
	c.waitPod(t, "default", "sh", "running", time.Minute, func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning })

	ca, err := pki.EnsureCA(filepath.Join(c.srv.DataDir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.IssueClientCert("kube-apiserver-kubelet-client", []string{"system:masters"})
	if err != nil {
		t.Fatal(err)
	}
	serving, err := os.ReadFile(filepath.Join(certDir, selfSignedCertFile))
	if err != nil {
		t.Fatal(err)
	}
	rc := &rest.Config{
		Host:            fmt.Sprintf("https://127.0.0.1:%d", port),
		TLSClientConfig: rest.TLSClientConfig{CertData: certPEM, KeyData: keyPEM, CAData: serving},
	}
	u, _ := url.Parse(rc.Host + "/exec/default/sh/app?command=/bin/busybox&command=echo&command=hello&output=1&error=1")
	execer, err := remotecommand.NewSPDYExecutor(rc, "POST", u)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := execer.StreamWithContext(sctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatalf("exec: %v (stderr %q)", err, stderr.String())
	}
	if stdout.String() != "hello\n" {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}

	// The log containerd wrote, in the CRI format, read back.
	admin := kubeletClient(t, ca, certDir, "kube-apiserver-kubelet-client", "system:masters")
	waitFor(t, 10*time.Second, "container log", func() (bool, error) {
		code, body := get(t, admin, rc.Host+"/containerLogs/default/sh/app")
		return code == http.StatusOK && strings.Contains(body, "started\n") && strings.Contains(body, "oops\n"), fmt.Errorf("%d %q", code, body)
	})

	// containerd's own stats of the pod and its container.
	waitFor(t, 10*time.Second, "stats of the pod", func() (bool, error) {
		code, body := get(t, admin, rc.Host+"/stats/summary")
		var s statsapi.Summary
		if err := json.Unmarshal([]byte(body), &s); code != http.StatusOK || err != nil {
			return false, fmt.Errorf("%d %v", code, err)
		}
		for _, p := range s.Pods {
			if p.PodRef.Name == "sh" && len(p.Containers) == 1 {
				ct := p.Containers[0]
				ok := ct.Memory != nil && ct.Memory.WorkingSetBytes != nil && *ct.Memory.WorkingSetBytes > 0 &&
					ct.CPU != nil && ct.CPU.UsageCoreNanoSeconds != nil && *ct.CPU.UsageCoreNanoSeconds > 0
				return ok, fmt.Errorf("container stats %+v %+v", ct.CPU, ct.Memory)
			}
		}
		return false, fmt.Errorf("no pod sh in %s", body)
	})

	// Port-forward to the pod's httpd with client-go's SPDY port-forwarder.
	transport, upgrader, err := spdy.RoundTripperFor(rc)
	if err != nil {
		t.Fatal(err)
	}
	pfURL, _ := url.Parse(rc.Host + "/portForward/default/sh")
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, "POST", pfURL)
	stop, ready := make(chan struct{}), make(chan struct{})
	defer close(stop)
	fw, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", httpPort)}, stop, ready, io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	fwErr := make(chan error, 1)
	go func() { fwErr <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-fwErr:
		t.Fatalf("port-forward: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("port-forward not ready")
	}
	ports, err := fw.GetPorts()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", ports[0].Local))
	if err != nil {
		t.Fatalf("through the port-forward: %v", err)
	}
	// httpd's answer (a listing or a 404 of /) came through the tunnel.
	_ = resp.Body.Close()
}

// cgroupfsRuntime moves sandboxes under a cgroupfs parent: the kubelet
// names systemd slices, which containerd hands to runc as a systemd path
// that a machine without systemd cannot create. (The containerd half of
// the kubelet chooses the cgroup driver; this test only needs a pod.)
type cgroupfsRuntime struct {
	cri.RuntimeService
	root string
}

func (r cgroupfsRuntime) cgroupfs(c *runtimeapi.PodSandboxConfig) *runtimeapi.PodSandboxConfig {
	if c == nil || c.Linux == nil {
		return c
	}
	c = proto.Clone(c).(*runtimeapi.PodSandboxConfig)
	c.Linux.CgroupParent = r.root + "/pod" + c.GetMetadata().GetUid()
	return c
}

func (r cgroupfsRuntime) RunPodSandbox(ctx context.Context, c *runtimeapi.PodSandboxConfig, handler string) (string, error) {
	return r.RuntimeService.RunPodSandbox(ctx, r.cgroupfs(c), handler)
}

func (r cgroupfsRuntime) CreateContainer(ctx context.Context, sandboxID string, c *runtimeapi.ContainerConfig, sb *runtimeapi.PodSandboxConfig) (string, error) {
	return r.RuntimeService.CreateContainer(ctx, sandboxID, c, r.cgroupfs(sb))
}
