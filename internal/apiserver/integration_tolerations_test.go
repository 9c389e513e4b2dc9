package apiserver_test

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestIntegrationDefaultTolerationSeconds: upstream's DefaultTolerationSeconds
// admission gives a pod that does not tolerate them five minutes on a
// not-ready or unreachable node, on create and on update.
func TestIntegrationDefaultTolerationSeconds(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	c := s.Client(t)
	ns := newNamespace(t, c)
	const defaults = "[node.kubernetes.io/not-ready:Exists:NoExecute:300 node.kubernetes.io/unreachable:Exists:NoExecute:300]"

	got, err := c.CoreV1().Pods(ns).Create(bg(), testPod("plain"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s := tolerationsString(got.Spec.Tolerations); s != defaults {
		t.Errorf("tolerations %s, want %s", s, defaults)
	}

	// A pod tolerating every NoExecute taint gets nothing more; one
	// tolerating not-ready for 60 s keeps it and gets unreachable.
	all := testPod("tolerates-all")
	all.Spec.Tolerations = []corev1.Toleration{{Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}}
	if got, err = c.CoreV1().Pods(ns).Create(bg(), all, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(got.Spec.Tolerations) != 1 {
		t.Errorf("tolerations %s, want the pod's one", tolerationsString(got.Spec.Tolerations))
	}
	short := testPod("short")
	short.Spec.Tolerations = []corev1.Toleration{{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr(int64(60))}}
	if got, err = c.CoreV1().Pods(ns).Create(bg(), short, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "[node.kubernetes.io/not-ready:Exists:NoExecute:60 node.kubernetes.io/unreachable:Exists:NoExecute:300]"
	if s := tolerationsString(got.Spec.Tolerations); s != want {
		t.Errorf("tolerations %s, want %s", s, want)
	}

	// An update that leaves them out (a replace with the pod's original
	// manifest) gets them back, so that it does not remove tolerations.
	plain, err := c.CoreV1().Pods(ns).Get(bg(), "plain", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plain.Spec.Tolerations = nil
	plain.Labels = map[string]string{"replaced": "yes"}
	if got, err = c.CoreV1().Pods(ns).Update(bg(), plain, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if s := tolerationsString(got.Spec.Tolerations); s != defaults {
		t.Errorf("after update: tolerations %s", s)
	}
}

func tolerationsString(ts []corev1.Toleration) string {
	s := "["
	for i, t := range ts {
		if i > 0 {
			s += " "
		}
		secs := "nil"
		if t.TolerationSeconds != nil {
			secs = fmt.Sprint(*t.TolerationSeconds)
		}
		s += fmt.Sprintf("%s:%s:%s:%s", t.Key, t.Operator, t.Effect, secs)
	}
	return s + "]"
}
