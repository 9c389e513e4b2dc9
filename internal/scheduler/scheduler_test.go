package scheduler_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/leaderelect"
	"github.com/skiff-sh/skiff/internal/scheduler"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// These tests run the scheduler against a real in-process control plane
// with Node objects and no kubelet: a pod is "placed" when its binding
// sets spec.nodeName.

const ns = "default"

type env struct {
	t      *testing.T
	srv    *testserver.Server
	client kubernetes.Interface
}

func newEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: starts a control plane")
	}
	srv := testserver.Start(t, testserver.Options{})
	return &env{t: t, srv: srv, client: srv.Client(t)}
}

// startScheduler runs a scheduler until the test ends (or stop is
// called) and waits until it is ready and, unless leader election is
// configured, scheduling.
func (e *env) startScheduler(mod func(*scheduler.Config)) (s *scheduler.Scheduler, stop func()) {
	e.t.Helper()
	cfg := scheduler.Config{RESTConfig: e.srv.Config}
	if mod != nil {
		mod(&cfg)
	}
	s, err := scheduler.New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("scheduler.Run: %v", err)
			}
		})
	}
	e.t.Cleanup(stop)
	e.poll(10*time.Second, "scheduler ready", func() (bool, error) {
		select {
		case err := <-done:
			return false, fmt.Errorf("scheduler stopped: %v", err)
		default:
		}
		return s.Ready() && (cfg.LeaderElection.Enabled || s.Leading()), nil
	})
	return s, stop
}

func (e *env) poll(timeout time.Duration, what string, cond func() (bool, error)) {
	e.t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		return cond()
	})
	if err != nil {
		e.t.Fatalf("waiting for %s: %v", what, err)
	}
}

func (e *env) createNodes(nodes ...*v1.Node) {
	e.t.Helper()
	for _, n := range nodes {
		if n.Status.Capacity == nil {
			n.Status.Capacity = n.Status.Allocatable
		}
		if _, err := e.client.CoreV1().Nodes().Create(context.Background(), n, metav1.CreateOptions{}); err != nil {
			e.t.Fatalf("create node %s: %v", n.Name, err)
		}
	}
}

func (e *env) createPod(p *v1.Pod) *v1.Pod {
	e.t.Helper()
	p = p.DeepCopy()
	p.UID = ""
	out, err := e.client.CoreV1().Pods(p.Namespace).Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		e.t.Fatalf("create pod %s: %v", p.Name, err)
	}
	return out
}

func (e *env) getPod(name string) *v1.Pod {
	e.t.Helper()
	p, err := e.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// waitBound waits until the pod is bound and returns its node.
func (e *env) waitBound(name string, timeout time.Duration) string {
	e.t.Helper()
	var node string
	e.poll(timeout, "pod "+name+" bound", func() (bool, error) {
		p, err := e.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		node = p.Spec.NodeName
		return node != "", nil
	})
	return node
}

// waitUnschedulable waits for PodScheduled=False and returns the pod.
func (e *env) waitUnschedulable(name string) *v1.Pod {
	e.t.Helper()
	var pod *v1.Pod
	e.poll(10*time.Second, "pod "+name+" unschedulable", func() (bool, error) {
		p, err := e.client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		pod = p
		c := podCondition(p, v1.PodScheduled)
		return c != nil && c.Status == v1.ConditionFalse, nil
	})
	return pod
}

func podCondition(p *v1.Pod, t v1.PodConditionType) *v1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == t {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// events lists the events.k8s.io events about a pod with reason.
func (e *env) events(pod, reason string) []string {
	e.t.Helper()
	list, err := e.client.EventsV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range list.Items {
		if ev.Regarding.Name == pod && ev.Reason == reason {
			if ev.ReportingController != "default-scheduler" {
				e.t.Errorf("event %s/%s reported by %q, want default-scheduler", pod, reason, ev.ReportingController)
			}
			out = append(out, ev.Note)
		}
	}
	return out
}

func (e *env) waitEvent(pod, reason, note string) {
	e.t.Helper()
	e.poll(10*time.Second, fmt.Sprintf("%s event for %s", reason, pod), func() (bool, error) {
		return slices.Contains(e.events(pod, reason), note), nil
	})
}

// fakeKubelet finishes the graceful deletion of bound pods, as a kubelet
// does once their containers stopped.
func (e *env) fakeKubelet() {
	ctx, cancel := context.WithCancel(context.Background())
	e.t.Cleanup(cancel)
	go func() {
		for ctx.Err() == nil {
			w, err := e.client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
			if err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			for ev := range w.ResultChan() {
				p, ok := ev.Object.(*v1.Pod)
				if !ok || p.DeletionTimestamp == nil {
					continue
				}
				zero := int64(0)
				_ = e.client.CoreV1().Pods(ns).Delete(ctx, p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			}
		}
	}()
}

// reset removes every node and pod, so that the next scheduler starts on
// an empty cluster.
func (e *env) reset() {
	e.t.Helper()
	ctx := context.Background()
	zero := int64(0)
	if err := e.client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.client.CoreV1().Nodes().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		e.t.Fatal(err)
	}
	e.poll(10*time.Second, "an empty cluster", func() (bool, error) {
		pods, err := e.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		nodes, err := e.client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		return len(pods.Items) == 0 && len(nodes.Items) == 0, nil
	})
}

func node(name string) *st.NodeWrapper {
	return st.Node(name).Cap("cpu", "4", "memory", "8Gi")
}

// withLimits sets limits equal to the requests, as extended resources
// require.
func withLimits(p *v1.Pod) *v1.Pod {
	p.Spec.Containers[0].Resources.Limits = p.Spec.Containers[0].Resources.Requests
	return p
}

func pod(name string) *st.PodWrapper { return st.Pod(name).Req("cpu", "100m", "memory", "64Mi") }

func TestPlacementRules(t *testing.T) {
	e := newEnv(t)
	hostname := v1.LabelHostname
	zone := v1.LabelTopologyZone
	tests := []struct {
		name    string
		nodes   []*v1.Node
		running []*v1.Pod // bound before the scheduler starts
		pod     *v1.Pod
		want    []string
	}{
		{
			name:  "resources: the only node with room for the request",
			nodes: []*v1.Node{node("small").Cap("cpu", "1").Obj(), node("busy").Obj(), node("free").Obj()},
			running: []*v1.Pod{
				st.Pod("hog").Req("cpu", "3").Node("busy").Obj(),
			},
			pod:  st.Pod("p").Req("cpu", "2").Obj(),
			want: []string{"free"},
		},
		{
			name:  "resources: extended resources and the pod count",
			nodes: []*v1.Node{node("gpu").Cap("example.com/gpu", "1", "pods", "1").Obj(), node("gpu2").Cap("example.com/gpu", "1").Obj(), node("plain").Obj()},
			running: []*v1.Pod{
				st.Pod("any").Node("gpu").Obj(),
			},
			pod:  withLimits(st.Pod("p").Req("example.com/gpu", "1").Obj()),
			want: []string{"gpu2"},
		},
		{
			name:  "nodeSelector",
			nodes: []*v1.Node{node("ssd").Label("disk", "ssd").Obj(), node("hdd").Label("disk", "hdd").Obj()},
			pod:   pod("p").NodeSelector("disk", "hdd").Obj(),
			want:  []string{"hdd"},
		},
		{
			name:  "required node affinity",
			nodes: []*v1.Node{node("a1").Zone("a").Obj(), node("b1").Zone("b").Obj(), node("c1").Zone("c").Obj()},
			pod:   pod("p").RequiredNodeTerm(st.Term(st.Expr(zone, v1.NodeSelectorOpIn, "b", "c"), st.Expr(hostname, v1.NodeSelectorOpNotIn, "c1"))).Obj(),
			want:  []string{"b1"},
		},
		{
			name:  "preferred node affinity",
			nodes: []*v1.Node{node("a1").Zone("a").Obj(), node("b1").Zone("b").Obj(), node("c1").Zone("c").Obj()},
			pod:   pod("p").PreferredNodeTerm(100, st.Term(st.Expr(zone, v1.NodeSelectorOpIn, "c"))).Obj(),
			want:  []string{"c1"},
		},
		{
			name: "cordoned node",
			nodes: []*v1.Node{
				node("cordoned").Unschedulable().Obj(), node("open").Obj(),
			},
			pod:  pod("p").Obj(),
			want: []string{"open"},
		},
		{
			name: "taints: a NoSchedule taint needs a toleration",
			nodes: []*v1.Node{
				node("tainted").Taint("dedicated", "db", v1.TaintEffectNoSchedule).Obj(),
				node("tainted2").Taint("dedicated", "web", v1.TaintEffectNoExecute).Obj(),
				node("open").Obj(),
			},
			pod:  pod("p").Obj(),
			want: []string{"open"},
		},
		{
			name: "taints: tolerated, and preferred over PreferNoSchedule",
			nodes: []*v1.Node{
				node("tainted").Taint("dedicated", "db", v1.TaintEffectNoSchedule).Obj(),
				node("soft").Taint("spot", "", v1.TaintEffectPreferNoSchedule).Obj(),
			},
			pod:  pod("p").Toleration("dedicated", v1.TolerationOpEqual, "db", v1.TaintEffectNoSchedule).Obj(),
			want: []string{"tainted"},
		},
		{
			name:    "host ports",
			nodes:   []*v1.Node{node("n1").Obj(), node("n2").Obj()},
			running: []*v1.Pod{pod("web").HostPort(8080, v1.ProtocolTCP, "").Node("n1").Obj()},
			pod:     pod("p").HostPort(8080, v1.ProtocolTCP, "").Obj(),
			want:    []string{"n2"},
		},
		{
			name:    "required pod affinity",
			nodes:   []*v1.Node{node("n1").Zone("a").Obj(), node("n2").Zone("b").Obj(), node("n3").Zone("b").Obj()},
			running: []*v1.Pod{pod("db").Label("app", "db").Node("n2").Obj()},
			pod:     pod("p").PodAffinity(st.AffinityTerm(zone, "app", "db")).Obj(),
			want:    []string{"n2", "n3"},
		},
		{
			name:  "required pod anti-affinity",
			nodes: []*v1.Node{node("n1").Obj(), node("n2").Obj(), node("n3").Obj()},
			running: []*v1.Pod{
				pod("web1").Label("app", "web").Node("n1").Obj(),
				pod("web2").Label("app", "web").Node("n3").Obj(),
			},
			pod:  pod("p").Label("app", "web").PodAntiAffinity(st.AffinityTerm(hostname, "app", "web")).Obj(),
			want: []string{"n2"},
		},
		{
			name:  "existing pods' anti-affinity keeps the pod away",
			nodes: []*v1.Node{node("n1").Obj(), node("n2").Obj()},
			running: []*v1.Pod{
				pod("loner").PodAntiAffinity(st.AffinityTerm(hostname, "app", "web")).Node("n1").Obj(),
			},
			pod:  pod("p").Label("app", "web").Obj(),
			want: []string{"n2"},
		},
		{
			name: "topology spread DoNotSchedule",
			nodes: []*v1.Node{
				node("a1").Zone("a").Obj(), node("a2").Zone("a").Obj(), node("b1").Zone("b").Obj(),
			},
			running: []*v1.Pod{
				pod("x1").Label("app", "x").Node("a1").Obj(),
				pod("x2").Label("app", "x").Node("b1").Obj(),
				pod("x3").Label("app", "x").Node("a2").Obj(),
			},
			pod:  pod("p").Label("app", "x").Spread(1, zone, v1.DoNotSchedule, "app", "x").Obj(),
			want: []string{"b1"},
		},
		{
			name: "image locality breaks an otherwise even choice",
			nodes: []*v1.Node{
				node("cold").Obj(),
				node("warm").Images(800*1024*1024, "registry.example/big:1").Obj(),
			},
			pod:  pod("p").Image("registry.example/big:1").Obj(),
			want: []string{"warm"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			e.reset()
			e.createNodes(tt.nodes...)
			for _, p := range tt.running {
				e.createPod(p)
			}
			_, stop := e.startScheduler(nil)
			defer stop()
			e.createPod(tt.pod)
			got := e.waitBound(tt.pod.Name, 10*time.Second)
			if !slices.Contains(tt.want, got) {
				t.Fatalf("pod went to %q, want one of %v", got, tt.want)
			}
			bound := e.getPod(tt.pod.Name)
			if c := podCondition(bound, v1.PodScheduled); c == nil || c.Status != v1.ConditionTrue {
				t.Errorf("PodScheduled = %+v, want True", c)
			}
			e.waitEvent(tt.pod.Name, "Scheduled", fmt.Sprintf("Successfully assigned %s/%s to %s", ns, tt.pod.Name, got))
		})
	}
}

// TestOtherSchedulersPods: pods for another scheduler, and pods created
// with a node, are left alone.
func TestOtherSchedulersPods(t *testing.T) {
	e := newEnv(t)
	e.createNodes(node("n1").Obj())
	e.startScheduler(nil)
	other := pod("other").Obj()
	other.Spec.SchedulerName = "my-scheduler"
	e.createPod(other)
	e.createPod(pod("preset").Node("n1").Obj())
	e.createPod(pod("mine").Obj())
	e.waitBound("mine", 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	if p := e.getPod("other"); p.Spec.NodeName != "" || len(p.Status.Conditions) != 0 {
		t.Errorf("another scheduler's pod was touched: node %q, conditions %+v", p.Spec.NodeName, p.Status.Conditions)
	}
	if got := e.events("preset", "Scheduled"); len(got) != 0 {
		t.Errorf("a pod created bound got Scheduled events %v", got)
	}
}

// TestNoOvercommit creates more pods at once than the nodes hold and
// checks that exactly the room there is gets used.
func TestNoOvercommit(t *testing.T) {
	e := newEnv(t)
	const nodes, perNode, extra = 40, 5, 30 // 200 fit
	for i := range nodes {
		e.createNodes(st.Node(fmt.Sprintf("n%02d", i)).Cap("cpu", "1", "memory", "1Gi").Zone(fmt.Sprintf("z%d", i%3)).Obj())
	}
	e.startScheduler(nil)
	total := nodes*perNode + extra
	var wg sync.WaitGroup
	var failed atomic.Int32
	work := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				p := st.Pod(fmt.Sprintf("p%03d", i)).Req("cpu", "200m", "memory", "100Mi").Obj()
				p.UID = ""
				if _, err := e.client.CoreV1().Pods(ns).Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	for i := range total {
		work <- i
	}
	close(work)
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d creates failed", failed.Load())
	}
	var list *v1.PodList
	e.poll(30*time.Second, "every pod bound or unschedulable", func() (bool, error) {
		var err error
		list, err = e.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		bound, unschedulable := 0, 0
		for _, p := range list.Items {
			if p.Spec.NodeName != "" {
				bound++
			} else if c := podCondition(&p, v1.PodScheduled); c != nil && c.Status == v1.ConditionFalse {
				unschedulable++
			}
		}
		return bound == nodes*perNode && unschedulable == extra, nil
	})
	perNodeCPU := map[string]int64{}
	for _, p := range list.Items {
		if p.Spec.NodeName != "" {
			perNodeCPU[p.Spec.NodeName] += p.Spec.Containers[0].Resources.Requests.Cpu().MilliValue()
		}
	}
	for n, cpu := range perNodeCPU {
		if cpu > 1000 {
			t.Errorf("node %s over-committed: %dm cpu requested of 1000m", n, cpu)
		}
	}
	if len(perNodeCPU) != nodes {
		t.Errorf("%d nodes used, want %d", len(perNodeCPU), nodes)
	}
	// Nothing more fits: the leftovers stay unschedulable.
	time.Sleep(300 * time.Millisecond)
	for _, p := range list.Items {
		if p.Spec.NodeName == "" {
			if got := e.getPod(p.Name).Spec.NodeName; got != "" {
				t.Errorf("%s was bound to %s after the nodes were full", p.Name, got)
			}
		}
	}
}

// TestUnschedulableThenPlaced: a pod that fits nowhere says why (event,
// condition, metrics), and is placed as soon as a node joins or room
// frees up, without waiting for the periodic flush.
func TestUnschedulableThenPlaced(t *testing.T) {
	e := newEnv(t)
	e.createNodes(node("n1").Cap("cpu", "1").Obj(), node("tainted").Taint("dedicated", "db", v1.TaintEffectNoSchedule).Obj())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.startScheduler(func(c *scheduler.Config) { c.MetricsListener = l })
	base := "http://" + l.Addr().String()

	e.createPod(st.Pod("a").Req("cpu", "800m").Obj())
	if got := e.waitBound("a", 10*time.Second); got != "n1" {
		t.Fatalf("a went to %s", got)
	}
	e.createPod(st.Pod("b").Req("cpu", "500m").Obj())
	b := e.waitUnschedulable("b")
	const want = "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint(s). preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
	c := podCondition(b, v1.PodScheduled)
	if c.Reason != v1.PodReasonUnschedulable || c.Message != want {
		t.Errorf("PodScheduled = %s %q, want Unschedulable %q", c.Reason, c.Message, want)
	}
	e.waitEvent("b", "FailedScheduling", want)

	metrics := scrape(t, base+"/metrics")
	for _, line := range []string{
		`scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"} 1`,
		`scheduler_pending_pods{queue="unschedulable"} 1`,
		`scheduler_pending_pods{queue="active"} 0`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	if !strings.Contains(metrics, `scheduler_schedule_attempts_total{profile="default-scheduler",result="unschedulable"}`) ||
		!strings.Contains(metrics, `scheduler_scheduling_attempt_duration_seconds_bucket{profile="default-scheduler",result="scheduled",le=`) {
		t.Errorf("/metrics lacks the unschedulable attempts or the latency histogram:\n%s", metrics)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if got := scrape(t, base+path); got != "ok" {
			t.Errorf("%s = %q", path, got)
		}
	}

	// A node joins.
	start := time.Now()
	e.createNodes(node("n2").Cap("cpu", "1").Obj())
	if got := e.waitBound("b", 5*time.Second); got != "n2" {
		t.Fatalf("b went to %s, want the new node n2", got)
	}
	t.Logf("placed %v after the node joined", time.Since(start).Round(time.Millisecond))

	// Room frees up.
	e.createPod(st.Pod("c").Req("cpu", "600m").Obj())
	e.waitUnschedulable("c")
	zero := int64(0)
	start = time.Now()
	if err := e.client.CoreV1().Pods(ns).Delete(context.Background(), "a", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if got := e.waitBound("c", 5*time.Second); got != "n1" {
		t.Fatalf("c went to %s, want n1 where a was", got)
	}
	t.Logf("placed %v after room freed up", time.Since(start).Round(time.Millisecond))

	// A pod that finished holds no room.
	e.createPod(st.Pod("d").Req("cpu", "600m").Obj())
	e.waitUnschedulable("d")
	b = e.getPod("b")
	b.Status.Phase = v1.PodSucceeded
	if _, err := e.client.CoreV1().Pods(ns).UpdateStatus(context.Background(), b, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := e.waitBound("d", 5*time.Second); got != "n2" {
		t.Fatalf("d went to %s, want n2 where b finished", got)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNoNodes: the message when the cluster has no nodes at all.
func TestNoNodes(t *testing.T) {
	e := newEnv(t)
	e.startScheduler(nil)
	e.createPod(pod("p").Obj())
	p := e.waitUnschedulable("p")
	if c := podCondition(p, v1.PodScheduled); c.Reason != v1.PodReasonUnschedulable || c.Message != "no nodes available to schedule pods" {
		t.Errorf("PodScheduled = %s %q", c.Reason, c.Message)
	}
	e.waitEvent("p", "FailedScheduling", "no nodes available to schedule pods")
	e.createNodes(node("n1").Obj())
	e.waitBound("p", 15*time.Second)
}

// bindingCounter counts the successful pods/binding requests a client
// made.
type bindingCounter struct{ ok, failed atomic.Int32 }

func (b *bindingCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(req)
		if req.Method == http.MethodPost && strings.HasSuffix(req.URL.Path, "/binding") {
			if err == nil && resp.StatusCode == http.StatusCreated {
				b.ok.Add(1)
			} else {
				b.failed.Add(1)
			}
		}
		return resp, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestLeaderElection runs two replicas: only the holder of the Lease
// binds; when it stops, the other takes over.
func TestLeaderElection(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.createNodes(node(fmt.Sprintf("n%d", i)).Obj())
	}
	counters := [2]*bindingCounter{{}, {}}
	scheds := [2]*scheduler.Scheduler{}
	stops := [2]func(){}
	for i := range 2 {
		rc := rest.CopyConfig(e.srv.Config)
		rc.Wrap(counters[i].wrap)
		scheds[i], stops[i] = e.startScheduler(func(c *scheduler.Config) {
			c.RESTConfig = rc
			c.LeaderElection = leaderelect.Config{
				Enabled: true, Identity: fmt.Sprintf("replica-%d", i),
				LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond,
			}
		})
	}
	leader := -1
	e.poll(10*time.Second, "a leader", func() (bool, error) {
		for i, s := range scheds {
			if s.Leading() {
				leader = i
			}
		}
		return leader >= 0, nil
	})
	if scheds[1-leader].Leading() {
		t.Fatal("both replicas lead")
	}
	lease, err := e.client.CoordinationV1().Leases("kube-system").Get(context.Background(), "kube-scheduler", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := *lease.Spec.HolderIdentity, fmt.Sprintf("replica-%d", leader); got != want {
		t.Errorf("lease held by %q, want %q", got, want)
	}

	createAndWait := func(prefix string, n int) {
		for i := range n {
			e.createPod(pod(fmt.Sprintf("%s-%d", prefix, i)).Obj())
		}
		for i := range n {
			e.waitBound(fmt.Sprintf("%s-%d", prefix, i), 20*time.Second)
		}
	}
	createAndWait("first", 30)
	if a, b := counters[leader].ok.Load(), counters[1-leader].ok.Load(); a != 30 || b != 0 {
		t.Errorf("bindings: leader %d, other %d; want 30 and 0", a, b)
	}

	// The leader stops and releases the Lease; the other replica takes
	// over within a retry period or so.
	stops[leader]()
	other := 1 - leader
	e.poll(10*time.Second, "the other replica leading", func() (bool, error) { return scheds[other].Leading(), nil })
	createAndWait("second", 30)
	if a, b := counters[leader].ok.Load(), counters[other].ok.Load(); a != 30 || b != 30 {
		t.Errorf("bindings: first leader %d, second %d; want 30 each", a, b)
	}
	for i, c := range counters {
		if n := c.failed.Load(); n != 0 {
			t.Errorf("replica %d had %d failed bindings", i, n)
		}
	}
}

// TestPreemption: a high-priority pod that fits nowhere evicts a
// lower-priority pod, is nominated to its node, and lands there once the
// victim is gone.
func TestPreemption(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for name, value := range map[string]int32{"low": 10, "high": 1000} {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
		if _, err := e.client.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.createNodes(node("n1").Cap("cpu", "2").Obj(), node("n2").Cap("cpu", "2").Obj())
	e.fakeKubelet()
	e.startScheduler(nil)

	low := func(name string) *v1.Pod {
		p := st.Pod(name).Req("cpu", "1500m").Obj()
		p.Spec.PriorityClassName = "low"
		return p
	}
	e.createPod(low("low-1"))
	e.createPod(low("low-2"))
	n1, n2 := e.waitBound("low-1", 10*time.Second), e.waitBound("low-2", 10*time.Second)
	if n1 == n2 {
		t.Fatalf("both low pods on %s", n1)
	}
	// Either low pod will do: one of them goes, the other stays.
	high := st.Pod("high").Req("cpu", "1500m").Obj()
	high.Spec.PriorityClassName = "high"
	created := e.createPod(high)
	if created.Spec.Priority == nil || *created.Spec.Priority != 1000 {
		t.Fatalf("priority = %v, want 1000 from the class", created.Spec.Priority)
	}

	var victim string
	e.poll(10*time.Second, "a victim", func() (bool, error) {
		for _, name := range []string{"low-1", "low-2"} {
			_, err := e.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				victim = name
				return true, nil
			}
			if err != nil {
				return false, err
			}
		}
		return false, nil
	})
	target := map[string]string{"low-1": n1, "low-2": n2}[victim]
	if got := e.waitBound("high", 15*time.Second); got != target {
		t.Errorf("high went to %s, want %s where victim %s was", got, target, victim)
	}
	survivor := map[string]string{"low-1": "low-2", "low-2": "low-1"}[victim]
	if p := e.getPod(survivor); p.DeletionTimestamp != nil {
		t.Errorf("%s was preempted too", survivor)
	}
	e.waitEvent(victim, "Preempted", fmt.Sprintf("Preempted by pod %s on node %s", created.UID, target))
	notes := e.events("high", "FailedScheduling")
	wantNote := fmt.Sprintf("0/2 nodes are available: 2 Insufficient cpu. preemption: found a potential placement for pod on node %s, preempting 1 victims", target)
	if !slices.Contains(notes, wantNote) {
		t.Errorf("FailedScheduling notes %q, want %q", notes, wantNote)
	}
}

func TestPreemptionMarksVictim(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for name, value := range map[string]int32{"low": 10, "high": 1000} {
		pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
		if _, err := e.client.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	e.createNodes(node("n1").Cap("cpu", "2").Obj())
	e.startScheduler(nil)
	victim := st.Pod("victim").Req("cpu", "1500m").Obj()
	victim.Spec.PriorityClassName = "low"
	e.createPod(victim)
	e.waitBound("victim", 10*time.Second)
	high := st.Pod("high").Req("cpu", "1500m").Obj()
	high.Spec.PriorityClassName = "high"
	e.createPod(high)

	// Without a kubelet the victim terminates forever: the preemptor
	// waits, nominated, and evicts nobody else.
	e.poll(10*time.Second, "the preemptor nominated", func() (bool, error) {
		return e.getPod("high").Status.NominatedNodeName == "n1", nil
	})
	v := e.getPod("victim")
	if v.DeletionTimestamp == nil {
		t.Fatal("victim not being deleted")
	}
	c := podCondition(v, v1.DisruptionTarget)
	if c == nil || c.Status != v1.ConditionTrue || c.Reason != v1.PodReasonPreemptionByScheduler ||
		c.Message != "default-scheduler: preempting to accommodate a higher priority pod" {
		t.Errorf("victim DisruptionTarget = %+v", c)
	}
	if p := e.getPod("high"); p.Spec.NodeName != "" {
		t.Errorf("high bound to %s while the victim still runs", p.Spec.NodeName)
	}
	// Once the kubelet finishes the deletion, the preemptor lands.
	zero := int64(0)
	if err := e.client.CoreV1().Pods(ns).Delete(ctx, "victim", metav1.DeleteOptions{GracePeriodSeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	if got := e.waitBound("high", 10*time.Second); got != "n1" {
		t.Errorf("high went to %s", got)
	}
}
