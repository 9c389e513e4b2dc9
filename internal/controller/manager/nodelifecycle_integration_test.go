package manager_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// A node whose kubelet never speaks (no kubelet at all) is marked
// unreachable after the grace period, tainted, and its pod evicted when
// its toleration runs out. Another node stays healthy: were every node
// down, the controller would taint none (upstream's master disruption
// mode).
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
	keepHealthy(t, client, "healthy")

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

// keepHealthy registers a node that is Ready and renews its Lease every
// 500 ms, as a kubelet would, until the test ends.
func keepHealthy(t *testing.T, client kubernetes.Interface, name string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	n, err := client.CoreV1().Nodes().Create(ctx, &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady",
		LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}}
	if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: v1.NamespaceNodeLease},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(name), RenewTime: &metav1.MicroTime{Time: time.Now()}}}
	if lease, err = client.CoordinationV1().Leases(v1.NamespaceNodeLease).Create(ctx, lease, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
			lease.Spec.RenewTime = &metav1.MicroTime{Time: time.Now()}
			if l, err := client.CoordinationV1().Leases(v1.NamespaceNodeLease).Update(ctx, lease, metav1.UpdateOptions{}); err == nil {
				lease = l
			}
		}
	}()
}
