package manager_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// A node whose kubelet never speaks (no kubelet at all) is marked
// unreachable after the grace period, tainted, and its pod evicted when
// its toleration runs out.
func TestSilentNodeIsTaintedAndItsPodsEvicted(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts a control plane")
	}
	srv := testserver.Start(t, testserver.Options{})
	client := srv.Client(t)
	ctx := context.Background()
	m, err := manager.New(manager.Config{RESTConfig: srv.Config, Controllers: []string{"nodelifecycle"}, NodeMonitorGracePeriod: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	c := &cluster{t: t, srv: srv, client: client}

	node := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "silent"}}
	if _, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "stranded", Namespace: "default"},
		Spec: v1.PodSpec{NodeName: "silent", Containers: []v1.Container{{Name: "c", Image: "registry.example/app:1"}},
			Tolerations: []v1.Toleration{{Key: v1.TaintNodeUnreachable, Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](1)}}},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.eventually(30*time.Second, "node unknown and tainted unreachable", func() (bool, string) {
		n, err := client.CoreV1().Nodes().Get(ctx, "silent", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		ready := ""
		for _, c := range n.Status.Conditions {
			if c.Type == v1.NodeReady {
				ready = string(c.Status) + " " + c.Reason
			}
		}
		tainted := false
		for _, x := range n.Spec.Taints {
			tainted = tainted || (x.Key == v1.TaintNodeUnreachable && x.Effect == v1.TaintEffectNoExecute)
		}
		return ready == "Unknown NodeStatusNeverUpdated" && tainted, fmt.Sprintf("ready %q taints %v", ready, n.Spec.Taints)
	})
	c.eventually(30*time.Second, "pod evicted after its toleration", func() (bool, string) {
		p, err := client.CoreV1().Pods("default").Get(ctx, "stranded", metav1.GetOptions{})
		if err != nil {
			return true, err.Error()
		}
		return p.DeletionTimestamp != nil, "not marked for deletion"
	})
}
