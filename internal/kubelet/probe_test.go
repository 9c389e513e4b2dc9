package kubelet

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/skiff-sh/skiff/internal/kubelet/simruntime"
)

func TestNextProbeStep(t *testing.T) {
	kubeletStart := t0.Add(-time.Hour)
	running := probeTarget{ContainerID: "c1", Running: true, StartedAt: t0.Add(-time.Minute), Started: true}
	spec := &v1.Probe{InitialDelaySeconds: 10}
	cases := []struct {
		name   string
		kind   probeKind
		target probeTarget
		state  proberState
		want   probeStep
	}{
		{"no container yet", readiness, probeTarget{}, proberState{}, probeStep{}},
		{"new container: readiness starts as failure, then probes", readiness, running, proberState{},
			probeStep{Set: probeFailure, HasSet: true, Probe: true}},
		{"new container: liveness starts as success", liveness, running, proberState{},
			probeStep{Set: probeSuccess, HasSet: true, Probe: true}},
		{"container that ran before the kubelet started: no reset", readiness,
			probeTarget{ContainerID: "c1", Running: true, StartedAt: kubeletStart.Add(-time.Minute), Started: true}, proberState{},
			probeStep{Probe: true}},
		{"within the initial delay", liveness, probeTarget{ContainerID: "c1", Running: true, StartedAt: t0.Add(-5 * time.Second), Started: true},
			proberState{containerID: "c1"}, probeStep{}},
		{"liveness on hold after a failure", liveness, running, proberState{containerID: "c1", onHold: true}, probeStep{}},
		{"on hold, but the container was replaced", liveness, probeTarget{ContainerID: "c2", Running: true, StartedAt: t0.Add(-time.Minute), Started: true},
			proberState{containerID: "c1", onHold: true}, probeStep{Set: probeSuccess, HasSet: true, Probe: true}},
		{"stopped container: failure, keep going", readiness, probeTarget{ContainerID: "c1", Terminated: true},
			proberState{containerID: "c1"}, probeStep{Set: probeFailure, HasSet: true}},
		{"stopped for good under Never: stop", readiness, probeTarget{ContainerID: "c1", Terminated: true, NeverRestart: true},
			proberState{containerID: "c1"}, probeStep{Set: probeFailure, HasSet: true, Stop: true}},
		{"liveness of a deleted pod: success, stop", liveness, func() probeTarget { r := running; r.Deleting = true; return r }(),
			proberState{containerID: "c1"}, probeStep{Set: probeSuccess, HasSet: true, Stop: true}},
		{"readiness waits for the startup probe", readiness, probeTarget{ContainerID: "c1", Running: true, StartedAt: t0.Add(-time.Minute)},
			proberState{containerID: "c1"}, probeStep{}},
		{"startup probe done once started", startup, running, proberState{containerID: "c1"}, probeStep{}},
		{"startup probe runs until started", startup, probeTarget{ContainerID: "c1", Running: true, StartedAt: t0.Add(-time.Minute)},
			proberState{containerID: "c1"}, probeStep{Probe: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.state
			if got := nextProbeStep(tc.kind, spec, tc.target, &s, kubeletStart, t0); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRecordProbeThresholds(t *testing.T) {
	spec := &v1.Probe{FailureThreshold: 3, SuccessThreshold: 2}
	type out struct {
		r  probeResult
		ok bool
	}
	cases := []struct {
		name string
		kind probeKind
		in   []probeResult
		want []out
		hold bool
	}{
		{"readiness needs 2 successes and 3 failures", readiness,
			[]probeResult{probeSuccess, probeSuccess, probeFailure, probeFailure, probeFailure, probeSuccess},
			[]out{{0, false}, {probeSuccess, true}, {0, false}, {0, false}, {probeFailure, true}, {0, false}}, false},
		{"liveness failure holds the worker", liveness,
			[]probeResult{probeFailure, probeFailure, probeFailure},
			[]out{{0, false}, {0, false}, {probeFailure, true}}, true},
		{"startup decides once", startup,
			[]probeResult{probeSuccess, probeSuccess},
			[]out{{0, false}, {probeSuccess, true}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &proberState{}
			for i, r := range tc.in {
				got, ok := recordProbe(tc.kind, spec, s, r)
				if got != tc.want[i].r || ok != tc.want[i].ok {
					t.Errorf("step %d: %v %v, want %v %v", i, got, ok, tc.want[i].r, tc.want[i].ok)
				}
			}
			if s.onHold != tc.hold {
				t.Errorf("onHold = %v", s.onHold)
			}
		})
	}
}

// TestProberAgainstSimulatedRuntime runs each probe handler against a
// simulated pod: nothing leaves the process.
func TestProberAgainstSimulatedRuntime(t *testing.T) {
	ctx := context.Background()
	rt, err := simruntime.New(simruntime.Config{PodCIDR: "10.42.3.0/24"})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Shutdown()
	pod := podWith(v1.RestartPolicyAlways, "a")
	pod.Annotations = map[string]string{simruntime.AnnotationHTTPFailPaths: "/bad"}
	pod.Spec.Containers[0].Ports = []v1.ContainerPort{{Name: "http", ContainerPort: 8080}, {ContainerPort: 9090}}
	k := &Kubelet{cfg: Config{ClusterDomain: "cluster.local"}}
	sbCfg := k.sandboxConfig(pod, 0)
	sb, err := rt.RunPodSandbox(ctx, sbCfg, "")
	if err != nil {
		t.Fatal(err)
	}
	st, _ := rt.PodSandboxStatus(ctx, sb, false)
	ip := st.Status.Network.Ip
	img, err := rt.PullImage(ctx, &runtimeapi.ImageSpec{Image: "img"}, nil, sbCfg)
	if err != nil {
		t.Fatal(err)
	}
	id, err := rt.CreateContainer(ctx, sb, k.containerConfig(pod, &pod.Spec.Containers[0], 0, img, nil), sbCfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	p := &prober{
		exec: func(ctx context.Context, id string, cmd []string, timeout time.Duration) ([]byte, error) {
			o, e, err := rt.ExecSync(ctx, id, cmd, timeout)
			return append(o, e...), err
		},
		dial: rt.DialContext,
	}
	c := &pod.Spec.Containers[0]
	svc := ""
	cases := []struct {
		name   string
		h      v1.ProbeHandler
		want   probeResult
		output string
	}{
		{"exec success", v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"cat", "/tmp/healthy"}}}, probeSuccess, ""},
		{"exec failure", v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"false"}}}, probeFailure, ""},
		{"http 200 by port name", v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}}, probeSuccess, "ok"},
		{"http 500", v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/bad", Port: intstr.FromInt32(8080)}}, probeFailure, "HTTP probe failed with statuscode: 500"},
		{"http refused", v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(81)}}, probeFailure, ""},
		{"tcp open", v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt32(9090)}}, probeSuccess, ""},
		{"tcp refused", v1.ProbeHandler{TCPSocket: &v1.TCPSocketAction{Port: intstr.FromInt32(81)}}, probeFailure, "dial tcp " + ip + ":81: connect: connection refused"},
		{"grpc serving", v1.ProbeHandler{GRPC: &v1.GRPCAction{Port: 9090, Service: &svc}}, probeSuccess, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := p.run(ctx, &v1.Probe{ProbeHandler: tc.h, TimeoutSeconds: 2}, pod, c, ip, id)
			if out.Err != nil {
				t.Fatalf("error %v", out.Err)
			}
			if out.Result != tc.want || (tc.output != "" && out.Output != tc.output) {
				t.Errorf("got %v %q, want %v %q", out.Result, out.Output, tc.want, tc.output)
			}
		})
	}
	// Addresses outside the simulated pods are refused, never dialled.
	if _, err := rt.DialContext(ctx, "tcp", "10.0.0.1:80"); err == nil || !errors.As(err, new(*net.OpError)) {
		t.Errorf("dial outside = %v", err)
	}
}
