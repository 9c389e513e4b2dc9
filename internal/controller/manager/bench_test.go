package manager_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller/manager"
)

func benchInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkReplicaSetScaleUp creates a ReplicaSet of SKIFF_BENCH_REPLICAS
// (default 1000) pods on SKIFF_BENCH_NODES (default 20) simulated nodes
// and reports the time until every pod exists, until every pod is bound,
// and until the ReplicaSet reports them all ready.
//
//	go test ./internal/controller/manager -run '^$' -bench ReplicaSetScaleUp -benchtime 1x
func BenchmarkReplicaSetScaleUp(b *testing.B) {
	replicas := benchInt("SKIFF_BENCH_REPLICAS", 1000)
	nodes := benchInt("SKIFF_BENCH_NODES", 20)
	for i := 0; i < b.N; i++ {
		plane := startBenchPlane(b, nodes)
		client := plane.client
		ctx, cancel := context.WithCancel(context.Background())
		m, err := manager.New(manager.Config{RESTConfig: plane.srv.Config})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx) }()
		for !plane.ready() || !m.Ready() {
			time.Sleep(50 * time.Millisecond)
		}
		start := time.Now()
		rs := replicaSet("default", "bench", int32(replicas))
		if _, err := client.AppsV1().ReplicaSets("default").Create(ctx, rs, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		var created, bound time.Duration
		for {
			pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
			if err != nil {
				b.Fatal(err)
			}
			nb := 0
			for _, p := range pods.Items {
				if p.Spec.NodeName != "" {
					nb++
				}
			}
			if created == 0 && len(pods.Items) >= replicas {
				created = time.Since(start)
			}
			if bound == 0 && nb >= replicas {
				bound = time.Since(start)
			}
			got, err := client.AppsV1().ReplicaSets("default").Get(ctx, "bench", metav1.GetOptions{})
			if err == nil && bound != 0 && got.Status.ReadyReplicas == int32(replicas) {
				break
			}
			if time.Since(start) > 10*time.Minute {
				b.Fatalf("not done in 10 minutes: %d pods, %d bound", len(pods.Items), nb)
			}
			time.Sleep(200 * time.Millisecond)
		}
		b.ReportMetric(created.Seconds(), "s-created")
		b.ReportMetric(bound.Seconds(), "s-bound")
		b.ReportMetric(time.Since(start).Seconds(), "s-ready")
		cancel()
		<-done
		plane.stop()
	}
}
