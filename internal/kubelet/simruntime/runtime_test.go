package simruntime

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	testingclock "k8s.io/utils/clock/testing"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":                      "docker.io/library/nginx:latest",
		"nginx:1.27":                 "docker.io/library/nginx:1.27",
		"user/app":                   "docker.io/user/app:latest",
		"registry.k8s.io/pause:3.10": "registry.k8s.io/pause:3.10",
		"localhost:5000/app":         "localhost:5000/app:latest",
		"nginx@sha256:abc":           "docker.io/library/nginx@sha256:abc",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func sandboxConfig(name string, annotations map[string]string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata:    &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "ns", Uid: name + "-uid"},
		Labels:      map[string]string{"io.kubernetes.pod.uid": name + "-uid"},
		Annotations: annotations,
	}
}

func TestLifecycle(t *testing.T) {
	ctx := context.Background()
	clk := testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r, err := New(Config{PodCIDR: "10.42.9.0/30", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	// A /30 has one usable address after the network and gateway.
	sb := sandboxConfig("a", map[string]string{AnnotationExitCodePrefix + "app": "3", AnnotationExitAfter + "app": "5s"})
	id, err := r.RunPodSandbox(ctx, sb, "")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := r.PodSandboxStatus(ctx, id, false)
	if st.Status.Network.Ip != "10.42.9.2" || st.Status.State != runtimeapi.PodSandboxState_SANDBOX_READY {
		t.Errorf("sandbox status %+v", st.Status)
	}
	if _, err := r.RunPodSandbox(ctx, sandboxConfig("b", nil), ""); err == nil || !strings.Contains(err.Error(), "no IP addresses available") {
		t.Errorf("second sandbox in a full range: %v", err)
	}
	img, err := r.PullImage(ctx, &runtimeapi.ImageSpec{Image: "nginx"}, nil, sb)
	if err != nil {
		t.Fatal(err)
	}
	cid, err := r.CreateContainer(ctx, id, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "app"}, Image: &runtimeapi.ImageSpec{Image: img, UserSpecifiedImage: "nginx"},
		Labels: map[string]string{"io.kubernetes.pod.uid": "a-uid"},
	}, sb)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.StartContainer(ctx, cid); err != nil {
		t.Fatal(err)
	}
	state := func() *runtimeapi.ContainerStatus {
		s, err := r.ContainerStatus(ctx, cid, false)
		if err != nil {
			t.Fatal(err)
		}
		return s.Status
	}
	if s := state(); s.State != runtimeapi.ContainerState_CONTAINER_RUNNING || s.Image.Image != "docker.io/library/nginx:latest" ||
		!strings.HasPrefix(s.ImageRef, "docker.io/library/nginx@sha256:") {
		t.Errorf("running status %+v", s)
	}
	clk.Step(5 * time.Second)
	if s := state(); s.State != runtimeapi.ContainerState_CONTAINER_EXITED || s.ExitCode != 3 || s.Reason != "Error" ||
		s.FinishedAt-s.StartedAt != int64(5*time.Second) {
		t.Errorf("scripted exit: %+v", s)
	}
	if _, _, err := r.ExecSync(ctx, cid, []string{"true"}, time.Second); err == nil {
		t.Error("exec in an exited container succeeds")
	}
	if err := r.StopPodSandbox(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunPodSandbox(ctx, sandboxConfig("b", nil), ""); err != nil {
		t.Errorf("a stopped sandbox frees its IP: %v", err)
	}
	if err := r.RemovePodSandbox(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ContainerStatus(ctx, cid, false); status.Code(err) != codes.NotFound {
		t.Errorf("removing the sandbox removes its containers: %v", err)
	}
}

func TestPullFailuresAndExec(t *testing.T) {
	ctx := context.Background()
	r, err := New(Config{PodCIDR: "10.42.0.0/24", Images: []string{"pause:3.10"}})
	if err != nil {
		t.Fatal(err)
	}
	sb := sandboxConfig("a", map[string]string{AnnotationMissingImages: "ghost:v1, other"})
	_, err = r.PullImage(ctx, &runtimeapi.ImageSpec{Image: "ghost:v1"}, nil, sb)
	if status.Code(err) != codes.NotFound || !strings.Contains(err.Error(), `failed to resolve reference "docker.io/library/ghost:v1"`) {
		t.Errorf("missing image: %v", err)
	}
	if st, _ := r.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: "docker.io/library/pause:3.10"}, false); st.Image == nil {
		t.Error("preloaded image not present")
	}
	imgs, _ := r.ListImages(ctx, nil)
	if len(imgs) != 1 {
		t.Errorf("images %v", imgs)
	}
	id, _ := r.RunPodSandbox(ctx, sb, "")
	cid, err := r.CreateContainer(ctx, id, &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Image: &runtimeapi.ImageSpec{Image: "pause:3.10"}}, sb)
	if err != nil {
		t.Fatal(err)
	}
	_ = r.StartContainer(ctx, cid)
	if _, _, err := r.ExecSync(ctx, cid, []string{"cat", "/x"}, time.Second); err != nil {
		t.Errorf("exec: %v", err)
	}
	_, _, err = r.ExecSync(ctx, cid, []string{"false"}, time.Second)
	if e, ok := err.(*ExitError); !ok || e.ExitStatus() != 1 {
		t.Errorf("exec false: %v", err)
	}
}

func TestStats(t *testing.T) {
	ctx := context.Background()
	clk := testingclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	r, err := New(Config{PodCIDR: "10.42.0.0/24", Images: []string{"pause:3.10"}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	sb := sandboxConfig("a", nil)
	sb.LogDirectory = "/var/log/pods/ns_a_a-uid"
	id, _ := r.RunPodSandbox(ctx, sb, "")
	cid, err := r.CreateContainer(ctx, id, &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: "c"}, Image: &runtimeapi.ImageSpec{Image: "pause:3.10"}, LogPath: "c/0.log",
	}, sb)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := r.ContainerStatus(ctx, cid, false); st.Status.LogPath != "/var/log/pods/ns_a_a-uid/c/0.log" {
		t.Errorf("log path %q: the sandbox's directory joined, as containerd", st.Status.LogPath)
	}
	if s, _ := r.ContainerStats(ctx, cid); s.Cpu.UsageCoreNanoSeconds.Value != 0 || s.Memory.WorkingSetBytes.Value != 0 {
		t.Errorf("a created container uses nothing: %+v", s)
	}
	_ = r.StartContainer(ctx, cid)
	clk.Step(10 * time.Second)
	cs, _ := r.ListContainerStats(ctx, nil)
	if len(cs) != 1 {
		t.Fatalf("stats %v", cs)
	}
	cpu, nano, mem := cs[0].Cpu.UsageCoreNanoSeconds.Value, cs[0].Cpu.UsageNanoCores.Value, cs[0].Memory.WorkingSetBytes.Value
	// 1-10 millicores for 10 s, 4-35 MiB.
	if cpu < 10e6 || cpu > 100e6 || cpu != nano*10 || mem < 4<<20 || mem > 35<<20 {
		t.Errorf("cpu %d nano %d mem %d", cpu, nano, mem)
	}
	ps, _ := r.ListPodSandboxStats(ctx, nil)
	if len(ps) != 1 || ps[0].Attributes.Id != id || ps[0].Linux.Cpu.UsageCoreNanoSeconds.Value != cpu || ps[0].Linux.Memory.WorkingSetBytes.Value != mem {
		t.Errorf("sandbox stats: %+v", ps)
	}
	_ = r.StopContainer(ctx, cid, 0)
	clk.Step(10 * time.Second)
	if s, _ := r.ContainerStats(ctx, cid); s.Cpu.UsageCoreNanoSeconds.Value != cpu || s.Memory.WorkingSetBytes.Value != 0 {
		t.Errorf("an exited container's CPU time stays, its memory is freed: %+v", s)
	}
}
