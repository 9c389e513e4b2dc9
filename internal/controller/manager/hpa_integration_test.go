package manager_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/controller/podautoscaler"
	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/pki"
	"github.com/skiff-sh/skiff/internal/scheduler"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// The simulated runtime reports 1-10 millicores per container: pods that
// request 1m are at 100-1000% of their request, so an autoscaler with a
// 50% target scales them up to its maximum, and one with a 100m average
// target scales them down to its minimum.
func TestHorizontalPodAutoscaler(t *testing.T) {
	c := startMetricsCluster(t)
	ctx := context.Background()
	ns := "hpa-test"
	c.namespace(ns)
	rs := replicaSet(ns, "web", 1)
	rs.Spec.Template.Spec.Containers[0].Resources.Requests = v1.ResourceList{v1.ResourceCPU: resource.MustParse("1m")}
	if _, err := c.client.AppsV1().ReplicaSets(ns).Create(ctx, rs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.settled(ns, "web", 1)
	k := kubectlFor(t, c)

	// kubectl 1.32 posts an autoscaling/v1 object, served as a view of v2.
	k("autoscale", "rs/web", "-n", ns, "--min=1", "--max=3", "--cpu-percent=50")
	c.scaledTo(ns, "web", 3)
	c.eventually(time.Minute, "the autoscaler's status", func() (bool, string) {
		hpa, err := c.client.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		st := hpa.Status
		conds := map[autoscalingv2.HorizontalPodAutoscalerConditionType]string{}
		for _, x := range st.Conditions {
			conds[x.Type] = string(x.Status) + "/" + x.Reason
		}
		ok := st.CurrentReplicas == 3 && st.DesiredReplicas == 3 && st.LastScaleTime != nil && len(st.CurrentMetrics) == 1 &&
			st.CurrentMetrics[0].Resource != nil && st.CurrentMetrics[0].Resource.Current.AverageUtilization != nil &&
			*st.CurrentMetrics[0].Resource.Current.AverageUtilization >= 100 &&
			conds[autoscalingv2.ScalingActive] == "True/ValidMetricFound" && conds[autoscalingv2.ScalingLimited] == "True/TooManyReplicas"
		return ok, fmt.Sprintf("%+v", st)
	})
	if out := k("api-versions"); !strings.Contains(out, "autoscaling/v1\nautoscaling/v2\n") {
		t.Errorf("api-versions:\n%s", out)
	}
	if out := k("api-resources", "--api-group=autoscaling"); !strings.Contains(out, "autoscaling/v2") || strings.Contains(out, "autoscaling/v1") {
		t.Errorf("api-resources must list v2, the preferred version:\n%s", out)
	}
	out := k("get", "hpa", "web", "-n", ns)
	if !strings.Contains(out, "ReplicaSet/web") || !strings.Contains(out, "/50%") {
		t.Errorf("kubectl get hpa:\n%s", out)
	}
	c.eventually(30*time.Second, "a SuccessfulRescale event", func() (bool, string) {
		evs, err := c.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		var seen []string
		for _, e := range evs.Items {
			if e.Reason == podautoscaler.ReasonSuccessfulRescale && e.Source.Component == podautoscaler.EventSource {
				if strings.HasPrefix(e.Message, "New size: 3; reason: cpu resource utilization (percentage of request) above target") {
					return true, ""
				}
			}
			seen = append(seen, e.Reason+": "+e.Message)
		}
		return false, strings.Join(seen, "\n")
	})

	// An average of 100m is far above what they use: down to the
	// minimum once the new pods have metrics (no stabilization window).
	hpa, err := c.client.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hpa.Spec.Metrics[0].Resource.Target = autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: ptr.To(resource.MustParse("100m"))}
	hpa.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](0)}}
	if _, err := c.client.AutoscalingV2().HorizontalPodAutoscalers(ns).Update(ctx, hpa, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.scaledTo(ns, "web", 1)
}

// scaledTo waits, longer than settled (new pods wait for the API
// server's next metrics scrape, every 15 s), until the autoscaler has
// brought the ReplicaSet to n ready replicas.
func (c *cluster) scaledTo(ns, name string, n int32) {
	c.t.Helper()
	start := time.Now()
	c.eventually(3*time.Minute, fmt.Sprintf("%s/%s scaled to %d", ns, name, n), func() (bool, string) {
		rs, err := c.client.AppsV1().ReplicaSets(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return *rs.Spec.Replicas == n && rs.Status.ReadyReplicas == n && rs.Status.Replicas == n, fmt.Sprintf("spec %d, status %+v", *rs.Spec.Replicas, rs.Status)
	})
	c.t.Logf("scaled to %d after %v", n, time.Since(start).Round(100*time.Millisecond))
}

// startMetricsCluster is a control plane with a scheduler, two simulated
// nodes whose kubelets serve /metrics/resource to the API server, and a
// controller manager running the ReplicaSet controller and the
// autoscaler with a 1 s sync period.
func startMetricsCluster(t *testing.T) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: starts a control plane")
	}
	srv := testserver.Start(t, testserver.Options{})
	client := srv.Client(t)
	c := &cluster{t: t, srv: srv, client: client, stops: map[string]func(){}}
	ctx, cancel := context.WithCancel(context.Background())
	var done []chan error
	run := func(fn func(context.Context) error) {
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
	run(sched.Run)
	ca := filepath.Join(srv.DataDir, "pki", pki.CACertFile)
	c.startFleet("hpa-", 2, func(i int, cfg *kubelet.Config) {
		cfg.ServerPort = testserver.FreePort(t)
		cfg.ClientCAFile = ca
		cfg.CertDir = t.TempDir()
	})
	m, err := manager.New(manager.Config{RESTConfig: srv.Config, Controllers: []string{"replicaset", "horizontalpodautoscaling"},
		HPASyncPeriod: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	run(m.Run)
	c.eventually(time.Minute, "scheduler and controllers ready", func() (bool, string) {
		return sched.Ready() && m.Ready(), fmt.Sprintf("scheduler %v manager %v", sched.Ready(), m.Ready())
	})
	return c
}
