package manager_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/statefulset"
)

// The StatefulSet controller against a real API server, scheduler and
// simulated kubelets: ordered creation and deletion observed through a
// watch, parallel management, a partitioned rolling update, a deleted
// member coming back under its name, and kubectl's rollout commands.
func TestStatefulSet(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()

	t.Run("ordered ready: created in order, each after its predecessor is ready; scaled down from the top", func(t *testing.T) {
		c.namespace("sts-ordered")
		rec := c.recordPods("sts-ordered")
		if _, err := c.client.AppsV1().StatefulSets("sts-ordered").Create(ctx, statefulSet("sts-ordered", "web", 3), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.stsSettled("sts-ordered", "web", 3)
		ready := map[string]bool{}
		var created []string
		for _, e := range rec.events() {
			if e.typ == watch.Added {
				created = append(created, e.pod.Name)
				if _, ord := statefulset.ParentAndOrdinal(e.pod.Name); ord > 0 && !ready[fmt.Sprintf("web-%d", ord-1)] {
					t.Errorf("%s created before web-%d was ready", e.pod.Name, ord-1)
				}
			}
			ready[e.pod.Name] = podReady(e.pod)
		}
		if strings.Join(created, ",") != "web-0,web-1,web-2" {
			t.Errorf("created %v", created)
		}
		for _, p := range c.activePods("sts-ordered", "web") {
			if p.Spec.Hostname != p.Name || p.Spec.Subdomain != "web" || p.Labels["statefulset.kubernetes.io/pod-name"] != p.Name ||
				p.Labels["apps.kubernetes.io/pod-index"] == "" || !strings.HasPrefix(p.Labels["controller-revision-hash"], "web-") {
				t.Errorf("pod %s: hostname %s subdomain %s labels %v", p.Name, p.Spec.Hostname, p.Spec.Subdomain, p.Labels)
			}
		}

		rec.reset()
		c.scaleSet("sts-ordered", "web", 1)
		c.stsSettled("sts-ordered", "web", 1)
		// web-2 is gone before web-1 starts terminating.
		var order []string
		for _, e := range rec.events() {
			switch {
			case e.typ == watch.Deleted:
				order = append(order, "gone "+e.pod.Name)
			case e.pod.DeletionTimestamp != nil && !slices.Contains(order, "terminating "+e.pod.Name):
				order = append(order, "terminating "+e.pod.Name)
			}
		}
		if got := strings.Join(order, ", "); got != "terminating web-2, gone web-2, terminating web-1, gone web-1" {
			t.Errorf("scale down: %s", got)
		}
		events := c.statefulSetEvents("sts-ordered", "web")
		for _, want := range []string{"create Pod web-0 in StatefulSet web successful", "delete Pod web-2 in StatefulSet web successful"} {
			if !slices.Contains(events, want) {
				t.Errorf("no event %q in %q", want, events)
			}
		}
	})

	t.Run("parallel: all members at once, ordinals.start honoured, claim volumes", func(t *testing.T) {
		// Skiff's kubelet has no PersistentVolumeClaim volumes, so these
		// pods never become ready: an OrderedReady set would stop at its
		// first, a Parallel one creates (and deletes) them all.
		c.namespace("sts-parallel")
		set := statefulSet("sts-parallel", "db", 3)
		set.Spec.PodManagementPolicy = appsv1.ParallelPodManagement
		set.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 5}
		set.Spec.VolumeClaimTemplates = []v1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"},
			Spec: v1.PersistentVolumeClaimSpec{AccessModes: []v1.PersistentVolumeAccessMode{v1.ReadWriteOnce},
				Resources: v1.VolumeResourceRequirements{Requests: v1.ResourceList{v1.ResourceStorage: resource.MustParse("1Gi")}}}}}
		if _, err := c.client.AppsV1().StatefulSets("sts-parallel").Create(ctx, set, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.eventually(2*time.Minute, "db-5, db-6 and db-7 created, each with its claim volume", func() (bool, string) {
			var names []string
			for _, p := range c.activePods("sts-parallel", "db") {
				if vols := p.Spec.Volumes; len(vols) > 0 && vols[0].PersistentVolumeClaim != nil && vols[0].PersistentVolumeClaim.ClaimName == "data-"+p.Name {
					names = append(names, p.Name)
				}
			}
			st := c.getSet("sts-parallel", "db").Status
			return strings.Join(names, ",") == "db-5,db-6,db-7" && st.Replicas == 3, fmt.Sprintf("pods %v status %+v", names, st)
		})
		c.scaleSet("sts-parallel", "db", 0)
		c.eventually(2*time.Minute, "all deleted", func() (bool, string) {
			list, err := c.client.CoreV1().Pods("sts-parallel").List(ctx, metav1.ListOptions{})
			return err == nil && len(list.Items) == 0, fmt.Sprintf("%d pods, %v", len(list.Items), err)
		})
	})

	t.Run("rolling update with a partition, then to the end; kubectl rollout status, history and undo", func(t *testing.T) {
		ns := "sts-roll"
		c.namespace(ns)
		if _, err := c.client.AppsV1().StatefulSets(ns).Create(ctx, statefulSet(ns, "web", 3), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.stsSettled(ns, "web", 3)
		first := c.getSet(ns, "web").Status.CurrentRevision
		c.updateSet(ns, "web", func(s *appsv1.StatefulSet) {
			s.Spec.Template.Spec.Containers[0].Image = "registry.example/app:2"
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](1)}
		})
		c.eventually(2*time.Minute, "web-2 and web-1 updated, web-0 not", func() (bool, string) {
			s := c.getSet(ns, "web")
			revs := c.memberRevisions(ns, "web")
			st := s.Status
			return st.UpdateRevision != first && st.CurrentRevision == first && st.UpdatedReplicas == 2 && st.ReadyReplicas == 3 &&
					revs["web-0"] == first && revs["web-1"] == st.UpdateRevision && revs["web-2"] == st.UpdateRevision,
				fmt.Sprintf("status %+v pods %v", st, revs)
		})
		second := c.getSet(ns, "web").Status.UpdateRevision
		out := c.kubectl("rollout", "status", "sts/web", "-n", ns, "--timeout=60s")
		if !strings.Contains(out, "partitioned roll out complete: 2 new pods have been updated") {
			t.Errorf("rollout status: %s", out)
		}
		c.updateSet(ns, "web", func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](0) })
		out = c.kubectl("rollout", "status", "sts/web", "-n", ns, "--timeout=120s")
		// The partition is defaulted to 0, so kubectl speaks of a
		// partitioned roll out, as it does against upstream.
		if !strings.Contains(out, "partitioned roll out complete: 3 new pods have been updated") {
			t.Errorf("rollout status: %s", out)
		}
		c.eventually(time.Minute, "rollout complete", func() (bool, string) {
			st := c.getSet(ns, "web").Status
			return st.CurrentRevision == second && st.CurrentReplicas == 3 && st.UpdatedReplicas == 3, fmt.Sprintf("%+v", st)
		})
		out = c.kubectl("rollout", "history", "sts/web", "-n", ns)
		t.Logf("kubectl rollout history sts/web:\n%s", out)
		if !strings.Contains(out, "REVISION") || !strings.Contains(out, "1 ") || !strings.Contains(out, "2 ") {
			t.Errorf("rollout history: %s", out)
		}
		c.kubectl("rollout", "undo", "sts/web", "-n", ns)
		c.eventually(2*time.Minute, "back at the first revision", func() (bool, string) {
			s := c.getSet(ns, "web")
			revs := c.memberRevisions(ns, "web")
			return s.Spec.Template.Spec.Containers[0].Image == "registry.example/app:1" && s.Status.UpdateRevision == first &&
					s.Status.CurrentRevision == first && s.Status.ReadyReplicas == 3 && revs["web-0"] == first && revs["web-2"] == first,
				fmt.Sprintf("status %+v pods %v", s.Status, revs)
		})
		r, err := c.client.AppsV1().ControllerRevisions(ns).Get(ctx, first, metav1.GetOptions{})
		if err != nil || r.Revision != 3 {
			t.Errorf("the first revision after undo: %v, number %d (want 3)", err, r.Revision)
		}
	})

	t.Run("ordered ready waits minReadySeconds between members", func(t *testing.T) {
		ns := "sts-minready"
		c.namespace(ns)
		rec := c.recordPods(ns)
		set := statefulSet(ns, "web", 2)
		set.Spec.MinReadySeconds = 1
		if _, err := c.client.AppsV1().StatefulSets(ns).Create(ctx, set, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.stsSettled(ns, "web", 2)
		var readyAt time.Time
		for _, e := range rec.events() {
			if e.pod.Name == "web-0" && podReady(e.pod) && readyAt.IsZero() {
				for _, cond := range e.pod.Status.Conditions {
					if cond.Type == v1.PodReady {
						readyAt = cond.LastTransitionTime.Time
					}
				}
			}
			if e.typ == watch.Added && e.pod.Name == "web-1" {
				// Both times are whole seconds: created at least a second later.
				if readyAt.IsZero() || e.pod.CreationTimestamp.Time.Before(readyAt.Add(time.Second)) {
					t.Errorf("web-1 created at %v, web-0 ready at %v", e.pod.CreationTimestamp.Time, readyAt)
				}
			}
		}
	})

	t.Run("twenty members, ordered and parallel (times logged)", func(t *testing.T) {
		ns := "sts-twenty"
		c.namespace(ns)
		for _, policy := range []appsv1.PodManagementPolicyType{appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement} {
			name := strings.ToLower(string(policy))
			set := statefulSet(ns, name, 20)
			set.Spec.PodManagementPolicy = policy
			start := time.Now()
			if _, err := c.client.AppsV1().StatefulSets(ns).Create(ctx, set, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			c.stsSettled(ns, name, 20)
			up := time.Since(start)
			start = time.Now()
			c.scaleSet(ns, name, 0)
			c.stsSettled(ns, name, 0)
			t.Logf("%s: 20 members ready in %v, all gone in %v", policy, up.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
		}
	})

	t.Run("a deleted member comes back under its name", func(t *testing.T) {
		ns := "sts-heal"
		c.namespace(ns)
		if _, err := c.client.AppsV1().StatefulSets(ns).Create(ctx, statefulSet(ns, "web", 2), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.stsSettled(ns, "web", 2)
		old, err := c.client.CoreV1().Pods(ns).Get(ctx, "web-1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.client.CoreV1().Pods(ns).Delete(ctx, "web-1", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		c.eventually(time.Minute, "web-1 recreated and ready", func() (bool, string) {
			p, err := c.client.CoreV1().Pods(ns).Get(ctx, "web-1", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return p.UID != old.UID && podReady(p) && p.DeletionTimestamp == nil, fmt.Sprintf("uid %s ready %v", p.UID, podReady(p))
		})
		c.stsSettled(ns, "web", 2)

		// A member that fails (here its status says so) is replaced too.
		old, err = c.client.CoreV1().Pods(ns).Get(ctx, "web-0", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		old.Status.Phase = v1.PodFailed
		if _, err := c.client.CoreV1().Pods(ns).UpdateStatus(ctx, old, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.eventually(time.Minute, "web-0 recreated", func() (bool, string) {
			p, err := c.client.CoreV1().Pods(ns).Get(ctx, "web-0", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return p.UID != old.UID && p.DeletionTimestamp == nil, fmt.Sprintf("uid %s phase %s", p.UID, p.Status.Phase)
		})
		c.stsSettled(ns, "web", 2)
		if events := c.statefulSetEvents(ns, "web"); !slices.Contains(events, "StatefulSet sts-heal/web is recreating failed Pod web-0") {
			t.Errorf("events %q", events)
		}
	})
}

// statefulSet is an OrderedReady, RollingUpdate set of replicas pods
// labelled app=<name>, governed by Service <name>.
func statefulSet(ns, name string, replicas int32) *appsv1.StatefulSet {
	labels := map[string]string{"app": name}
	return &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    ptr.To(replicas),
			ServiceName: name,
			Selector:    &metav1.LabelSelector{MatchLabels: labels},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: v1.PodSpec{Containers: []v1.Container{{Name: "app", Image: "registry.example/app:1"}},
					TerminationGracePeriodSeconds: ptr.To[int64](1)},
			},
		},
	}
}

func (c *cluster) getSet(ns, name string) *appsv1.StatefulSet {
	c.t.Helper()
	s, err := c.client.AppsV1().StatefulSets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

// updateSet changes a StatefulSet's spec, retrying on conflicts.
func (c *cluster) updateSet(ns, name string, change func(*appsv1.StatefulSet)) {
	c.t.Helper()
	c.eventually(30*time.Second, "update statefulset "+name, func() (bool, string) {
		s := c.getSet(ns, name)
		change(s)
		_, err := c.client.AppsV1().StatefulSets(ns).Update(context.Background(), s, metav1.UpdateOptions{})
		return err == nil, fmt.Sprint(err)
	})
}

func (c *cluster) scaleSet(ns, name string, n int32) {
	c.updateSet(ns, name, func(s *appsv1.StatefulSet) { s.Spec.Replicas = ptr.To(n) })
}

// stsSettled waits until the set has exactly n pods, all ready, at one
// revision, and says so in a status for its current generation.
func (c *cluster) stsSettled(ns, name string, n int32) {
	c.t.Helper()
	c.eventually(2*time.Minute, fmt.Sprintf("statefulset %s/%s at %d ready replicas", ns, name, n), func() (bool, string) {
		s := c.getSet(ns, name)
		list, err := c.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return false, err.Error()
		}
		st := s.Status
		return len(list.Items) == int(n) && st.ObservedGeneration == s.Generation && st.Replicas == n && st.ReadyReplicas == n &&
				st.AvailableReplicas == n && st.CurrentRevision == st.UpdateRevision && st.CurrentReplicas == n,
			fmt.Sprintf("%d pods, status %+v", len(list.Items), st)
	})
}

// memberRevisions maps the set's live pods to their revision label.
func (c *cluster) memberRevisions(ns, name string) map[string]string {
	out := map[string]string{}
	for _, p := range c.activePods(ns, name) {
		out[p.Name] = p.Labels["controller-revision-hash"]
	}
	return out
}

// statefulSetEvents waits for events about StatefulSet name and lists
// their messages.
func (c *cluster) statefulSetEvents(ns, name string) []string {
	c.t.Helper()
	var out []string
	c.eventually(30*time.Second, "events of "+name, func() (bool, string) {
		out = c.eventMessages(ns, "StatefulSet", name)
		return len(out) > 0, ""
	})
	return out
}

type podEvent struct {
	typ watch.EventType
	pod *v1.Pod
}

// podRecorder keeps the pod watch events of a namespace, in order.
type podRecorder struct {
	mu  sync.Mutex
	evs []podEvent
}

func (r *podRecorder) events() []podEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]podEvent(nil), r.evs...)
}

func (r *podRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = nil
}

// recordPods watches the pods of ns until the test ends.
func (c *cluster) recordPods(ns string) *podRecorder {
	c.t.Helper()
	w, err := c.client.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(w.Stop)
	r := &podRecorder{}
	go func() {
		for e := range w.ResultChan() {
			if p, ok := e.Object.(*v1.Pod); ok {
				r.mu.Lock()
				r.evs = append(r.evs, podEvent{typ: e.Type, pod: p})
				r.mu.Unlock()
			}
		}
	}()
	return r
}

func podReady(p *v1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue && p.Status.Phase == v1.PodRunning
		}
	}
	return false
}
