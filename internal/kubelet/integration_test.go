package kubelet

import (
	"context"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
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
		if node.Status.NodeInfo.KubeletVersion != "v1.37.2+skiff" || node.Status.NodeInfo.ContainerRuntimeVersion != "simulated://v1.37.2+skiff" {
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

var _ = intstr.FromInt
