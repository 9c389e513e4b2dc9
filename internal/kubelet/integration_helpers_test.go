package kubelet

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/kubelet/simruntime"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// cluster is one control plane shared by a test's kubelets.
type cluster struct {
	srv    *testserver.Server
	client kubernetes.Interface

	mu    sync.Mutex
	nodes map[string]*simNode
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	srv := testserver.Start(t, testserver.Options{})
	return &cluster{srv: srv, client: srv.Client(t), nodes: map[string]*simNode{}}
}

// simNode is a kubelet on the simulated runtime.
type simNode struct {
	name    string
	kubelet *Kubelet
	runtime *simruntime.Runtime
	cancel  context.CancelFunc
	done    chan error
}

// fastConfig shortens every period so that scenarios take seconds.
func fastConfig(c *cluster, name string, rt *simruntime.Runtime) Config {
	return Config{
		RESTConfig: c.srv.Config, NodeName: name, Runtime: rt, Images: rt,
		Machine: SimulatedMachine(MachineInfo{CPUs: 8, MemoryBytes: 16 << 30, EphemeralStorageBytes: 100 << 30}),
		NodeIP:  "127.0.0.1", Hostname: name, PodCIDR: "10.42.7.0/24",
		LeaseRenewInterval: 500 * time.Millisecond, NodeStatusUpdateFrequency: 500 * time.Millisecond,
		CrashLoopBackOff: 300 * time.Millisecond, MaxCrashLoopBackOff: 2 * time.Second,
		ImagePullBackOff: 300 * time.Millisecond, MaxImagePullBackOff: 2 * time.Second,
		RelistPeriod: 100 * time.Millisecond, SyncFrequency: 5 * time.Second,
		ProbeDialer: rt.DialContext,
	}
}

func (c *cluster) startNode(t *testing.T, name string, rt *simruntime.Runtime, tweak func(*Config)) *simNode {
	t.Helper()
	if rt == nil {
		var err error
		rt, err = simruntime.New(simruntime.Config{PodCIDR: "10.42.7.0/24"})
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg := fastConfig(c, name, rt)
	cfg.PodsDir = t.TempDir()
	if tweak != nil {
		tweak(&cfg)
	}
	k, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Runs after the node stops (cleanups run last-in first-out): pods
	// left running keep their tmpfs mounts, which would make removing the
	// temp dirs fail.
	t.Cleanup(func() { _ = unmountUnder(k.cfg.PodsDir) })
	ctx, cancel := context.WithCancel(context.Background())
	n := &simNode{name: name, kubelet: k, runtime: rt, cancel: cancel, done: make(chan error, 1)}
	go func() { n.done <- k.Run(ctx) }()
	t.Cleanup(n.stop)
	c.mu.Lock()
	c.nodes[name] = n
	c.mu.Unlock()
	waitFor(t, 30*time.Second, "kubelet ready", func() (bool, error) { return k.Ready(), nil })
	return n
}

func (n *simNode) stop() {
	if n.cancel == nil {
		return
	}
	n.cancel()
	<-n.done
	n.cancel = nil
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s (last error: %v)", what, lastErr)
}

// bindPod creates a pod and binds it to the node through pods/binding, as
// the scheduler would.
func (c *cluster) bindPod(t *testing.T, pod *v1.Pod, node string) *v1.Pod {
	t.Helper()
	ctx := context.Background()
	if pod.Namespace == "" {
		pod.Namespace = "default"
	}
	created, err := c.client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &v1.Binding{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace},
		Target:     v1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return created
}

func (c *cluster) getPod(t *testing.T, ns, name string) *v1.Pod {
	t.Helper()
	p, err := c.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (c *cluster) waitPod(t *testing.T, ns, name, what string, timeout time.Duration, cond func(*v1.Pod) bool) *v1.Pod {
	t.Helper()
	var last *v1.Pod
	waitFor(t, timeout, fmt.Sprintf("pod %s/%s: %s", ns, name, what), func() (bool, error) {
		p, err := c.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		last = p
		return cond(p), nil
	})
	if last == nil {
		t.Fatalf("no pod")
	}
	return last
}

func (c *cluster) waitPodGone(t *testing.T, ns, name string, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, "pod "+name+" gone", func() (bool, error) {
		_, err := c.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), err
	})
}

// podEvents returns "Reason: message" of a pod's events in the order the
// kubelet sent them.
func (c *cluster) podEvents(t *testing.T, ns, name string) []string {
	t.Helper()
	list, err := c.client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var evs []v1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == "Pod" && e.InvolvedObject.Name == name {
			evs = append(evs, e)
		}
	}
	// An event's name ends in the hex time it was made; equal widths sort
	// in time order.
	sort.Slice(evs, func(i, j int) bool {
		return evs[i].FirstTimestamp.Before(&evs[j].FirstTimestamp) ||
			(evs[i].FirstTimestamp.Equal(&evs[j].FirstTimestamp) && evs[i].Name < evs[j].Name)
	})
	out := make([]string, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.Reason+": "+e.Message)
	}
	return out
}

func hasEvent(events []string, prefix string) bool {
	for _, e := range events {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

func simplePod(name string, containers ...v1.Container) *v1.Pod {
	if len(containers) == 0 {
		containers = []v1.Container{{Name: "app", Image: "nginx"}}
	}
	grace := int64(5)
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       v1.PodSpec{Containers: containers, TerminationGracePeriodSeconds: &grace},
	}
}

func condition(p *v1.Pod, t v1.PodConditionType) v1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}
