package kubelet

import (
	"context"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiff-sh/skiff/internal/kubelet/simruntime"
)

// TestKubelet runs the scenarios of issue 4 against a real control plane
// (embedded etcd and the API server) with kubelets on the simulated
// runtime. Pods are bound through pods/binding, as the scheduler does.
func TestKubelet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	c := newCluster(t)
	ctx := context.Background()

	t.Run("NodeRegistersReadyAndLeaseRenews", func(t *testing.T) {
		t.Parallel()
		c.startNode(t, "node-reg", nil, func(cfg *Config) { cfg.Roles = []string{"worker"} })
		var node *v1.Node
		waitFor(t, 10*time.Second, "node Ready", func() (bool, error) {
			n, err := c.client.CoreV1().Nodes().Get(ctx, "node-reg", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			node = n
			for _, cond := range n.Status.Conditions {
				if cond.Type == v1.NodeReady && cond.Status == v1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
		last := node.Status.Conditions[len(node.Status.Conditions)-1]
		if last.Type != v1.NodeReady || last.Reason != "KubeletReady" || last.Message != "kubelet is posting ready status" {
			t.Errorf("Ready condition = %+v", last)
		}
		for _, want := range []struct{ t, reason string }{
			{"MemoryPressure", "KubeletHasSufficientMemory"}, {"DiskPressure", "KubeletHasNoDiskPressure"}, {"PIDPressure", "KubeletHasSufficientPID"},
		} {
			found := false
			for _, cond := range node.Status.Conditions {
				if string(cond.Type) == want.t {
					found = cond.Reason == want.reason && cond.Status == v1.ConditionFalse
				}
			}
			if !found {
				t.Errorf("condition %s: want False/%s in %+v", want.t, want.reason, node.Status.Conditions)
			}
		}
		if got := node.Labels["kubernetes.io/hostname"]; got != "node-reg" {
			t.Errorf("hostname label = %q", got)
		}
		if _, ok := node.Labels["node-role.kubernetes.io/worker"]; !ok {
			t.Errorf("role label missing: %v", node.Labels)
		}
		if node.Status.NodeInfo.KubeletVersion != "v1.37.2+skiff" || node.Status.NodeInfo.ContainerRuntimeVersion != "simulated://v1.37.2+skiff-no-containers" {
			t.Errorf("nodeInfo = %+v", node.Status.NodeInfo)
		}
		if q := node.Status.Capacity[v1.ResourcePods]; q.Value() != 110 {
			t.Errorf("pods capacity = %v", q.String())
		}
		if q := node.Status.Capacity[v1.ResourceCPU]; q.Value() != 8 {
			t.Errorf("cpu capacity = %v", q.String())
		}
		if len(node.Status.Addresses) != 2 || node.Status.Addresses[0].Type != v1.NodeInternalIP {
			t.Errorf("addresses = %+v", node.Status.Addresses)
		}
		lease, err := c.client.CoordinationV1().Leases(NodeLeaseNamespace).Get(ctx, "node-reg", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *lease.Spec.HolderIdentity != "node-reg" || *lease.Spec.LeaseDurationSeconds != 40 {
			t.Errorf("lease spec = %+v", lease.Spec)
		}
		if len(lease.OwnerReferences) != 1 || lease.OwnerReferences[0].UID != node.UID {
			t.Errorf("lease owner = %+v", lease.OwnerReferences)
		}
		first := lease.Spec.RenewTime.Time
		waitFor(t, 5*time.Second, "lease renewed", func() (bool, error) {
			l, err := c.client.CoordinationV1().Leases(NodeLeaseNamespace).Get(ctx, "node-reg", metav1.GetOptions{})
			return err == nil && l.Spec.RenewTime.After(first), err
		})
		waitFor(t, 5*time.Second, "node events", func() (bool, error) {
			evs, err := c.client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			seen := map[string]bool{}
			for _, e := range evs.Items {
				if e.InvolvedObject.Kind == "Node" && e.InvolvedObject.Name == "node-reg" {
					if e.Source.Component != "kubelet" || e.Source.Host != "node-reg" {
						t.Errorf("event source = %+v", e.Source)
					}
					seen[e.Reason] = true
				}
			}
			return seen["Starting"] && seen["NodeHasSufficientMemory"] && seen["NodeHasNoDiskPressure"] && seen["NodeHasSufficientPID"] && seen["NodeReady"], nil
		})
	})

	t.Run("PodRunsWithIPAndEventsInOrder", func(t *testing.T) {
		t.Parallel()
		c.startNode(t, "node-run", nil, nil)
		pod := simplePod("web", v1.Container{
			Name: "app", Image: "nginx", ImagePullPolicy: v1.PullIfNotPresent,
			Command: []string{"/bin/server", "--port=$(PORT)"},
			Env:     []v1.EnvVar{{Name: "PORT", Value: "8080"}, {Name: "MY_POD", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
		})
		c.bindPod(t, pod, "node-run")
		p := c.waitPod(t, "default", "web", "Running and Ready", 15*time.Second, func(p *v1.Pod) bool {
			return p.Status.Phase == v1.PodRunning && condition(p, v1.PodReady) == v1.ConditionTrue
		})
		if !strings.HasPrefix(p.Status.PodIP, "10.42.7.") || len(p.Status.PodIPs) != 1 {
			t.Errorf("pod IPs = %q %v", p.Status.PodIP, p.Status.PodIPs)
		}
		if p.Status.HostIP != "127.0.0.1" || p.Status.StartTime == nil || p.Status.QOSClass != v1.PodQOSBestEffort {
			t.Errorf("hostIP %q startTime %v qos %q", p.Status.HostIP, p.Status.StartTime, p.Status.QOSClass)
		}
		cs := p.Status.ContainerStatuses
		if len(cs) != 1 || cs[0].State.Running == nil || !cs[0].Ready || !strings.HasPrefix(cs[0].ContainerID, "simulated://") ||
			cs[0].ImageID == "" || cs[0].Image != "docker.io/library/nginx:latest" || cs[0].RestartCount != 0 {
			t.Errorf("container status = %+v", cs)
		}
		for _, ct := range []v1.PodConditionType{v1.PodReadyToStartContainers, v1.PodInitialized, v1.ContainersReady, v1.PodScheduled} {
			if condition(p, ct) != v1.ConditionTrue {
				t.Errorf("condition %s = %q", ct, condition(p, ct))
			}
		}
		// The CRI container carries the resolved command and env, and the
		// io.kubernetes.* labels.
		id := strings.TrimPrefix(cs[0].ContainerID, "simulated://")
		cfg, ok := c.nodeRuntime(t, "node-run").ContainerConfig(id)
		if !ok {
			t.Fatal("container not in the runtime")
		}
		if got := strings.Join(cfg.Command, " "); got != "/bin/server --port=8080" {
			t.Errorf("command = %q", got)
		}
		env := map[string]string{}
		for _, kv := range cfg.Envs {
			env[kv.Key] = string(kv.Value)
		}
		if env["MY_POD"] != "web" || env["PORT"] != "8080" {
			t.Errorf("env = %v", env)
		}
		if cfg.Labels[labelPodUID] != string(p.UID) || cfg.Labels[labelContainerName] != "app" || cfg.Labels[labelPodNamespace] != "default" {
			t.Errorf("labels = %v", cfg.Labels)
		}
		var events []string
		waitFor(t, 5*time.Second, "Started event", func() (bool, error) {
			events = c.podEvents(t, "default", "web")
			return hasEvent(events, "Started"), nil
		})
		want := []string{
			`Pulling: Pulling image "nginx"`,
			`Pulled: Successfully pulled image "nginx" in `,
			`Created: Container created`,
			`Started: Container started`,
		}
		if len(events) != len(want) {
			t.Fatalf("events = %q", events)
		}
		for i := range want {
			if !strings.HasPrefix(events[i], want[i]) {
				t.Errorf("event %d = %q, want prefix %q", i, events[i], want[i])
			}
		}
		if !strings.Contains(events[1], "including waiting). Image size: ") || !strings.HasSuffix(events[1], " bytes.") {
			t.Errorf("Pulled message = %q", events[1])
		}
	})

	t.Run("CrashLoopBackOff", func(t *testing.T) {
		t.Parallel()
		c.startNode(t, "node-crash", nil, nil)
		pod := simplePod("crasher")
		pod.Annotations = map[string]string{simruntime.AnnotationExitCodePrefix + "app": "1", simruntime.AnnotationExitAfter + "app": "100ms"}
		c.bindPod(t, pod, "node-crash")
		p := c.waitPod(t, "default", "crasher", "CrashLoopBackOff after restarts", 20*time.Second, func(p *v1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return len(cs) == 1 && cs[0].RestartCount >= 2 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CrashLoopBackOff"
		})
		cs := p.Status.ContainerStatuses[0]
		if !strings.HasPrefix(cs.State.Waiting.Message, "back-off ") || !strings.Contains(cs.State.Waiting.Message, "restarting failed container=app pod=crasher_default(") {
			t.Errorf("waiting message = %q", cs.State.Waiting.Message)
		}
		if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 1 || lt.Reason != "Error" {
			t.Errorf("last state = %+v", cs.LastTerminationState)
		}
		if p.Status.Phase != v1.PodRunning || condition(p, v1.PodReady) != v1.ConditionFalse {
			t.Errorf("phase %s ready %s", p.Status.Phase, condition(p, v1.PodReady))
		}
		// Back-off grows: restarts slow down (300ms, 600ms, 1.2s, 2s cap).
		start := time.Now()
		from := cs.RestartCount
		c.waitPod(t, "default", "crasher", "two more restarts", 20*time.Second, func(p *v1.Pod) bool {
			return p.Status.ContainerStatuses[0].RestartCount >= from+2
		})
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Errorf("two restarts took %v; the back-off should hold them longer", d)
		}
		events := c.podEvents(t, "default", "crasher")
		if !hasEvent(events, "BackOff: Back-off restarting failed container app in pod crasher_default(") {
			t.Errorf("no BackOff event in %q", events)
		}
	})

	t.Run("RestartPolicyEndStates", func(t *testing.T) {
		t.Parallel()
		c.startNode(t, "node-policy", nil, nil)
		cases := []struct {
			name   string
			policy v1.RestartPolicy
			code   string
			want   v1.PodPhase
		}{
			{"never-fails", v1.RestartPolicyNever, "3", v1.PodFailed},
			{"never-succeeds", v1.RestartPolicyNever, "0", v1.PodSucceeded},
			{"onfailure-succeeds", v1.RestartPolicyOnFailure, "0", v1.PodSucceeded},
		}
		for _, tc := range cases {
			pod := simplePod(tc.name)
			pod.Spec.RestartPolicy = tc.policy
			pod.Annotations = map[string]string{simruntime.AnnotationExitCodePrefix + "app": tc.code, simruntime.AnnotationExitAfter + "app": "200ms"}
			c.bindPod(t, pod, "node-policy")
		}
		for _, tc := range cases {
			p := c.waitPod(t, "default", tc.name, string(tc.want), 15*time.Second, func(p *v1.Pod) bool { return p.Status.Phase == tc.want })
			cs := p.Status.ContainerStatuses[0]
			if cs.State.Terminated == nil || cs.RestartCount != 0 || cs.Ready {
				t.Errorf("%s: container status %+v", tc.name, cs)
			}
			if condition(p, v1.PodReady) != v1.ConditionFalse || condition(p, v1.PodReadyToStartContainers) != v1.ConditionFalse {
				t.Errorf("%s: conditions %+v", tc.name, p.Status.Conditions)
			}
		}
		// OnFailure restarts a failing container (until it would succeed).
		pod := simplePod("onfailure-fails")
		pod.Spec.RestartPolicy = v1.RestartPolicyOnFailure
		pod.Annotations = map[string]string{simruntime.AnnotationExitCodePrefix + "app": "2", simruntime.AnnotationExitAfter + "app": "100ms"}
		c.bindPod(t, pod, "node-policy")
		c.waitPod(t, "default", "onfailure-fails", "restarted", 15*time.Second, func(p *v1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1 && p.Status.Phase == v1.PodRunning
		})
	})

	t.Run("GracefulDelete", func(t *testing.T) {
		t.Parallel()
		c.startNode(t, "node-del", nil, nil)
		c.bindPod(t, simplePod("doomed"), "node-del")
		p := c.waitPod(t, "default", "doomed", "Running", 15*time.Second, func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning })
		if err := c.client.CoreV1().Pods("default").Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		c.waitPodGone(t, "default", "doomed", 15*time.Second)
		events := c.podEvents(t, "default", "doomed")
		if !hasEvent(events, "Killing: Stopping container app") {
			t.Errorf("no Killing event in %q", events)
		}
		rt := c.nodeRuntime(t, "node-del")
		waitFor(t, 5*time.Second, "runtime emptied", func() (bool, error) {
			sbs, _ := rt.ListPodSandbox(ctx, nil)
			cs, _ := rt.ListContainers(ctx, nil)
			for _, s := range sbs {
				if s.Labels[labelPodUID] == string(p.UID) {
					return false, nil
				}
			}
			for _, ct := range cs {
				if ct.Labels[labelPodUID] == string(p.UID) {
					return false, nil
				}
			}
			return true, nil
		})
	})

	t.Run("KubeletRestartKeepsContainers", func(t *testing.T) {
		t.Parallel()
		rt, err := simruntime.New(simruntime.Config{PodCIDR: "10.42.7.0/24"})
		if err != nil {
			t.Fatal(err)
		}
		n := c.startNode(t, "node-restart", rt, nil)
		c.bindPod(t, simplePod("survivor"), "node-restart")
		before := c.waitPod(t, "default", "survivor", "Running", 15*time.Second, func(p *v1.Pod) bool {
			return p.Status.Phase == v1.PodRunning && condition(p, v1.PodReady) == v1.ConditionTrue
		})
		// Events are sent in the background; a stop may drop what is
		// still queued.
		waitFor(t, 10*time.Second, "Started event", func() (bool, error) {
			return hasEvent(c.podEvents(t, "default", "survivor"), "Started:"), nil
		})
		n.stop()
		// An orphan left in the runtime while the kubelet is down: a pod
		// the API server does not know.
		orphan := simplePod("ghost")
		orphan.UID = "ghost-uid"
		sb, err := rt.RunPodSandbox(ctx, (&Kubelet{cfg: Config{ClusterDomain: "cluster.local"}}).sandboxConfig(orphan, 0), "")
		if err != nil {
			t.Fatal(err)
		}
		n2 := c.startNode(t, "node-restart", rt, nil)
		_ = n2
		waitFor(t, 10*time.Second, "orphan removed", func() (bool, error) {
			_, err := rt.PodSandboxStatus(ctx, sb, false)
			return err != nil, nil
		})
		time.Sleep(time.Second)
		after := c.getPod(t, "default", "survivor")
		b, a := before.Status.ContainerStatuses[0], after.Status.ContainerStatuses[0]
		if a.ContainerID != b.ContainerID || a.RestartCount != 0 || a.State.Running == nil || !a.State.Running.StartedAt.Equal(&b.State.Running.StartedAt) {
			t.Errorf("container changed across the restart:\nbefore %+v\nafter  %+v", b, a)
		}
		if after.Status.PodIP != before.Status.PodIP || condition(after, v1.PodReady) != v1.ConditionTrue {
			t.Errorf("pod IP %q→%q ready %s", before.Status.PodIP, after.Status.PodIP, condition(after, v1.PodReady))
		}
		events := c.podEvents(t, "default", "survivor")
		started := 0
		for _, e := range events {
			if strings.HasPrefix(e, "Started:") {
				started++
			}
		}
		if started != 1 {
			t.Errorf("Started events = %d in %q", started, events)
		}
	})

	t.Run("ReadinessProbeFailureMakesPodNotReady", func(t *testing.T) {
		t.Parallel()
		c.startNode(t, "node-ready", nil, nil)
		probe := func(path string) *v1.Probe {
			return &v1.Probe{
				ProbeHandler:  v1.ProbeHandler{HTTPGet: &v1.HTTPGetAction{Path: path, Port: intstr.FromInt32(8080)}},
				PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1, TimeoutSeconds: 1,
			}
		}
		good := simplePod("probed-good", v1.Container{Name: "app", Image: "nginx", Ports: []v1.ContainerPort{{ContainerPort: 8080}}, ReadinessProbe: probe("/ready")})
		bad := simplePod("probed-bad", v1.Container{Name: "app", Image: "nginx", Ports: []v1.ContainerPort{{ContainerPort: 8080}}, ReadinessProbe: probe("/ready")})
		bad.Annotations = map[string]string{simruntime.AnnotationHTTPFailPaths: "/ready"}
		c.bindPod(t, good, "node-ready")
		c.bindPod(t, bad, "node-ready")
		c.waitPod(t, "default", "probed-good", "Ready", 15*time.Second, func(p *v1.Pod) bool { return condition(p, v1.PodReady) == v1.ConditionTrue })
		waitFor(t, 10*time.Second, "Unhealthy event", func() (bool, error) {
			return hasEvent(c.podEvents(t, "default", "probed-bad"), "Unhealthy: Readiness probe failed: HTTP probe failed with statuscode: 500"), nil
		})
		p := c.getPod(t, "default", "probed-bad")
		if p.Status.Phase != v1.PodRunning || condition(p, v1.PodReady) != v1.ConditionFalse || p.Status.ContainerStatuses[0].Ready {
			t.Errorf("phase %s ready %s status %+v", p.Status.Phase, condition(p, v1.PodReady), p.Status.ContainerStatuses)
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == v1.PodReady && (cond.Reason != "ContainersNotReady" || cond.Message != "containers with unready status: [app]") {
				t.Errorf("Ready condition = %+v", cond)
			}
		}
	})

	t.Run("LivenessProbeFailureRestarts", func(t *testing.T) {
		t.Parallel()
		c.startNode(t, "node-live", nil, nil)
		pod := simplePod("unlive", v1.Container{Name: "app", Image: "nginx", LivenessProbe: &v1.Probe{
			ProbeHandler:  v1.ProbeHandler{Exec: &v1.ExecAction{Command: []string{"false"}}},
			PeriodSeconds: 1, FailureThreshold: 1, SuccessThreshold: 1, TimeoutSeconds: 1,
		}})
		c.bindPod(t, pod, "node-live")
		c.waitPod(t, "default", "unlive", "restarted", 15*time.Second, func(p *v1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1
		})
		events := c.podEvents(t, "default", "unlive")
		if !hasEvent(events, "Unhealthy: Liveness probe failed: ") || !hasEvent(events, "Killing: Container app failed liveness probe, will be restarted") {
			t.Errorf("events = %q", events)
		}
	})

	t.Run("ImagePullFailure", func(t *testing.T) {
		t.Parallel()
		c.startNode(t, "node-pull", nil, nil)
		pod := simplePod("badimage", v1.Container{Name: "app", Image: "example.com/does-not-exist:v1"})
		pod.Annotations = map[string]string{simruntime.AnnotationMissingImages: "example.com/does-not-exist:v1"}
		c.bindPod(t, pod, "node-pull")
		c.bindPod(t, simplePod("bystander"), "node-pull")
		seen := map[string]bool{}
		c.waitPod(t, "default", "badimage", "ErrImagePull then ImagePullBackOff", 15*time.Second, func(p *v1.Pod) bool {
			if cs := p.Status.ContainerStatuses; len(cs) == 1 && cs[0].State.Waiting != nil {
				seen[cs[0].State.Waiting.Reason] = true
			}
			return seen["ImagePullBackOff"]
		})
		var events []string
		waitFor(t, 5*time.Second, "ImagePullBackOff event", func() (bool, error) {
			events = c.podEvents(t, "default", "badimage")
			return hasEvent(events, "Failed: Error: ImagePullBackOff"), nil
		})
		for _, want := range []string{`Pulling: Pulling image "example.com/does-not-exist:v1"`, `Failed: Failed to pull image "example.com/does-not-exist:v1": `, "Failed: Error: ErrImagePull", `BackOff: Back-off pulling image "example.com/does-not-exist:v1"`, "Failed: Error: ImagePullBackOff"} {
			if !hasEvent(events, want) {
				t.Errorf("no %q in %q", want, events)
			}
		}
		p := c.getPod(t, "default", "badimage")
		if p.Status.Phase != v1.PodPending {
			t.Errorf("phase %s", p.Status.Phase)
		}
		c.waitPod(t, "default", "bystander", "Running", 10*time.Second, func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning })
	})

	t.Run("InitContainersInOrder", func(t *testing.T) {
		t.Parallel()
		c.startNode(t, "node-init", nil, nil)
		pod := simplePod("initialized")
		pod.Spec.InitContainers = []v1.Container{{Name: "one", Image: "busybox"}, {Name: "two", Image: "busybox"}}
		pod.Annotations = map[string]string{
			simruntime.AnnotationExitCodePrefix + "one": "0", simruntime.AnnotationExitAfter + "one": "100ms",
			simruntime.AnnotationExitCodePrefix + "two": "0", simruntime.AnnotationExitAfter + "two": "100ms",
		}
		c.bindPod(t, pod, "node-init")
		p := c.waitPod(t, "default", "initialized", "Running", 15*time.Second, func(p *v1.Pod) bool {
			return p.Status.Phase == v1.PodRunning && condition(p, v1.PodReady) == v1.ConditionTrue
		})
		for _, st := range p.Status.InitContainerStatuses {
			if st.State.Terminated == nil || st.State.Terminated.Reason != "Completed" || !st.Ready {
				t.Errorf("init status %+v", st)
			}
		}
		one, two := p.Status.InitContainerStatuses[0].State.Terminated, p.Status.InitContainerStatuses[1].State.Terminated
		if two.StartedAt.Before(&one.FinishedAt) {
			t.Errorf("init container two started %v before one finished %v", two.StartedAt, one.FinishedAt)
		}
		// A failing init container under Never fails the pod.
		bad := simplePod("init-fails")
		bad.Spec.RestartPolicy = v1.RestartPolicyNever
		bad.Spec.InitContainers = []v1.Container{{Name: "one", Image: "busybox"}}
		bad.Annotations = map[string]string{simruntime.AnnotationExitCodePrefix + "one": "1"}
		c.bindPod(t, bad, "node-init")
		p = c.waitPod(t, "default", "init-fails", "Failed", 15*time.Second, func(p *v1.Pod) bool { return p.Status.Phase == v1.PodFailed })
		if p.Status.ContainerStatuses[0].State.Waiting == nil || p.Status.ContainerStatuses[0].State.Waiting.Reason != "PodInitializing" {
			t.Errorf("app status %+v", p.Status.ContainerStatuses[0])
		}
	})

	t.Run("EnvFromConfigMapAndSecret", func(t *testing.T) {
		t.Parallel()
		c.startNode(t, "node-env", nil, nil)
		if _, err := c.client.CoreV1().ConfigMaps("default").Create(ctx, &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"MODE": "fast", "level": "3"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.client.CoreV1().Secrets("default").Create(ctx, &v1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"}, Data: map[string][]byte{"password": []byte("hunter2")}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod := simplePod("envy", v1.Container{Name: "app", Image: "nginx",
			Resources: v1.ResourceRequirements{Limits: v1.ResourceList{v1.ResourceMemory: resourceMust("64Mi")}},
			EnvFrom:   []v1.EnvFromSource{{Prefix: "CFG_", ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "settings"}}}},
			Env: []v1.EnvVar{
				{Name: "PASSWORD", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
				{Name: "LEVEL", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "settings"}, Key: "level"}}},
				{Name: "MEM", ValueFrom: &v1.EnvVarSource{ResourceFieldRef: &v1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resourceMust("1Mi")}}},
				{Name: "IP", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			}})
		c.bindPod(t, pod, "node-env")
		p := c.waitPod(t, "default", "envy", "Running", 15*time.Second, func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning })
		cfg, _ := c.nodeRuntime(t, "node-env").ContainerConfig(strings.TrimPrefix(p.Status.ContainerStatuses[0].ContainerID, "simulated://"))
		env := map[string]string{}
		for _, kv := range cfg.Envs {
			env[kv.Key] = string(kv.Value)
		}
		want := map[string]string{"CFG_MODE": "fast", "CFG_level": "3", "PASSWORD": "hunter2", "LEVEL": "3", "MEM": "64", "IP": p.Status.PodIP}
		for k, v := range want {
			if env[k] != v {
				t.Errorf("env %s = %q, want %q (all: %v)", k, env[k], v, env)
			}
		}
		// A missing ConfigMap keeps the container waiting with upstream's reason.
		missing := simplePod("envless", v1.Container{Name: "app", Image: "nginx", EnvFrom: []v1.EnvFromSource{{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}}}}})
		c.bindPod(t, missing, "node-env")
		c.waitPod(t, "default", "envless", "CreateContainerConfigError", 10*time.Second, func(p *v1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == "CreateContainerConfigError" && cs[0].State.Waiting.Message == `configmap "nope" not found`
		})
	})

	t.Run("AdmissionRejectsBeyondMaxPods", func(t *testing.T) {
		t.Parallel()
		c.startNode(t, "node-full", nil, func(cfg *Config) { cfg.MaxPods = 1 })
		c.bindPod(t, simplePod("first"), "node-full")
		c.waitPod(t, "default", "first", "Running", 15*time.Second, func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning })
		c.bindPod(t, simplePod("second"), "node-full")
		p := c.waitPod(t, "default", "second", "rejected", 15*time.Second, func(p *v1.Pod) bool { return p.Status.Phase == v1.PodFailed })
		if p.Status.Reason != "OutOfpods" || p.Status.Message != "Pod was rejected: Node didn't have enough resource: pods, requested: 1, used: 1, capacity: 1" {
			t.Errorf("reason %q message %q", p.Status.Reason, p.Status.Message)
		}
	})
}

// nodeRuntime finds the simulated runtime of a node started by this test.
func (c *cluster) nodeRuntime(t *testing.T, name string) *simruntime.Runtime {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[name]
	if !ok {
		t.Fatalf("no node %s", name)
	}
	return n.runtime
}

func resourceMust(s string) resource.Quantity { return resource.MustParse(s) }
