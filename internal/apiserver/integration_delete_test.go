package apiserver_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestIntegrationDelete covers graceful deletion, finalizers,
// preconditions, propagation policies and namespaces.
func TestIntegrationDelete(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	c := s.Client(t)

	t.Run("GracefulPods", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		scheduled := testPod("scheduled")
		scheduled.Spec.NodeName = "n1"
		scheduled.Spec.TerminationGracePeriodSeconds = ptr(int64(45))
		if _, err := c.CoreV1().Pods(ns).Create(bg(), scheduled, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		w, err := c.CoreV1().Pods(ns).Watch(bg(), metav1.ListOptions{FieldSelector: "metadata.name=scheduled"})
		if err != nil {
			t.Fatal(err)
		}
		rec := record(w)
		defer rec.stop()
		rec.waitCount(t, 1)

		before := time.Now().Truncate(time.Second)
		if err := c.CoreV1().Pods(ns).Delete(bg(), "scheduled", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := c.CoreV1().Pods(ns).Get(bg(), "scheduled", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("a pod on a node went at once: %v", err)
		}
		if got.DeletionTimestamp == nil || got.DeletionGracePeriodSeconds == nil || *got.DeletionGracePeriodSeconds != 45 {
			t.Fatalf("deletion marks = %v %v", got.DeletionTimestamp, got.DeletionGracePeriodSeconds)
		}
		if got.Generation != 2 {
			t.Errorf("generation after the delete started = %d, want 2", got.Generation)
		}
		if d := got.DeletionTimestamp.Sub(before); d < 44*time.Second || d > 50*time.Second {
			t.Errorf("deletionTimestamp is %v after the delete, want about 45s", d)
		}
		// A second delete with a longer grace period changes nothing.
		if err := c.CoreV1().Pods(ns).Delete(bg(), "scheduled", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(100))}); err != nil {
			t.Fatal(err)
		}
		again, _ := c.CoreV1().Pods(ns).Get(bg(), "scheduled", metav1.GetOptions{})
		if *again.DeletionGracePeriodSeconds != 45 || again.ResourceVersion != got.ResourceVersion {
			t.Errorf("a longer grace period changed the pod: %d rv %s→%s", *again.DeletionGracePeriodSeconds, got.ResourceVersion, again.ResourceVersion)
		}
		// A shorter one shortens it.
		if err := c.CoreV1().Pods(ns).Delete(bg(), "scheduled", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(10))}); err != nil {
			t.Fatal(err)
		}
		again, _ = c.CoreV1().Pods(ns).Get(bg(), "scheduled", metav1.GetOptions{})
		if *again.DeletionGracePeriodSeconds != 10 {
			t.Errorf("grace period = %d, want 10", *again.DeletionGracePeriodSeconds)
		}
		// Updates may not touch the marks.
		again.DeletionTimestamp = nil
		again.Labels = map[string]string{"still": "writable"}
		upd, err := c.CoreV1().Pods(ns).Update(bg(), again, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if upd.DeletionTimestamp == nil || upd.Labels["still"] != "writable" {
			t.Errorf("update of a terminating pod: %v %v", upd.DeletionTimestamp, upd.Labels)
		}
		// gracePeriodSeconds=0 removes it.
		if err := c.CoreV1().Pods(ns).Delete(bg(), "scheduled", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().Pods(ns).Get(bg(), "scheduled", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("after grace 0: %v", err)
		}
		evs := rec.waitFor(t, "DELETED", func(evs []watch.Event) bool {
			return slices.Contains(eventSummary(evs), "DELETED scheduled")
		})
		if got := strings.Join(eventSummary(evs), ";"); !strings.HasPrefix(got, "ADDED scheduled;MODIFIED scheduled") || !strings.HasSuffix(got, "DELETED scheduled") {
			t.Errorf("watch saw %s", got)
		}

		// Unscheduled pods go at once.
		if _, err := c.CoreV1().Pods(ns).Create(bg(), testPod("pending"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.CoreV1().Pods(ns).Delete(bg(), "pending", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().Pods(ns).Get(bg(), "pending", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("unscheduled pod after delete: %v", err)
		}
		// Finished pods go at once too.
		done := testPod("done")
		done.Spec.NodeName = "n1"
		p, err := c.CoreV1().Pods(ns).Create(bg(), done, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Status.Phase = corev1.PodSucceeded
		if _, err := c.CoreV1().Pods(ns).UpdateStatus(bg(), p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.CoreV1().Pods(ns).Delete(bg(), "done", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().Pods(ns).Get(bg(), "done", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("succeeded pod after delete: %v", err)
		}
		// The kubelet's way out: status update then delete with grace 0 and a uid precondition.
		k := testPod("kubelet")
		k.Spec.NodeName = "n1"
		kp, err := c.CoreV1().Pods(ns).Create(bg(), k, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := c.CoreV1().Pods(ns).Delete(bg(), "kubelet", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.CoreV1().Pods(ns).Delete(bg(), "kubelet", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0)), Preconditions: &metav1.Preconditions{UID: &kp.UID}}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().Pods(ns).Get(bg(), "kubelet", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("kubelet pod after final delete: %v", err)
		}
	})

	t.Run("Finalizers", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		cm := testConfigMap("held", nil)
		cm.Finalizers = []string{"example.com/a", "example.com/b"}
		if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		var resp corev1.ConfigMap
		result := c.CoreV1().RESTClient().Delete().Namespace(ns).Resource("configmaps").Name("held").Do(bg())
		var code int
		result.StatusCode(&code)
		if err := result.Into(&resp); err != nil {
			t.Fatal(err)
		}
		if code != 200 || resp.DeletionTimestamp == nil || *resp.DeletionGracePeriodSeconds != 0 {
			t.Errorf("delete of a finalized object: %d %v %v", code, resp.DeletionTimestamp, resp.DeletionGracePeriodSeconds)
		}
		got, err := c.CoreV1().ConfigMaps(ns).Get(bg(), "held", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("finalizers did not keep the object: %v", err)
		}
		// New finalizers may not be added once deleting? upstream allows
		// removing only; adding is forbidden by validation.
		got.Finalizers = []string{"example.com/a"}
		got, err = c.CoreV1().ConfigMaps(ns).Update(bg(), got, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.DeletionTimestamp == nil {
			t.Errorf("deletionTimestamp lost")
		}
		// Deleting again changes nothing.
		if err := c.CoreV1().ConfigMaps(ns).Delete(bg(), "held", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		again, _ := c.CoreV1().ConfigMaps(ns).Get(bg(), "held", metav1.GetOptions{})
		if again.ResourceVersion != got.ResourceVersion {
			t.Errorf("a repeated delete wrote: %s→%s", got.ResourceVersion, again.ResourceVersion)
		}
		// Emptying the finalizers with a patch deletes it.
		if _, err := c.CoreV1().ConfigMaps(ns).Patch(bg(), "held", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().ConfigMaps(ns).Get(bg(), "held", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("after emptying finalizers: %v", err)
		}
		// Through an update too.
		cm = testConfigMap("held2", nil)
		cm.Finalizers = []string{"example.com/a"}
		if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.CoreV1().ConfigMaps(ns).Delete(bg(), "held2", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		got, _ = c.CoreV1().ConfigMaps(ns).Get(bg(), "held2", metav1.GetOptions{})
		got.Finalizers = nil
		if _, err := c.CoreV1().ConfigMaps(ns).Update(bg(), got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().ConfigMaps(ns).Get(bg(), "held2", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("after emptying finalizers by update: %v", err)
		}
		// A terminating pod with a finalizer stays after grace 0 until the finalizer goes.
		p := testPod("fp")
		p.Spec.NodeName = "n1"
		p.Finalizers = []string{"example.com/x"}
		if _, err := c.CoreV1().Pods(ns).Create(bg(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.CoreV1().Pods(ns).Delete(bg(), "fp", metav1.DeleteOptions{GracePeriodSeconds: ptr(int64(0))}); err != nil {
			t.Fatal(err)
		}
		fp, err := c.CoreV1().Pods(ns).Get(bg(), "fp", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("finalized pod gone: %v", err)
		}
		if _, err := c.CoreV1().Pods(ns).Patch(bg(), "fp", types.JSONPatchType, []byte(`[{"op":"remove","path":"/metadata/finalizers"}]`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().Pods(ns).Get(bg(), "fp", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("finalized pod after removing finalizers (grace %v): %v", fp.DeletionGracePeriodSeconds, err)
		}
	})

	t.Run("Preconditions", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		cm, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("pre", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		wrongUID := types.UID("00000000-0000-0000-0000-000000000000")
		err = c.CoreV1().ConfigMaps(ns).Delete(bg(), "pre", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &wrongUID}})
		st := wantStatus(t, err, 409, metav1.StatusReasonConflict)
		want := `Operation cannot be fulfilled on configmaps "pre": Precondition failed: UID in precondition: 00000000-0000-0000-0000-000000000000, UID in object meta: ` + string(cm.UID)
		if st.Message != want {
			t.Errorf("uid precondition message = %q\nwant %q", st.Message, want)
		}
		staleRV := "1"
		err = c.CoreV1().ConfigMaps(ns).Delete(bg(), "pre", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &staleRV}})
		st = wantStatus(t, err, 409, metav1.StatusReasonConflict)
		want = `Operation cannot be fulfilled on configmaps "pre": Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta: ` + cm.ResourceVersion
		if st.Message != want {
			t.Errorf("rv precondition message = %q\nwant %q", st.Message, want)
		}
		if _, err := c.CoreV1().ConfigMaps(ns).Get(bg(), "pre", metav1.GetOptions{}); err != nil {
			t.Fatalf("failed precondition deleted: %v", err)
		}
		if err := c.CoreV1().ConfigMaps(ns).Delete(bg(), "pre", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &cm.UID, ResourceVersion: &cm.ResourceVersion}}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Propagation", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		for _, tc := range []struct {
			name      string
			policy    metav1.DeletionPropagation
			finalizer string
			code      int
		}{
			// Upstream answers 202 only to the deprecated orphanDependents=false.
			{"fg", metav1.DeletePropagationForeground, metav1.FinalizerDeleteDependents, 200},
			{"orphan", metav1.DeletePropagationOrphan, metav1.FinalizerOrphanDependents, 200},
		} {
			if _, err := c.AppsV1().Deployments(ns).Create(bg(), testDeployment(tc.name), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			result := c.AppsV1().RESTClient().Delete().Namespace(ns).Resource("deployments").Name(tc.name).
				Body(&metav1.DeleteOptions{PropagationPolicy: &tc.policy}).Do(bg())
			var code int
			result.StatusCode(&code)
			if err := result.Error(); err != nil {
				t.Fatal(err)
			}
			if code != tc.code {
				t.Errorf("%s delete code = %d, want %d", tc.policy, code, tc.code)
			}
			got, err := c.AppsV1().Deployments(ns).Get(bg(), tc.name, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("%s: object gone: %v", tc.policy, err)
			}
			if got.DeletionTimestamp == nil || !slices.Contains(got.Finalizers, tc.finalizer) {
				t.Errorf("%s: finalizers %v deletionTimestamp %v", tc.policy, got.Finalizers, got.DeletionTimestamp)
			}
			if got.Generation != 2 || *got.DeletionGracePeriodSeconds != 0 {
				t.Errorf("%s: generation %d grace %d, want 2 and 0", tc.policy, got.Generation, *got.DeletionGracePeriodSeconds)
			}
			// The garbage collector would remove the finalizer; here we do.
			if _, err := c.AppsV1().Deployments(ns).Patch(bg(), tc.name, types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.AppsV1().Deployments(ns).Get(bg(), tc.name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("%s: after removing finalizer: %v", tc.policy, err)
			}
		}
		// orphanDependents=false on an object that stays: 202.
		held := testDeployment("held")
		held.Finalizers = []string{"example.com/x"}
		if _, err := c.AppsV1().Deployments(ns).Create(bg(), held, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		result := c.AppsV1().RESTClient().Delete().Namespace(ns).Resource("deployments").Name("held").
			Body(&metav1.DeleteOptions{OrphanDependents: ptr(false)}).Do(bg())
		var code int
		result.StatusCode(&code)
		if err := result.Error(); err != nil || code != 202 {
			t.Errorf("orphanDependents=false delete: %d %v", code, err)
		}
		// Background removes at once.
		if _, err := c.AppsV1().Deployments(ns).Create(bg(), testDeployment("bg"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		bgp := metav1.DeletePropagationBackground
		if err := c.AppsV1().Deployments(ns).Delete(bg(), "bg", metav1.DeleteOptions{PropagationPolicy: &bgp}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.AppsV1().Deployments(ns).Get(bg(), "bg", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("background: %v", err)
		}
		// An unknown policy is 422.
		bad := metav1.DeletionPropagation("Sideways")
		if _, err := c.AppsV1().Deployments(ns).Create(bg(), testDeployment("bad"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		err := c.AppsV1().Deployments(ns).Delete(bg(), "bad", metav1.DeleteOptions{PropagationPolicy: &bad})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid)
		// Orphan via the deprecated orphanDependents flag.
		err = c.AppsV1().Deployments(ns).Delete(bg(), "bad", metav1.DeleteOptions{OrphanDependents: ptr(true)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.AppsV1().Deployments(ns).Get(bg(), "bad", metav1.GetOptions{})
		if err != nil || !slices.Contains(got.Finalizers, metav1.FinalizerOrphanDependents) {
			t.Errorf("orphanDependents=true: %v %v", got, err)
		}
	})

	t.Run("Namespaces", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		got, err := c.CoreV1().Namespaces().Get(bg(), ns, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.Phase != corev1.NamespaceActive || !slices.Contains(got.Spec.Finalizers, corev1.FinalizerKubernetes) ||
			got.Labels["kubernetes.io/metadata.name"] != ns {
			t.Errorf("new namespace = %+v", got)
		}
		if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("inside", nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := c.CoreV1().Namespaces().Delete(bg(), ns, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err = c.CoreV1().Namespaces().Get(bg(), ns, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("namespace gone before its controller ran: %v", err)
		}
		if got.Status.Phase != corev1.NamespaceTerminating || got.DeletionTimestamp == nil {
			t.Errorf("deleted namespace = phase %s deletionTimestamp %v", got.Status.Phase, got.DeletionTimestamp)
		}
		// New content is refused with upstream's 403.
		_, err = c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("late", nil), metav1.CreateOptions{})
		st := wantStatus(t, err, 403, metav1.StatusReasonForbidden)
		want := `configmaps "late" is forbidden: unable to create new content in namespace ` + ns + ` because it is being terminated`
		if st.Message != want {
			t.Errorf("message = %q\nwant      %q", st.Message, want)
		}
		if st.Details == nil || st.Details.Name != "late" || st.Details.Kind != "configmaps" || len(st.Details.Causes) != 1 ||
			st.Details.Causes[0].Type != corev1.NamespaceTerminatingCause || st.Details.Causes[0].Field != "metadata.namespace" {
			t.Errorf("details = %+v", st.Details)
		}
		// Existing content may still change.
		if _, err := c.CoreV1().ConfigMaps(ns).Patch(bg(), "inside", types.MergePatchType, []byte(`{"data":{"a":"b"}}`), metav1.PatchOptions{}); err != nil {
			t.Errorf("update inside a terminating namespace: %v", err)
		}
		// The namespace controller's finalize then delete removes it.
		got.Spec.Finalizers = nil
		if _, err := c.CoreV1().Namespaces().Finalize(bg(), got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().Namespaces().Get(bg(), ns, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("after finalize: %v", err)
		}

		// A missing namespace: 404 naming the namespace.
		_, err = c.CoreV1().ConfigMaps("no-such-ns").Create(bg(), testConfigMap("x", nil), metav1.CreateOptions{})
		st = wantStatus(t, err, 404, metav1.StatusReasonNotFound)
		if st.Message != `namespaces "no-such-ns" not found` {
			t.Errorf("missing namespace message = %q", st.Message)
		}
		// System namespaces exist.
		for _, n := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
			if _, err := c.CoreV1().Namespaces().Get(bg(), n, metav1.GetOptions{}); err != nil {
				t.Errorf("namespace %s: %v", n, err)
			}
		}
	})
}
