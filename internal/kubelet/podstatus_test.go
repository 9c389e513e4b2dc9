package kubelet

import (
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestGeneratePodStatus(t *testing.T) {
	ready := []sandboxStatus{readySandbox()}
	running := func(id, name string) containerStatus {
		c := ctr(id, name, stateRunning, 0, time.Time{})
		c.StartedAt = t0.Add(-time.Minute)
		return c
	}
	withProbe := func(p *v1.Pod) *v1.Pod {
		p.Spec.Containers[0].ReadinessProbe = &v1.Probe{}
		return p
	}
	type check struct {
		phase      v1.PodPhase
		ready      v1.ConditionStatus
		readyMsg   string
		init       v1.ConditionStatus
		sandbox    v1.ConditionStatus
		state      string // running | waiting:<reason> | terminated:<reason>
		restarts   int32
		lastExit   *int32
		podIP      string
		terminated bool
	}
	exit1 := int32(1)
	hostNetwork := func(p *v1.Pod) *v1.Pod {
		p.Spec.HostNetwork = true
		return p
	}
	noIP := readySandbox()
	noIP.IPs, noIP.HostNetwork = nil, true
	cases := []struct {
		name string
		in   statusInput
		want check
	}{
		{
			name: "no sandbox yet: Pending, ContainerCreating",
			in:   statusInput{Pod: podWith(v1.RestartPolicyAlways, "a"), Runtime: rtPod(nil)},
			want: check{phase: v1.PodPending, ready: v1.ConditionFalse, readyMsg: "containers with unready status: [a]", init: v1.ConditionTrue, sandbox: v1.ConditionFalse, state: "waiting:ContainerCreating"},
		},
		{
			name: "init containers pending: PodInitializing",
			in:   statusInput{Pod: podWith(v1.RestartPolicyAlways, "init:i", "a"), Runtime: rtPod(ready, running("c1", "i"))},
			want: check{phase: v1.PodPending, ready: v1.ConditionFalse, readyMsg: "containers with unready status: [a]", init: v1.ConditionFalse, sandbox: v1.ConditionTrue, state: "waiting:PodInitializing", podIP: "10.42.0.5"},
		},
		{
			name: "running without probes: Running and Ready",
			in:   statusInput{Pod: podWith(v1.RestartPolicyAlways, "a"), Runtime: rtPod(ready, running("c1", "a"))},
			want: check{phase: v1.PodRunning, ready: v1.ConditionTrue, init: v1.ConditionTrue, sandbox: v1.ConditionTrue, state: "running", podIP: "10.42.0.5"},
		},
		{
			name: "host network: the sandbox has no IP, the pod has the node's",
			in:   statusInput{Pod: hostNetwork(podWith(v1.RestartPolicyAlways, "a")), Runtime: rtPod([]sandboxStatus{noIP}, running("c1", "a"))},
			want: check{phase: v1.PodRunning, ready: v1.ConditionTrue, init: v1.ConditionTrue, sandbox: v1.ConditionTrue, state: "running", podIP: "192.0.2.1"},
		},
		{
			name: "readiness probe not passed yet: not Ready",
			in:   statusInput{Pod: withProbe(podWith(v1.RestartPolicyAlways, "a")), Runtime: rtPod(ready, running("c1", "a"))},
			want: check{phase: v1.PodRunning, ready: v1.ConditionFalse, readyMsg: "containers with unready status: [a]", init: v1.ConditionTrue, sandbox: v1.ConditionTrue, state: "running", podIP: "10.42.0.5"},
		},
		{
			name: "readiness probe passed: Ready",
			in: statusInput{Pod: withProbe(podWith(v1.RestartPolicyAlways, "a")), Runtime: rtPod(ready, running("c1", "a")),
				Readiness: map[string]probeResult{"c1": probeSuccess}},
			want: check{phase: v1.PodRunning, ready: v1.ConditionTrue, init: v1.ConditionTrue, sandbox: v1.ConditionTrue, state: "running", podIP: "10.42.0.5"},
		},
		{
			name: "crash loop: waiting with the back-off, last state terminated",
			in: statusInput{Pod: podWith(v1.RestartPolicyAlways, "a"),
				Runtime: rtPod(ready, func() containerStatus {
					c := ctr("c2", "a", stateExited, 1, t0)
					c.RestartCount = 3
					c.Reason = "Error"
					return c
				}()),
				Waiting: map[string]waitingReason{"a": {Reason: reasonCrashLoopBackOff, Message: "back-off 40s restarting failed container=a pod=p_ns(uid-1)"}}},
			want: check{phase: v1.PodRunning, ready: v1.ConditionFalse, readyMsg: "containers with unready status: [a]", init: v1.ConditionTrue, sandbox: v1.ConditionTrue,
				state: "waiting:CrashLoopBackOff", restarts: 3, lastExit: &exit1, podIP: "10.42.0.5"},
		},
		{
			name: "image pull failure: waiting ErrImagePull, Pending",
			in: statusInput{Pod: podWith(v1.RestartPolicyAlways, "a"), Runtime: rtPod(ready),
				Waiting: map[string]waitingReason{"a": {Reason: reasonErrImagePull, Message: "not found"}}},
			want: check{phase: v1.PodPending, ready: v1.ConditionFalse, readyMsg: "containers with unready status: [a]", init: v1.ConditionTrue, sandbox: v1.ConditionTrue, state: "waiting:ErrImagePull", podIP: "10.42.0.5"},
		},
		{
			name: "Never, exited 0: Succeeded",
			in:   statusInput{Pod: podWith(v1.RestartPolicyNever, "a"), Runtime: rtPod(ready, func() containerStatus { c := ctr("c1", "a", stateExited, 0, t0); c.Reason = "Completed"; return c }())},
			want: check{phase: v1.PodSucceeded, ready: v1.ConditionFalse, init: v1.ConditionTrue, sandbox: v1.ConditionTrue, state: "terminated:Completed", podIP: "10.42.0.5"},
		},
		{
			name: "Never, exited 1: Failed",
			in:   statusInput{Pod: podWith(v1.RestartPolicyNever, "a"), Runtime: rtPod(ready, func() containerStatus { c := ctr("c1", "a", stateExited, 1, t0); c.Reason = "Error"; return c }())},
			want: check{phase: v1.PodFailed, ready: v1.ConditionFalse, init: v1.ConditionTrue, sandbox: v1.ConditionTrue, state: "terminated:Error", podIP: "10.42.0.5"},
		},
		{
			name: "Always, all exited and stopped for deletion: terminal phase by exit codes",
			in: statusInput{Pod: podWith(v1.RestartPolicyAlways, "a"), Terminal: true,
				Runtime: rtPod([]sandboxStatus{{ID: "sb1", CreatedAt: t0}}, func() containerStatus { c := ctr("c1", "a", stateExited, 0, t0); c.Reason = "Completed"; return c }())},
			want: check{phase: v1.PodSucceeded, ready: v1.ConditionFalse, init: v1.ConditionTrue, sandbox: v1.ConditionFalse, state: "terminated:Completed"},
		},
		{
			name: "Always, exited but not terminal: still Running (restarting)",
			in:   statusInput{Pod: podWith(v1.RestartPolicyAlways, "a"), Runtime: rtPod(ready, ctr("c1", "a", stateExited, 0, t0))},
			want: check{phase: v1.PodRunning, ready: v1.ConditionFalse, readyMsg: "containers with unready status: [a]", init: v1.ConditionTrue, sandbox: v1.ConditionTrue, state: "terminated:", podIP: "10.42.0.5"},
		},
		{
			name: "init failed under Never: Failed",
			in:   statusInput{Pod: podWith(v1.RestartPolicyNever, "init:i", "a"), Runtime: rtPod(ready, ctr("c1", "i", stateExited, 1, t0))},
			want: check{phase: v1.PodFailed, ready: v1.ConditionFalse, init: v1.ConditionFalse, sandbox: v1.ConditionTrue, state: "waiting:PodInitializing", podIP: "10.42.0.5"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.in.RuntimeName, tc.in.Now, tc.in.HostIPs = "simulated", t0, []string{"192.0.2.1"}
			s := generatePodStatus(tc.in)
			w := tc.want
			got := func(ct v1.PodConditionType) *v1.PodCondition { return findCondition(s.Conditions, ct) }
			if s.Phase != w.phase {
				t.Errorf("phase = %s, want %s", s.Phase, w.phase)
			}
			if c := got(v1.PodReady); c.Status != w.ready || (w.readyMsg != "" && c.Message != w.readyMsg) {
				t.Errorf("Ready = %+v, want %s %q", c, w.ready, w.readyMsg)
			}
			if c := got(v1.PodInitialized); c.Status != w.init {
				t.Errorf("Initialized = %+v", c)
			}
			if c := got(v1.PodReadyToStartContainers); c.Status != w.sandbox {
				t.Errorf("PodReadyToStartContainers = %+v", c)
			}
			if got(v1.PodScheduled) == nil || s.Conditions[0].Type != v1.PodReadyToStartContainers {
				t.Errorf("conditions = %+v", s.Conditions)
			}
			if s.PodIP != w.podIP || s.HostIP != "192.0.2.1" || s.StartTime == nil || s.QOSClass != v1.PodQOSBestEffort {
				t.Errorf("podIP %q hostIP %q startTime %v qos %q", s.PodIP, s.HostIP, s.StartTime, s.QOSClass)
			}
			cs := s.ContainerStatuses[0]
			var state string
			switch {
			case cs.State.Running != nil:
				state = "running"
			case cs.State.Waiting != nil:
				state = "waiting:" + cs.State.Waiting.Reason
			case cs.State.Terminated != nil:
				state = "terminated:" + cs.State.Terminated.Reason
			}
			if state != w.state || cs.RestartCount != w.restarts {
				t.Errorf("container %s restarts %d, want %s %d", state, cs.RestartCount, w.state, w.restarts)
			}
			if w.lastExit != nil && (cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != *w.lastExit) {
				t.Errorf("last state = %+v", cs.LastTerminationState)
			}
		})
	}
}

func TestGeneratePodStatusKeeps(t *testing.T) {
	old := metav1.NewTime(t0.Add(-time.Hour))
	pod := podWith(v1.RestartPolicyAlways, "a")
	pod.Generation = 3
	pod.Status = v1.PodStatus{
		Phase: v1.PodRunning, QOSClass: v1.PodQOSGuaranteed, StartTime: &old, PodIPs: []v1.PodIP{{IP: "10.42.0.9"}},
		Conditions: []v1.PodCondition{
			{Type: v1.PodScheduled, Status: v1.ConditionTrue, LastTransitionTime: old},
			{Type: v1.PodReady, Status: v1.ConditionTrue, LastTransitionTime: old},
			{Type: "example.com/gate", Status: v1.ConditionTrue},
		},
	}
	s := generatePodStatus(statusInput{Pod: pod, Runtime: rtPod(ready1(), ctr("c1", "a", stateRunning, 0, t0)), RuntimeName: "simulated", Now: t0})
	if s.QOSClass != v1.PodQOSGuaranteed || !s.StartTime.Equal(&old) || s.ObservedGeneration != 3 {
		t.Errorf("qos %s start %v generation %d", s.QOSClass, s.StartTime, s.ObservedGeneration)
	}
	if c := findCondition(s.Conditions, v1.PodReady); !c.LastTransitionTime.Equal(&old) || c.ObservedGeneration != 3 {
		t.Errorf("unchanged Ready keeps its transition time: %+v", c)
	}
	if findCondition(s.Conditions, "example.com/gate") == nil || findCondition(s.Conditions, v1.PodScheduled) == nil {
		t.Errorf("conditions of others are kept: %+v", s.Conditions)
	}
	// A stopped sandbox keeps the last IPs; a terminal phase never changes.
	pod.Status.Phase = v1.PodFailed
	s = generatePodStatus(statusInput{Pod: pod, Runtime: rtPod([]sandboxStatus{{ID: "sb1", CreatedAt: t0}}), RuntimeName: "simulated", Now: t0})
	if s.PodIP != "10.42.0.9" || s.Phase != v1.PodFailed {
		t.Errorf("podIP %q phase %s", s.PodIP, s.Phase)
	}
}

func ready1() []sandboxStatus { return []sandboxStatus{readySandbox()} }

func TestQOSClass(t *testing.T) {
	res := func(req, lim string) v1.ResourceRequirements {
		r := v1.ResourceRequirements{}
		if req != "" {
			r.Requests = v1.ResourceList{v1.ResourceCPU: resourceMust(req), v1.ResourceMemory: resourceMust("64Mi")}
		}
		if lim != "" {
			r.Limits = v1.ResourceList{v1.ResourceCPU: resourceMust(lim), v1.ResourceMemory: resourceMust("64Mi")}
		}
		return r
	}
	cases := []struct {
		r    v1.ResourceRequirements
		want v1.PodQOSClass
	}{
		{res("", ""), v1.PodQOSBestEffort},
		{res("100m", ""), v1.PodQOSBurstable},
		{res("100m", "200m"), v1.PodQOSBurstable},
		{res("100m", "100m"), v1.PodQOSGuaranteed},
		{res("", "100m"), v1.PodQOSGuaranteed},
	}
	for _, tc := range cases {
		p := podWith(v1.RestartPolicyAlways, "a")
		p.Spec.Containers[0].Resources = tc.r
		if got := qosClass(p); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.r, got, tc.want)
		}
	}
}
