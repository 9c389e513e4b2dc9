package kubelet

import (
	"reflect"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

// podWith builds a pod with the named containers (image "img") and init
// containers ("init:" prefix).
func podWith(policy v1.RestartPolicy, names ...string) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid-1"}, Spec: v1.PodSpec{RestartPolicy: policy}}
	for _, n := range names {
		if len(n) > 5 && n[:5] == "init:" {
			p.Spec.InitContainers = append(p.Spec.InitContainers, v1.Container{Name: n[5:], Image: "img"})
			continue
		}
		p.Spec.Containers = append(p.Spec.Containers, v1.Container{Name: n, Image: "img"})
	}
	return p
}

func readySandbox() sandboxStatus {
	return sandboxStatus{ID: "sb1", Ready: true, IPs: []string{"10.42.0.5"}, CreatedAt: t0}
}

// ctr is a container of the newest sandbox "sb1".
func ctr(id, name string, state containerState, exit int32, finished time.Time) containerStatus {
	return containerStatus{ID: id, Name: name, SandboxID: "sb1", State: state, ExitCode: exit,
		CreatedAt: finished.Add(-time.Minute), StartedAt: finished.Add(-time.Minute), FinishedAt: finished,
		Hash: containerHash(&v1.Container{Name: name, Image: "img"})}
}

func rtPod(sbs []sandboxStatus, cs ...containerStatus) *runtimePod {
	return &runtimePod{UID: "uid-1", Sandboxes: sbs, Containers: cs}
}

func TestComputePodActions(t *testing.T) {
	bo := newBackoff(10*time.Second, 5*time.Minute)
	// "crashed" failed once already: its next restart waits 10 s.
	bo.Next("uid-1/crashed", t0.Add(-time.Minute), t0.Add(-time.Minute))
	ready := []sandboxStatus{readySandbox()}
	notReady := []sandboxStatus{{ID: "sb1", Attempt: 2, Ready: false, CreatedAt: t0}}

	cases := []struct {
		name  string
		pod   *v1.Pod
		rt    *runtimePod
		hints planHints
		want  podActions
	}{
		{
			name: "new pod: sandbox, then every container",
			pod:  podWith(v1.RestartPolicyAlways, "a", "b"),
			rt:   rtPod(nil),
			want: podActions{KillPod: true, CreateSandbox: true, ContainersToStart: []int{0, 1}},
		},
		{
			name: "new pod with init containers: only the first init container",
			pod:  podWith(v1.RestartPolicyAlways, "init:i1", "init:i2", "a"),
			rt:   rtPod(nil),
			want: podActions{KillPod: true, CreateSandbox: true, InitContainersToStart: []int{0}},
		},
		{
			name: "everything running: nothing to do",
			pod:  podWith(v1.RestartPolicyAlways, "a"),
			rt:   rtPod(ready, ctr("c1", "a", stateRunning, 0, time.Time{})),
			want: podActions{SandboxID: "sb1"},
		},
		{
			name: "sandbox died: a new one with the next attempt",
			pod:  podWith(v1.RestartPolicyAlways, "a"),
			rt:   rtPod(notReady, ctr("c1", "a", stateExited, 0, t0)),
			want: podActions{KillPod: true, CreateSandbox: true, SandboxID: "sb1", Attempt: 3, ContainersToStart: []int{0}},
		},
		{
			name: "sandbox died under Never after running: no new sandbox",
			pod:  podWith(v1.RestartPolicyNever, "a"),
			rt:   rtPod(notReady, ctr("c1", "a", stateExited, 0, t0)),
			want: podActions{KillPod: true, SandboxID: "sb1", Attempt: 3},
		},
		{
			name: "sandbox died under OnFailure: succeeded containers stay done",
			pod:  podWith(v1.RestartPolicyOnFailure, "a", "b"),
			rt:   rtPod(notReady, ctr("c1", "a", stateExited, 0, t0), ctr("c2", "b", stateExited, 1, t0)),
			want: podActions{KillPod: true, CreateSandbox: true, SandboxID: "sb1", Attempt: 3, ContainersToStart: []int{1}},
		},
		{
			name: "sandbox without IP is replaced",
			pod:  podWith(v1.RestartPolicyAlways, "a"),
			rt:   rtPod([]sandboxStatus{{ID: "sb1", Ready: true, CreatedAt: t0}}),
			want: podActions{KillPod: true, CreateSandbox: true, SandboxID: "sb1", Attempt: 1, ContainersToStart: []int{0}},
		},
		{
			name:  "exited under Always: restart at once the first time",
			pod:   podWith(v1.RestartPolicyAlways, "a"),
			rt:    rtPod(ready, ctr("c1", "a", stateExited, 0, t0)),
			hints: planHints{BackOff: bo},
			want:  podActions{SandboxID: "sb1", ContainersToStart: []int{0}},
		},
		{
			name:  "crashed again within its back-off: wait",
			pod:   podWith(v1.RestartPolicyAlways, "crashed"),
			rt:    rtPod(ready, ctr("c1", "crashed", stateExited, 1, t0.Add(-5*time.Second))),
			hints: planHints{BackOff: bo},
			want: podActions{SandboxID: "sb1", BackOff: []backOffWait{{Name: "crashed", Until: t0.Add(5 * time.Second),
				Message: "back-off 10s restarting failed container=crashed pod=p_ns(uid-1)"}}},
		},
		{
			name:  "crashed longer ago than its back-off: restart",
			pod:   podWith(v1.RestartPolicyAlways, "crashed"),
			rt:    rtPod(ready, ctr("c1", "crashed", stateExited, 1, t0.Add(-11*time.Second))),
			hints: planHints{BackOff: bo},
			want:  podActions{SandboxID: "sb1", ContainersToStart: []int{0}},
		},
		{
			name: "OnFailure: a success is final, the pod is done",
			pod:  podWith(v1.RestartPolicyOnFailure, "a"),
			rt:   rtPod(ready, ctr("c1", "a", stateExited, 0, t0)),
			want: podActions{KillPod: true, SandboxID: "sb1"},
		},
		{
			name: "OnFailure: a failure restarts",
			pod:  podWith(v1.RestartPolicyOnFailure, "a"),
			rt:   rtPod(ready, ctr("c1", "a", stateExited, 2, t0)),
			want: podActions{SandboxID: "sb1", ContainersToStart: []int{0}},
		},
		{
			name: "Never: one exited, one running: keep going",
			pod:  podWith(v1.RestartPolicyNever, "a", "b"),
			rt:   rtPod(ready, ctr("c1", "a", stateExited, 1, t0), ctr("c2", "b", stateRunning, 0, time.Time{})),
			want: podActions{SandboxID: "sb1"},
		},
		{
			name:  "liveness failure: kill and restart",
			pod:   podWith(v1.RestartPolicyAlways, "a"),
			rt:    rtPod(ready, ctr("c1", "a", stateRunning, 0, time.Time{})),
			hints: planHints{Liveness: map[string]probeResult{"c1": probeFailure}},
			want: podActions{SandboxID: "sb1", ContainersToStart: []int{0}, ContainersToKill: []containerToKill{
				{ID: "c1", Name: "a", Message: "Container a failed liveness probe, will be restarted", Reason: killLiveness}}},
		},
		{
			name:  "liveness failure under Never: kill, the pod ends",
			pod:   podWith(v1.RestartPolicyNever, "a"),
			rt:    rtPod(ready, ctr("c1", "a", stateRunning, 0, time.Time{})),
			hints: planHints{Liveness: map[string]probeResult{"c1": probeFailure}},
			want: podActions{KillPod: true, SandboxID: "sb1", ContainersToKill: []containerToKill{
				{ID: "c1", Name: "a", Message: "Container a failed liveness probe", Reason: killLiveness}}},
		},
		{
			name:  "startup failure: kill and restart",
			pod:   podWith(v1.RestartPolicyAlways, "a"),
			rt:    rtPod(ready, ctr("c1", "a", stateRunning, 0, time.Time{})),
			hints: planHints{Startup: map[string]probeResult{"c1": probeFailure}},
			want: podActions{SandboxID: "sb1", ContainersToStart: []int{0}, ContainersToKill: []containerToKill{
				{ID: "c1", Name: "a", Message: "Container a failed startup probe, will be restarted", Reason: killStartup}}},
		},
		{
			name: "definition changed: restart even under Never",
			pod:  podWith(v1.RestartPolicyNever, "a"),
			rt: rtPod(ready, func() containerStatus {
				c := ctr("c1", "a", stateRunning, 0, time.Time{})
				c.Hash = "stale"
				return c
			}()),
			want: podActions{SandboxID: "sb1", ContainersToStart: []int{0}, ContainersToKill: []containerToKill{
				{ID: "c1", Name: "a", Message: "Container a definition changed, will be restarted"}}},
		},
		{
			name: "unknown state: kill before restarting",
			pod:  podWith(v1.RestartPolicyAlways, "a"),
			rt:   rtPod(ready, ctr("c1", "a", stateUnknown, 0, time.Time{})),
			want: podActions{SandboxID: "sb1", ContainersToStart: []int{0}, ContainersToKill: []containerToKill{
				{ID: "c1", Name: "a", Message: `Container is in "unknown" state, try killing it before restart`, Reason: killUnknown}}},
		},
		{
			name: "init: first running, wait",
			pod:  podWith(v1.RestartPolicyAlways, "init:i1", "init:i2", "a"),
			rt:   rtPod(ready, ctr("c1", "i1", stateRunning, 0, time.Time{})),
			want: podActions{SandboxID: "sb1"},
		},
		{
			name: "init: first done, start the second",
			pod:  podWith(v1.RestartPolicyAlways, "init:i1", "init:i2", "a"),
			rt:   rtPod(ready, ctr("c1", "i1", stateExited, 0, t0)),
			want: podActions{SandboxID: "sb1", InitContainersToStart: []int{1}},
		},
		{
			name: "init: all done, start the containers",
			pod:  podWith(v1.RestartPolicyAlways, "init:i1", "init:i2", "a"),
			rt:   rtPod(ready, ctr("c2", "i2", stateExited, 0, t0), ctr("c1", "i1", stateExited, 0, t0.Add(-time.Second))),
			want: podActions{SandboxID: "sb1", ContainersToStart: []int{0}},
		},
		{
			name: "init: failed under Always, restart it",
			pod:  podWith(v1.RestartPolicyAlways, "init:i1", "a"),
			rt:   rtPod(ready, ctr("c1", "i1", stateExited, 1, t0)),
			want: podActions{SandboxID: "sb1", InitContainersToStart: []int{0}},
		},
		{
			name: "init: failed under Never, the pod fails",
			pod:  podWith(v1.RestartPolicyNever, "init:i1", "a"),
			rt:   rtPod(ready, ctr("c1", "i1", stateExited, 1, t0)),
			want: podActions{KillPod: true, SandboxID: "sb1"},
		},
		{
			name: "init: containers already started, init containers are not rerun",
			pod:  podWith(v1.RestartPolicyAlways, "init:i1", "a"),
			rt:   rtPod(ready, ctr("c2", "a", stateRunning, 0, time.Time{})),
			want: podActions{SandboxID: "sb1"},
		},
		{
			name: "being deleted: nothing restarts",
			pod: func() *v1.Pod {
				p := podWith(v1.RestartPolicyAlways, "a")
				p.DeletionTimestamp = &metav1.Time{Time: t0}
				return p
			}(),
			rt:   rtPod(ready, ctr("c1", "a", stateExited, 0, t0)),
			want: podActions{KillPod: true, SandboxID: "sb1"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := computePodActions(tc.pod, tc.rt, t0, tc.hints)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	b := newBackoff(10*time.Second, 5*time.Minute)
	key := "uid/app"
	var delays []time.Duration
	at := t0
	for i := 0; i < 8; i++ {
		delays = append(delays, b.Next(key, at, at))
		at = at.Add(time.Second)
	}
	want := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 300 * time.Second, 300 * time.Second, 300 * time.Second}
	if !reflect.DeepEqual(delays, want) {
		t.Errorf("delays %v, want %v", delays, want)
	}
	cases := []struct {
		name      string
		event     time.Time
		now       time.Time
		wantIn    bool
		wantDelay time.Duration
	}{
		{"just ended", at, at.Add(time.Second), true, 5 * time.Minute},
		{"ended 5 min ago", at, at.Add(5 * time.Minute), false, 5 * time.Minute},
		{"quiet for over twice the max: forgotten", at.Add(11 * time.Minute), at.Add(11 * time.Minute), false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in, d := b.InBackOffSince(key, tc.event, tc.now)
			if in != tc.wantIn || d != tc.wantDelay {
				t.Errorf("InBackOffSince = %v %v, want %v %v", in, d, tc.wantIn, tc.wantDelay)
			}
		})
	}
	if d := b.Next(key, at.Add(11*time.Minute), at.Add(11*time.Minute)); d != 10*time.Second {
		t.Errorf("after a quiet spell the delay restarts: %v", d)
	}
	if in, _ := b.InBackOffSinceUpdate("never", t0); in {
		t.Error("an unknown key is not in back-off")
	}
	b.Next("uid_img", t0, t0)
	if in, _ := b.InBackOffSinceUpdate("uid_img", t0.Add(5*time.Second)); !in {
		t.Error("an image pull 5 s after a failure waits")
	}
	if in, _ := b.InBackOffSinceUpdate("uid_img", t0.Add(11*time.Second)); in {
		t.Error("an image pull 11 s after a failure goes ahead")
	}
	b.Forget("uid")
	if in, _ := b.InBackOffSinceUpdate("uid_img", t0.Add(5*time.Second)); in {
		t.Error("Forget drops the pod's keys")
	}
}
