package manager_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/deployment"
	"github.com/skiff-sh/skiff/internal/controller/replicaset"
)

// TestDeployment runs the Deployment controller's scenarios on one
// cluster, each in its own namespace; the last one replaces the
// controller manager in the middle of a rollout.
func TestDeployment(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()

	t.Run("created, scaled up and down", func(t *testing.T) {
		c.namespace("dep-scale")
		d := c.createDeployment(newDeployment("dep-scale", "web", 3))
		c.rolledOut(d.Namespace, d.Name, 3)
		rss := c.ownedReplicaSets(d)
		if len(rss) != 1 {
			t.Fatalf("%d replicasets, want 1", len(rss))
		}
		rs := rss[0]
		hash := rs.Labels[appsv1.DefaultDeploymentUniqueLabelKey]
		if hash == "" || rs.Name != "web-"+hash || rs.Spec.Selector.MatchLabels[appsv1.DefaultDeploymentUniqueLabelKey] != hash ||
			rs.Spec.Template.Labels[appsv1.DefaultDeploymentUniqueLabelKey] != hash {
			t.Errorf("replicaset %s labels %v selector %v", rs.Name, rs.Labels, rs.Spec.Selector)
		}
		if rs.Annotations[deployment.RevisionAnnotation] != "1" || rs.Annotations[deployment.DesiredReplicasAnnotation] != "3" ||
			rs.Annotations[deployment.MaxReplicasAnnotation] != "4" {
			t.Errorf("replicaset annotations %v", rs.Annotations)
		}
		got := c.getDeployment(d.Namespace, d.Name)
		if got.Annotations[deployment.RevisionAnnotation] != "1" {
			t.Errorf("deployment annotations %v", got.Annotations)
		}
		prog := deployment.GetCondition(got.Status, appsv1.DeploymentProgressing)
		if prog == nil || prog.Reason != deployment.ReasonNewRSAvailable || prog.Message != fmt.Sprintf("ReplicaSet %q has successfully progressed.", rs.Name) {
			t.Errorf("progressing = %+v", prog)
		}
		avail := deployment.GetCondition(got.Status, appsv1.DeploymentAvailable)
		if avail == nil || avail.Status != v1.ConditionTrue || avail.Reason != deployment.ReasonMinimumAvailable {
			t.Errorf("available = %+v", avail)
		}
		c.scaleDeployment(d.Namespace, d.Name, 5)
		c.rolledOut(d.Namespace, d.Name, 5)
		c.scaleDeployment(d.Namespace, d.Name, 1)
		c.rolledOut(d.Namespace, d.Name, 1)
		c.eventually(time.Minute, "scaling events", func() (bool, string) {
			msgs := c.eventMessages(d.Namespace, "Deployment", d.Name)
			want := []string{
				"Scaled up replica set " + rs.Name + " from 0 to 3",
				"Scaled up replica set " + rs.Name + " from 3 to 5",
				"Scaled down replica set " + rs.Name + " from 5 to 1",
			}
			for _, w := range want {
				if !contains(msgs, w) {
					return false, strings.Join(msgs, "; ")
				}
			}
			return true, ""
		})
	})

	t.Run("a rolling update stays within maxSurge and maxUnavailable", func(t *testing.T) {
		c.namespace("dep-roll")
		d := newDeployment("dep-roll", "web", 6)
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(2)), MaxUnavailable: ptr.To(intstr.FromString("25%"))}
		d = c.createDeployment(d)
		c.rolledOut(d.Namespace, d.Name, 6)
		w := c.watchPods(d.Namespace, "web", 6+2, 6-1)
		c.setImage(d.Namespace, d.Name, "registry.example/app:2")
		c.rolledOut(d.Namespace, d.Name, 6)
		w.stop(t)
		if w.steps < 6 {
			t.Errorf("saw only %d pod events during the rollout", w.steps)
		}
		rss := c.ownedReplicaSets(d)
		if len(rss) != 2 || specReplicas(rss[0])+specReplicas(rss[1]) != 6 {
			t.Fatalf("replicasets after the rollout: %v", rsSummary(rss))
		}
		got := c.getDeployment(d.Namespace, d.Name)
		if got.Annotations[deployment.RevisionAnnotation] != "2" {
			t.Errorf("revision = %q, want 2", got.Annotations[deployment.RevisionAnnotation])
		}
	})

	t.Run("recreate: no new pod while an old one runs", func(t *testing.T) {
		c.namespace("dep-recreate")
		d := newDeployment("dep-recreate", "web", 3)
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		d = c.createDeployment(d)
		c.rolledOut(d.Namespace, d.Name, 3)
		w := c.watchPods(d.Namespace, "web", 3, 0)
		w.noMix = true
		c.setImage(d.Namespace, d.Name, "registry.example/app:2")
		c.rolledOut(d.Namespace, d.Name, 3)
		w.stop(t)
	})

	t.Run("rollback as kubectl rollout undo does it", func(t *testing.T) {
		c.namespace("dep-undo")
		d := newDeployment("dep-undo", "web", 2)
		d.Annotations = map[string]string{"kubernetes.io/change-cause": "first"}
		d = c.createDeployment(d)
		c.rolledOut(d.Namespace, d.Name, 2)
		first := c.ownedReplicaSets(d)[0]
		if first.Annotations["kubernetes.io/change-cause"] != "first" {
			t.Errorf("change-cause not copied: %v", first.Annotations)
		}
		c.setImage(d.Namespace, d.Name, "registry.example/app:2")
		c.rolledOut(d.Namespace, d.Name, 2)
		// kubectl's rollback: the old template without its hash label,
		// as a JSON patch.
		tmpl := first.Spec.Template.DeepCopy()
		delete(tmpl.Labels, appsv1.DefaultDeploymentUniqueLabelKey)
		c.patchTemplate(d.Namespace, d.Name, tmpl)
		c.rolledOut(d.Namespace, d.Name, 2)
		rs, err := c.client.AppsV1().ReplicaSets(d.Namespace).Get(ctx, first.Name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rs.Annotations[deployment.RevisionAnnotation] != "3" || rs.Annotations[deployment.RevisionHistoryAnnotation] != "1" || specReplicas(rs) != 2 {
			t.Errorf("rolled-back replicaset: replicas %d annotations %v", specReplicas(rs), rs.Annotations)
		}
		if got := c.getDeployment(d.Namespace, d.Name); got.Annotations[deployment.RevisionAnnotation] != "3" {
			t.Errorf("deployment revision %q, want 3", got.Annotations[deployment.RevisionAnnotation])
		}
	})

	t.Run("paused: no rollout, scaling still proportional", func(t *testing.T) {
		c.namespace("dep-pause")
		d := newDeployment("dep-pause", "web", 4)
		d = c.createDeployment(d)
		c.rolledOut(d.Namespace, d.Name, 4)
		c.patchDeployment(d.Namespace, d.Name, `{"spec":{"paused":true}}`)
		c.eventually(time.Minute, "paused condition", func() (bool, string) {
			got := c.getDeployment(d.Namespace, d.Name)
			p := deployment.GetCondition(got.Status, appsv1.DeploymentProgressing)
			return p != nil && p.Reason == deployment.ReasonPaused && p.Status == v1.ConditionUnknown && p.Message == "Deployment is paused", fmt.Sprintf("%+v", p)
		})
		c.setImage(d.Namespace, d.Name, "registry.example/app:2")
		c.scaleDeployment(d.Namespace, d.Name, 6)
		c.eventually(time.Minute, "scaled while paused", func() (bool, string) {
			got := c.getDeployment(d.Namespace, d.Name)
			rss := c.ownedReplicaSets(d)
			return got.Status.ObservedGeneration == got.Generation && len(rss) == 1 && specReplicas(rss[0]) == 6, rsSummary(rss)
		})
		c.patchDeployment(d.Namespace, d.Name, `{"spec":{"paused":false}}`)
		c.rolledOut(d.Namespace, d.Name, 6)
		if rss := c.ownedReplicaSets(d); len(rss) != 2 {
			t.Errorf("replicasets after resume: %s", rsSummary(rss))
		}
	})

	t.Run("proportional scaling in the middle of a rollout", func(t *testing.T) {
		c.namespace("dep-prop")
		d := newDeployment("dep-prop", "web", 10)
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(3)), MaxUnavailable: ptr.To(intstr.FromInt32(2))}
		d = c.createDeployment(d)
		c.rolledOut(d.Namespace, d.Name, 10)
		// An image whose pods never schedule holds the rollout midway.
		c.patchDeployment(d.Namespace, d.Name, `{"spec":{"template":{"spec":{"nodeSelector":{"nowhere":"true"}}}}}`)
		// 3 new (maxSurge), old down to 8 (maxUnavailable), 2 more new;
		// then nothing moves.
		c.eventually(time.Minute, "rollout stuck at 8 old and 5 new", func() (bool, string) {
			rss := c.ownedReplicaSets(d)
			return len(rss) == 2 && specReplicas(rss[0]) == 8 && specReplicas(rss[1]) == 5, rsSummary(rss)
		})
		c.scaleDeployment(d.Namespace, d.Name, 20)
		c.eventually(time.Minute, "scaled proportionally", func() (bool, string) {
			rss := c.ownedReplicaSets(d)
			// 13 of 13 becomes 23: old 8 -> 14, new 5 -> 9.
			return len(rss) == 2 && specReplicas(rss[0]) == 14 && specReplicas(rss[1]) == 9, rsSummary(rss)
		})
	})

	t.Run("progress deadline exceeded", func(t *testing.T) {
		c.namespace("dep-stuck")
		d := newDeployment("dep-stuck", "web", 2)
		d.Spec.ProgressDeadlineSeconds = ptr.To[int32](3)
		d.Spec.Template.Spec.NodeSelector = map[string]string{"nowhere": "true"}
		d = c.createDeployment(d)
		c.eventually(2*time.Minute, "ProgressDeadlineExceeded", func() (bool, string) {
			got := c.getDeployment(d.Namespace, d.Name)
			p := deployment.GetCondition(got.Status, appsv1.DeploymentProgressing)
			rss := c.ownedReplicaSets(d)
			return p != nil && len(rss) == 1 && p.Status == v1.ConditionFalse && p.Reason == deployment.ReasonTimedOut &&
				p.Message == fmt.Sprintf("ReplicaSet %q has timed out progressing.", rss[0].Name), fmt.Sprintf("%+v", p)
		})
		got := c.getDeployment(d.Namespace, d.Name)
		a := deployment.GetCondition(got.Status, appsv1.DeploymentAvailable)
		if a == nil || a.Status != v1.ConditionFalse || a.Reason != deployment.ReasonMinimumUnavailable {
			t.Errorf("available = %+v", a)
		}
	})

	t.Run("revision history limit", func(t *testing.T) {
		c.namespace("dep-history")
		d := newDeployment("dep-history", "web", 1)
		d.Spec.RevisionHistoryLimit = ptr.To[int32](1)
		d = c.createDeployment(d)
		for i := 2; i <= 4; i++ {
			c.setImage(d.Namespace, d.Name, fmt.Sprintf("registry.example/app:%d", i))
			c.rolledOut(d.Namespace, d.Name, 1)
		}
		c.eventually(time.Minute, "two replicasets left", func() (bool, string) {
			rss := c.ownedReplicaSets(d)
			return len(rss) == 2, rsSummary(rss)
		})
	})

	t.Run("a controller manager killed mid-rollout: the next one finishes it", func(t *testing.T) {
		c.namespace("dep-failover")
		d := newDeployment("dep-failover", "web", 10)
		d.Spec.MinReadySeconds = 2
		d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: ptr.To(intstr.FromInt32(2)), MaxUnavailable: ptr.To(intstr.FromInt32(0))}
		d = c.createDeployment(d)
		c.rolledOut(d.Namespace, d.Name, 10)
		w := c.watchPods(d.Namespace, "web", 12, -1)
		c.setImage(d.Namespace, d.Name, "registry.example/app:2")
		c.eventually(time.Minute, "rollout under way", func() (bool, string) {
			got := c.getDeployment(d.Namespace, d.Name)
			return got.Status.UpdatedReplicas >= 2 && got.Status.UpdatedReplicas < 10, fmt.Sprintf("%+v", got.Status)
		})
		c.stopManager("a")
		if got := c.getDeployment(d.Namespace, d.Name); got.Status.UpdatedReplicas >= 10 {
			t.Fatalf("the rollout finished before the manager stopped: %+v", got.Status)
		}
		c.startManager("b")
		c.rolledOut(d.Namespace, d.Name, 10)
		w.stop(t)
		rss := c.ownedReplicaSets(d)
		if len(rss) != 2 {
			t.Fatalf("replicasets: %s", rsSummary(rss))
		}
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func newDeployment(ns, name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "app", Image: "registry.example/app:1"}}},
			},
		},
	}
}

func specReplicas(rs *appsv1.ReplicaSet) int32 { return ptr.Deref(rs.Spec.Replicas, 1) }

func rsSummary(rss []*appsv1.ReplicaSet) string {
	var parts []string
	for _, rs := range rss {
		parts = append(parts, fmt.Sprintf("%s spec=%d status=%d avail=%d rev=%s", rs.Name, specReplicas(rs), rs.Status.Replicas,
			rs.Status.AvailableReplicas, rs.Annotations[deployment.RevisionAnnotation]))
	}
	return strings.Join(parts, "; ")
}

func (c *cluster) createDeployment(d *appsv1.Deployment) *appsv1.Deployment {
	c.t.Helper()
	out, err := c.client.AppsV1().Deployments(d.Namespace).Create(context.Background(), d, metav1.CreateOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return out
}

func (c *cluster) getDeployment(ns, name string) *appsv1.Deployment {
	c.t.Helper()
	d, err := c.client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	return d
}

func (c *cluster) patchDeployment(ns, name, patch string) {
	c.t.Helper()
	_, err := c.client.AppsV1().Deployments(ns).Patch(context.Background(), name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
}

func (c *cluster) setImage(ns, name, image string) {
	c.t.Helper()
	c.patchDeployment(ns, name, fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":%q}]}}}}`, image))
}

func (c *cluster) scaleDeployment(ns, name string, n int32) {
	c.t.Helper()
	_, err := c.client.AppsV1().Deployments(ns).Patch(context.Background(), name, types.MergePatchType,
		[]byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, n)), metav1.PatchOptions{}, "scale")
	if err != nil {
		c.t.Fatal(err)
	}
}

// patchTemplate replaces the pod template with a JSON patch, as kubectl
// rollout undo.
func (c *cluster) patchTemplate(ns, name string, tmpl *v1.PodTemplateSpec) {
	c.t.Helper()
	b, err := json.Marshal(tmpl)
	if err != nil {
		c.t.Fatal(err)
	}
	patch := fmt.Sprintf(`[{"op":"replace","path":"/spec/template","value":%s}]`, b)
	if _, err := c.client.AppsV1().Deployments(ns).Patch(context.Background(), name, types.JSONPatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

// ownedReplicaSets are the ReplicaSets d controls, oldest first.
func (c *cluster) ownedReplicaSets(d *appsv1.Deployment) []*appsv1.ReplicaSet {
	c.t.Helper()
	list, err := c.client.AppsV1().ReplicaSets(d.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	var out []*appsv1.ReplicaSet
	for i := range list.Items {
		rs := &list.Items[i]
		if ref := metav1.GetControllerOf(rs); ref != nil && ref.UID == d.UID && rs.DeletionTimestamp == nil {
			out = append(out, rs)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreationTimestamp.Equal(&out[j].CreationTimestamp) {
			return deployment.Revision(out[i]) < deployment.Revision(out[j])
		}
		return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp)
	})
	return out
}

// rolledOut waits until the Deployment reports a finished rollout of n
// replicas for its generation, and n pods are active.
func (c *cluster) rolledOut(ns, name string, n int32) {
	c.t.Helper()
	c.eventually(2*time.Minute, fmt.Sprintf("%s/%s rolled out at %d", ns, name, n), func() (bool, string) {
		d, err := c.client.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := d.Status
		p := deployment.GetCondition(st, appsv1.DeploymentProgressing)
		pods := c.activePods(ns, name)
		return st.ObservedGeneration == d.Generation && st.Replicas == n && st.UpdatedReplicas == n && st.AvailableReplicas == n &&
				st.ReadyReplicas == n && st.UnavailableReplicas == 0 && p != nil && p.Reason == deployment.ReasonNewRSAvailable && len(pods) == int(n),
			fmt.Sprintf("%d pods, status %+v", len(pods), st)
	})
}

func (c *cluster) eventMessages(ns, kind, name string) []string {
	list, err := c.client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == kind && e.InvolvedObject.Name == name {
			out = append(out, e.Message)
		}
	}
	return out
}

// podWatch follows the pods labelled app=<app> event by event and checks
// at every step that no more than maxPods are active and (unless
// minAvailable < 0) at least minAvailable are active and ready; with
// noMix, that pods of two templates are never active together.
type podWatch struct {
	maxPods, minAvailable int
	noMix                 bool

	cancel     context.CancelFunc
	done       chan struct{}
	mu         sync.Mutex
	steps      int
	violations []string
}

func (c *cluster) watchPods(ns, app string, maxPods, minAvailable int) *podWatch {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	list, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		c.t.Fatal(err)
	}
	wi, err := c.client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{LabelSelector: "app=" + app, ResourceVersion: list.ResourceVersion})
	if err != nil {
		c.t.Fatal(err)
	}
	w := &podWatch{maxPods: maxPods, minAvailable: minAvailable, cancel: cancel, done: make(chan struct{})}
	pods := map[string]*v1.Pod{}
	for i := range list.Items {
		pods[list.Items[i].Name] = &list.Items[i]
	}
	go func() {
		defer close(w.done)
		defer wi.Stop()
		for ev := range wi.ResultChan() {
			p, ok := ev.Object.(*v1.Pod)
			if !ok {
				continue
			}
			if ev.Type == watch.Deleted {
				delete(pods, p.Name)
			} else {
				pods[p.Name] = p
			}
			w.check(pods)
		}
	}()
	return w
}

func (w *podWatch) check(pods map[string]*v1.Pod) {
	activeN, ready := 0, 0
	hashes := map[string]bool{}
	for _, p := range pods {
		if !replicaset.IsActive(p) {
			continue
		}
		activeN++
		hashes[p.Labels[appsv1.DefaultDeploymentUniqueLabelKey]] = true
		if replicaset.IsReady(p) {
			ready++
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.steps++
	if activeN > w.maxPods {
		w.violations = append(w.violations, fmt.Sprintf("step %d: %d active pods > %d", w.steps, activeN, w.maxPods))
	}
	if w.minAvailable >= 0 && ready < w.minAvailable {
		w.violations = append(w.violations, fmt.Sprintf("step %d: %d ready pods < %d", w.steps, ready, w.minAvailable))
	}
	if w.noMix && len(hashes) > 1 {
		w.violations = append(w.violations, fmt.Sprintf("step %d: pods of %d templates active together", w.steps, len(hashes)))
	}
}

func (w *podWatch) stop(t *testing.T) {
	t.Helper()
	w.cancel()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, v := range w.violations {
		t.Error(v)
	}
}
