package manager_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/scheduler"
	"github.com/skiff-sh/skiff/internal/testserver"
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
		srv := testserver.Start(b, testserver.Options{})
		client := srv.Client(b)
		ctx, cancel := context.WithCancel(context.Background())
		sched, err := scheduler.New(scheduler.Config{RESTConfig: srv.Config})
		if err != nil {
			b.Fatal(err)
		}
		fleet, err := kubelet.NewFleet(kubelet.FleetConfig{Client: client, Nodes: nodes, NamePrefix: "bench-",
			Machine: kubelet.MachineInfo{CPUs: 64, MemoryBytes: 256 << 30, EphemeralStorageBytes: 1 << 40}})
		if err != nil {
			b.Fatal(err)
		}
		m, err := manager.New(manager.Config{RESTConfig: srv.Config})
		if err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 3)
		go func() { done <- sched.Run(ctx) }()
		go func() { done <- fleet.Run(ctx) }()
		go func() { done <- m.Run(ctx) }()
		for !sched.Ready() || !fleet.Ready() || !m.Ready() {
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
		for range 3 {
			<-done
		}
		srv.Stop()
	}
}
