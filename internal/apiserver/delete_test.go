package apiserver

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestGraceFor(t *testing.T) {
	scheduled := corev1.PodSpec{NodeName: "n1", TerminationGracePeriodSeconds: ptr.To[int64](45)}
	tests := []struct {
		name      string
		obj       *corev1.Pod
		requested *int64
		want      int64
	}{
		{"unscheduled pods go at once", &corev1.Pod{}, nil, 0},
		{"scheduled pods take their grace period", &corev1.Pod{Spec: scheduled}, nil, 45},
		{"a requested grace period wins", &corev1.Pod{Spec: scheduled}, ptr.To[int64](5), 5},
		{"finished pods go at once", &corev1.Pod{Spec: scheduled, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}}, nil, 0},
		{"default is 30s", &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1"}}, nil, 30},
	}
	for _, tt := range tests {
		if got := graceFor(tt.obj, tt.requested); got != tt.want {
			t.Errorf("%s: graceFor = %d, want %d", tt.name, got, tt.want)
		}
	}
	if got := graceFor(&corev1.ConfigMap{}, ptr.To[int64](10)); got != 0 {
		t.Errorf("non-pods have no grace period, got %d", got)
	}
}

func TestMarkDeletion(t *testing.T) {
	now := time.Unix(1000, 0)
	res := newResourceTable(servedResources()).lookup("", "v1", "pods")
	pod := &corev1.Pod{Spec: corev1.PodSpec{NodeName: "n1", TerminationGracePeriodSeconds: ptr.To[int64](30)}}
	if !markDeletion(res, pod, deleteOptions{propagation: metav1.DeletePropagationForeground}, now) {
		t.Fatal("first delete must change the pod")
	}
	if pod.DeletionTimestamp.Unix() != 1030 || *pod.DeletionGracePeriodSeconds != 30 {
		t.Errorf("marks = %v %v", pod.DeletionTimestamp, *pod.DeletionGracePeriodSeconds)
	}
	if len(pod.Finalizers) != 1 || pod.Finalizers[0] != metav1.FinalizerDeleteDependents {
		t.Errorf("finalizers = %v", pod.Finalizers)
	}
	if markDeletion(res, pod, deleteOptions{grace: ptr.To[int64](60)}, now) {
		t.Error("a longer grace period must not change a deleting pod")
	}
	if !markDeletion(res, pod, deleteOptions{grace: ptr.To[int64](0)}, now) || *pod.DeletionGracePeriodSeconds != 0 {
		t.Error("a shorter grace period must shorten it")
	}
	ns := &corev1.Namespace{Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}}
	nsRes := newResourceTable(servedResources()).lookup("", "v1", "namespaces")
	markDeletion(nsRes, ns, deleteOptions{}, now)
	if ns.Status.Phase != corev1.NamespaceTerminating || !namespaceHeld(ns) {
		t.Errorf("namespace phase = %q", ns.Status.Phase)
	}
}
