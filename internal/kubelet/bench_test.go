package kubelet

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/kubelet/simruntime"
	"github.com/skiff-sh/skiff/internal/testserver"
)

func benchInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func liveBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse
}

// BenchmarkSimulatedNodes starts SKIFF_BENCH_NODES (default 500) simulated
// kubelets in this process against an in-process control plane, waits for
// every node to be Ready, lets them renew their leases and report status
// for a few seconds, and reports the live heap and stacks they added per
// node. The API server's own cost of each node (its watch of the node's
// pods, the objects it stores) is included: this is an upper bound of a
// kubelet's share.
//
//	go test ./internal/kubelet -run '^$' -bench SimulatedNodes -benchtime 1x
func BenchmarkSimulatedNodes(b *testing.B) {
	n := benchInt("SKIFF_BENCH_NODES", 500)
	for i := 0; i < b.N; i++ {
		srv := testserver.Start(b, testserver.Options{})
		client := srv.Client(b)
		before := liveBytes()
		goroutines := runtime.NumGoroutine()
		fleet, err := NewFleet(FleetConfig{Client: client, Nodes: n, NamePrefix: fmt.Sprintf("bench%d-", i)})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- fleet.Run(ctx) }()
		for !fleet.Ready() {
			time.Sleep(20 * time.Millisecond)
		}
		readyIn := time.Since(start)
		time.Sleep(12 * time.Second) // a status update and a lease renewal each
		after := liveBytes()
		perNode := float64(after-before) / float64(n)
		b.ReportMetric(perNode, "live-B/node")
		b.ReportMetric(float64(runtime.NumGoroutine()-goroutines)/float64(n), "goroutines/node")
		b.ReportMetric(readyIn.Seconds(), "s-to-ready")
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		srv.Stop()
	}
}

// BenchmarkPodStartup creates SKIFF_BENCH_PODS (default 30) pods bound to
// one simulated node at once and measures, per pod, the time from its
// create call to Running seen on a watch (image already present).
//
//	go test ./internal/kubelet -run '^$' -bench PodStartup -benchtime 1x
func BenchmarkPodStartup(b *testing.B) {
	pods := benchInt("SKIFF_BENCH_PODS", 30)
	srv := testserver.Start(b, testserver.Options{})
	client := srv.Client(b)
	rt, err := simruntime.New(simruntime.Config{PodCIDR: "10.42.0.0/24", Images: []string{"nginx:1.27"}})
	if err != nil {
		b.Fatal(err)
	}
	k, err := New(Config{
		Client: client, NodeName: "bench-node", Runtime: rt, Images: rt, ProbeDialer: rt.DialContext,
		Machine: SimulatedMachine(MachineInfo{}), NodeIP: "127.0.0.1", PodCIDR: "10.42.0.0/24",
		PodsDir: b.TempDir(), NoTmpfs: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = k.Run(ctx) }()
	for !k.Ready() {
		time.Sleep(10 * time.Millisecond)
	}
	var all []time.Duration
	for i := 0; i < b.N; i++ {
		ns := fmt.Sprintf("startup-%d", i)
		if _, err := client.CoreV1().Namespaces().Create(ctx, &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		w, err := client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		created := map[string]time.Time{}
		running := map[string]time.Duration{}
		for p := 0; p < pods; p++ {
			pod := &v1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p%03d", p), Namespace: ns},
				Spec: v1.PodSpec{NodeName: "bench-node", Containers: []v1.Container{
					{Name: "app", Image: "nginx:1.27", ImagePullPolicy: v1.PullIfNotPresent},
				}},
			}
			created[pod.Name] = time.Now()
			if _, err := client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		timeout := time.After(time.Minute)
		for len(running) < pods {
			select {
			case ev := <-w.ResultChan():
				if ev.Type != watch.Modified && ev.Type != watch.Added {
					continue
				}
				p, ok := ev.Object.(*v1.Pod)
				if !ok || p.Status.Phase != v1.PodRunning {
					continue
				}
				if _, seen := running[p.Name]; !seen {
					running[p.Name] = time.Since(created[p.Name])
				}
			case <-timeout:
				list, _ := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
				phases := map[v1.PodPhase]int{}
				var sample *v1.Pod
				for i := range list.Items {
					phases[list.Items[i].Status.Phase]++
					if list.Items[i].Status.Phase != v1.PodRunning {
						sample = &list.Items[i]
					}
				}
				if sample != nil {
					b.Logf("not running: %s status %+v", sample.Name, sample.Status)
				}
				b.Fatalf("%d of %d pods Running after a minute (watch); phases %v", len(running), pods, phases)
			}
		}
		w.Stop()
		for _, d := range running {
			all = append(all, d)
		}
		// Free the node (its IPs, its pods capacity) for the next round.
		b.StopTimer()
		if err := client.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			b.Fatal(err)
		}
		for {
			list, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if len(list.Items) == 0 {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		b.StartTimer()
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
}
