package manager_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/controller/replicaset"
	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/leaderelect"
	"github.com/skiff-sh/skiff/internal/scheduler"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// cluster is a control plane with a scheduler, two simulated nodes and a
// controller manager, shared by the scenarios of one test.
type cluster struct {
	t      *testing.T
	srv    *testserver.Server
	client kubernetes.Interface
	stops  map[string]func()
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: starts a control plane")
	}
	srv := testserver.Start(t, testserver.Options{})
	client := srv.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	var done []chan error
	run := func(name string, fn func(context.Context) error) {
		ch := make(chan error, 1)
		done = append(done, ch)
		go func() { ch <- fn(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		for _, ch := range done {
			if err := <-ch; err != nil {
				t.Errorf("component: %v", err)
			}
		}
	})
	sched, err := scheduler.New(scheduler.Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	run("scheduler", sched.Run)
	fleet, err := kubelet.NewFleet(kubelet.FleetConfig{Client: client, Nodes: 2, NamePrefix: "cm-"})
	if err != nil {
		t.Fatal(err)
	}
	run("fleet", fleet.Run)
	c := &cluster{t: t, srv: srv, client: client, stops: map[string]func(){}}
	c.eventually(time.Minute, "scheduler and nodes ready", func() (bool, string) {
		return sched.Ready() && fleet.Ready(), fmt.Sprintf("scheduler %v fleet %v", sched.Ready(), fleet.Ready())
	})
	c.startManager("a")
	return c
}

// startManager runs a controller manager replica (leader-elected, with
// short leases) until the test ends or stop is called, and waits until
// its informers have synced.
func (c *cluster) startManager(identity string) (m *manager.Manager, stop func()) {
	c.t.Helper()
	var logger *slog.Logger
	if os.Getenv("SKIFF_TEST_LOGS") == "1" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("replica", identity)
	}
	m, err := manager.New(manager.Config{
		RESTConfig: c.srv.Config,
		Logger:     logger,
		LeaderElection: leaderelect.Config{Enabled: true, LeaseDuration: 3 * time.Second,
			RenewDeadline: 2 * time.Second, RetryPeriod: 500 * time.Millisecond, Identity: identity},
	})
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				c.t.Errorf("controller manager %s: %v", identity, err)
			}
		})
	}
	c.t.Cleanup(stop)
	c.stops[identity] = stop
	c.eventually(time.Minute, "controller manager "+identity+" ready", func() (bool, string) { return m.Ready(), "" })
	return m, stop
}

// stopManager stops the replica started with identity.
func (c *cluster) stopManager(identity string) { c.stops[identity]() }

// holder is the leader Lease's holder.
func (c *cluster) holder() string {
	l, err := c.client.CoordinationV1().Leases("kube-system").Get(context.Background(), manager.LeaseName, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// eventually polls cond until it holds or the time is up; cond's string
// says what it saw, for the failure message.
func (c *cluster) eventually(within time.Duration, what string, cond func() (bool, string)) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.t.Fatalf("%s: not within %v; last seen: %s", what, within, last)
}

func (c *cluster) namespace(name string) {
	c.t.Helper()
	_, err := c.client.CoreV1().Namespaces().Create(context.Background(), &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
}

// activePods lists the active pods labelled app=<app>, by name.
func (c *cluster) activePods(ns, app string) []v1.Pod {
	c.t.Helper()
	list, err := c.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		c.t.Fatal(err)
	}
	var out []v1.Pod
	for _, p := range list.Items {
		if replicaset.IsActive(&p) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func replicaSet(ns, name string, replicas int32) *appsv1.ReplicaSet {
	labels := map[string]string{"app": name}
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "app", Image: "registry.example/app:1"}}},
			},
		},
	}
}

// settled waits until the ReplicaSet has exactly n active pods and
// reports n ready and available for the current generation.
func (c *cluster) settled(ns, name string, n int32) {
	c.t.Helper()
	c.eventually(time.Minute, fmt.Sprintf("%s/%s at %d ready replicas", ns, name, n), func() (bool, string) {
		rs, err := c.client.AppsV1().ReplicaSets(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		pods := c.activePods(ns, name)
		st := rs.Status
		return len(pods) == int(n) && st.ObservedGeneration == rs.Generation && st.Replicas == n && st.ReadyReplicas == n &&
				st.AvailableReplicas == n && st.FullyLabeledReplicas == n,
			fmt.Sprintf("%d active pods, status %+v", len(pods), st)
	})
}

func (c *cluster) scale(ns, name string, n int32) {
	c.t.Helper()
	ctx := context.Background()
	rs, err := c.client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	rs.Spec.Replicas = ptr.To(n)
	if _, err := c.client.AppsV1().ReplicaSets(ns).Update(ctx, rs, metav1.UpdateOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

func TestControllerManager(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()

	t.Run("holds the leader lease", func(t *testing.T) {
		c.eventually(10*time.Second, "lease kube-system/kube-controller-manager", func() (bool, string) {
			l, err := c.client.CoordinationV1().Leases("kube-system").Get(ctx, "kube-controller-manager", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "", fmt.Sprint(l.Spec.HolderIdentity)
		})
	})

	t.Run("default service accounts appear and come back", func(t *testing.T) {
		c.namespace("sa-test")
		for _, ns := range []string{"default", "kube-system", "sa-test"} {
			c.eventually(10*time.Second, "serviceaccount "+ns+"/default", func() (bool, string) {
				_, err := c.client.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
				return err == nil, fmt.Sprint(err)
			})
		}
		old, _ := c.client.CoreV1().ServiceAccounts("sa-test").Get(ctx, "default", metav1.GetOptions{})
		if err := c.client.CoreV1().ServiceAccounts("sa-test").Delete(ctx, "default", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		c.eventually(10*time.Second, "default recreated", func() (bool, string) {
			sa, err := c.client.CoreV1().ServiceAccounts("sa-test").Get(ctx, "default", metav1.GetOptions{})
			return err == nil && sa.UID != old.UID, fmt.Sprint(err)
		})
	})

	t.Run("a replicaset scales up and down and heals", func(t *testing.T) {
		c.namespace("rs-test")
		if _, err := c.client.AppsV1().ReplicaSets("rs-test").Create(ctx, replicaSet("rs-test", "web", 3), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.settled("rs-test", "web", 3)
		for _, p := range c.activePods("rs-test", "web") {
			ref := metav1.GetControllerOf(&p)
			if ref == nil || ref.Name != "web" || !*ref.BlockOwnerDeletion || !strings.HasPrefix(p.Name, "web-") || p.Spec.NodeName == "" {
				t.Errorf("pod %s: owner %+v node %q", p.Name, ref, p.Spec.NodeName)
			}
		}
		c.scale("rs-test", "web", 5)
		c.settled("rs-test", "web", 5)
		c.scale("rs-test", "web", 2)
		c.settled("rs-test", "web", 2)

		victim := c.activePods("rs-test", "web")[0]
		if err := c.client.CoreV1().Pods("rs-test").Delete(ctx, victim.Name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		c.eventually(time.Minute, "a replacement", func() (bool, string) {
			pods := c.activePods("rs-test", "web")
			for _, p := range pods {
				if p.Name == victim.Name {
					return false, "victim still active"
				}
			}
			return len(pods) == 2, fmt.Sprintf("%d active", len(pods))
		})
		c.settled("rs-test", "web", 2)

		c.eventually(10*time.Second, "events", func() (bool, string) {
			evs, err := c.client.CoreV1().Events("rs-test").List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			seen := map[string]bool{}
			for _, e := range evs.Items {
				if e.InvolvedObject.Kind == "ReplicaSet" && e.Source.Component == replicaset.EventSource {
					seen[e.Reason] = true
				}
			}
			return seen[replicaset.ReasonSuccessfulCreate] && seen[replicaset.ReasonSuccessfulDelete], fmt.Sprint(seen)
		})
	})

	t.Run("an orphan is adopted and a stray released", func(t *testing.T) {
		c.namespace("adopt-test")
		orphan := &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "orphan", Namespace: "adopt-test", Labels: map[string]string{"app": "solo"}},
			Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "app", Image: "registry.example/app:1"}}},
		}
		if _, err := c.client.CoreV1().Pods("adopt-test").Create(ctx, orphan, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.client.AppsV1().ReplicaSets("adopt-test").Create(ctx, replicaSet("adopt-test", "solo", 1), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.settled("adopt-test", "solo", 1)
		pods := c.activePods("adopt-test", "solo")
		if len(pods) != 1 || pods[0].Name != "orphan" || metav1.GetControllerOf(&pods[0]) == nil {
			t.Fatalf("pods = %v", pods)
		}
		// Relabelled out of the selector: released, and replaced.
		p := pods[0]
		p.Labels = map[string]string{"app": "debug"}
		if _, err := c.client.CoreV1().Pods("adopt-test").Update(ctx, &p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.eventually(30*time.Second, "orphan released", func() (bool, string) {
			got, err := c.client.CoreV1().Pods("adopt-test").Get(ctx, "orphan", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return metav1.GetControllerOf(got) == nil, fmt.Sprint(got.OwnerReferences)
		})
		c.settled("adopt-test", "solo", 1)
	})

	t.Run("a service's endpoints follow its pods", func(t *testing.T) {
		ns := "ep-test"
		c.namespace(ns)
		rs := replicaSet(ns, "api", 2)
		rs.Spec.Template.Spec.Containers[0].Ports = []v1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: v1.ProtocolTCP}}
		if _, err := c.client.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		svc := &v1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "api", Namespace: ns},
			Spec: v1.ServiceSpec{Selector: map[string]string{"app": "api"},
				Ports: []v1.ServicePort{{Name: "web", Port: 80, TargetPort: intstr.FromString("http"), Protocol: v1.ProtocolTCP}}},
		}
		if _, err := c.client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.settled(ns, "api", 2)
		endpointsAre := func(ready int) {
			c.eventually(30*time.Second, fmt.Sprintf("%d ready endpoints", ready), func() (bool, string) {
				ep, err := c.client.CoreV1().Endpoints(ns).Get(ctx, "api", metav1.GetOptions{})
				if err != nil {
					return false, err.Error()
				}
				n := 0
				for _, s := range ep.Subsets {
					n += len(s.Addresses)
					if len(s.Ports) != 1 || s.Ports[0].Port != 8080 || s.Ports[0].Name != "web" {
						return false, fmt.Sprintf("ports %+v", s.Ports)
					}
				}
				pods := c.activePods(ns, "api")
				for _, p := range pods {
					if p.Status.PodIP == "" {
						return false, "a pod without IP"
					}
				}
				return n == ready && len(pods) == ready, fmt.Sprintf("%d addresses, subsets %+v", n, ep.Subsets)
			})
		}
		slicesAre := func(ready int) {
			c.eventually(30*time.Second, fmt.Sprintf("%d ready slice endpoints", ready), func() (bool, string) {
				list, err := c.client.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=api"})
				if err != nil {
					return false, err.Error()
				}
				n := 0
				for _, s := range list.Items {
					for _, e := range s.Endpoints {
						if e.Conditions.Ready != nil && *e.Conditions.Ready {
							n++
						}
					}
				}
				return len(list.Items) == 1 && n == ready, fmt.Sprintf("%d slices, %d ready", len(list.Items), n)
			})
		}
		endpointsAre(2)
		slicesAre(2)
		c.scale(ns, "api", 3)
		c.settled(ns, "api", 3)
		endpointsAre(3)
		slicesAre(3)
	})

	t.Run("cascading deletion: background, orphan, foreground", func(t *testing.T) {
		ns := "gc-test"
		c.namespace(ns)
		for _, name := range []string{"bg", "orphan", "fg"} {
			if _, err := c.client.AppsV1().ReplicaSets(ns).Create(ctx, replicaSet(ns, name, 2), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range []string{"bg", "orphan", "fg"} {
			c.settled(ns, name, 2)
		}
		rsGone := func(name string) {
			c.eventually(time.Minute, "replicaset "+name+" gone", func() (bool, string) {
				rs, err := c.client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return true, ""
				}
				return false, fmt.Sprintf("%v %v", err, rs.Finalizers)
			})
		}
		del := func(name string, p metav1.DeletionPropagation) {
			if err := c.client.AppsV1().ReplicaSets(ns).Delete(ctx, name, metav1.DeleteOptions{PropagationPolicy: &p}); err != nil {
				t.Fatal(err)
			}
		}
		podsLeft := func(app string) int {
			list, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
			if err != nil {
				t.Fatal(err)
			}
			return len(list.Items)
		}

		del("bg", metav1.DeletePropagationBackground)
		rsGone("bg")
		c.eventually(time.Minute, "background: pods collected", func() (bool, string) {
			n := podsLeft("bg")
			return n == 0, fmt.Sprintf("%d pods", n)
		})

		del("orphan", metav1.DeletePropagationOrphan)
		rsGone("orphan")
		c.eventually(10*time.Second, "orphan: pods kept without owner", func() (bool, string) {
			pods := c.activePods(ns, "orphan")
			for _, p := range pods {
				if len(p.OwnerReferences) != 0 {
					return false, fmt.Sprintf("%s owners %v", p.Name, p.OwnerReferences)
				}
			}
			return len(pods) == 2, fmt.Sprintf("%d pods", len(pods))
		})

		del("fg", metav1.DeletePropagationForeground)
		// The owner stays, with its finalizer, while its pods exist.
		c.eventually(time.Minute, "foreground: pods gone, then the owner", func() (bool, string) {
			rs, err := c.client.AppsV1().ReplicaSets(ns).Get(ctx, "fg", metav1.GetOptions{})
			n := podsLeft("fg")
			if apierrors.IsNotFound(err) {
				if n != 0 {
					t.Errorf("the owner went before its %d pods", n)
				}
				return true, ""
			}
			if err == nil && rs.DeletionTimestamp == nil {
				return false, "not marked"
			}
			return false, fmt.Sprintf("%d pods left", n)
		})
		if n := len(c.activePods(ns, "orphan")); n != 2 {
			t.Errorf("%d orphaned pods left, want 2: orphans must stay", n)
		}
	})

	t.Run("a deleted namespace is emptied and goes away", func(t *testing.T) {
		ns := "doomed"
		c.namespace(ns)
		if _, err := c.client.CoreV1().ConfigMaps(ns).Create(ctx, &v1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.client.CoreV1().Secrets(ns).Create(ctx, &v1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.client.AppsV1().ReplicaSets(ns).Create(ctx, replicaSet(ns, "app", 2), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.settled(ns, "app", 2)
		if err := c.client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		c.eventually(time.Minute, "namespace gone", func() (bool, string) {
			n, err := c.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, ""
			}
			if err != nil {
				return false, err.Error()
			}
			return false, fmt.Sprintf("phase %s, conditions %+v", n.Status.Phase, n.Status.Conditions)
		})
		pods, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil || len(pods.Items) != 0 {
			t.Errorf("pods left: %v %v", pods, err)
		}
	})
}

func TestLeaderFailover(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	c.eventually(10*time.Second, "a leads", func() (bool, string) { return c.holder() == "a", c.holder() })
	_, stopB := c.startManager("b")
	defer stopB()
	c.namespace("failover")
	if _, err := c.client.AppsV1().ReplicaSets("failover").Create(ctx, replicaSet("failover", "web", 3), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.settled("failover", "web", 3)
	if c.holder() != "a" {
		t.Fatalf("holder %q, want a", c.holder())
	}
	// Stop a: it releases the Lease; b takes over and carries on.
	c.stopManager("a")
	c.eventually(15*time.Second, "b leads", func() (bool, string) { return c.holder() == "b", c.holder() })
	c.scale("failover", "web", 5)
	c.settled("failover", "web", 5)
	// Exactly five: no replica created on top of the other's work.
	list, err := c.client.CoreV1().Pods("failover").List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 5 {
		t.Errorf("%d pods, want 5 (%v)", len(list.Items), err)
	}
}
