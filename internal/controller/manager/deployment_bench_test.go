package manager_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/controller/replicaset"
	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/scheduler"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// BenchmarkDeployment creates a Deployment of SKIFF_BENCH_REPLICAS
// (default 1000) pods on SKIFF_BENCH_NODES (default 20) simulated nodes,
// then changes its template, and reports the time until every pod exists,
// is bound and the Deployment has rolled out; then the time until the
// rolling update (25% surge and unavailable) has finished. The controller
// manager runs as its own process (`skiff controller-manager`, built from
// ./cmd/skiff, no client rate limit, no leader election) so that its CPU
// time (user+system from /proc/PID/stat) during each phase is its own;
// the API server, scheduler and kubelets run in the benchmark's process.
//
//	go test ./internal/controller/manager -run '^$' -bench Deployment -benchtime 1x
func BenchmarkDeployment(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc")
	}
	replicas := benchInt("SKIFF_BENCH_REPLICAS", 1000)
	nodes := benchInt("SKIFF_BENCH_NODES", 20)
	bin := filepath.Join(b.TempDir(), "skiff")
	build := exec.Command("go", "build", "-o", bin, "github.com/skiff-sh/skiff/cmd/skiff")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build skiff: %v\n%s", err, out)
	}
	for i := 0; i < b.N; i++ {
		plane := startBenchPlane(b, nodes)
		srv, client, ctx := plane.srv, plane.client, context.Background()
		port := testserver.FreePort(b)
		cm := exec.Command(bin, "controller-manager", "--kubeconfig", srv.Kubeconfig, "--leader-elect=false",
			"--kube-api-qps", "0", "--healthz-port", strconv.Itoa(port), "--bind-address", "127.0.0.1")
		if err := cm.Start(); err != nil {
			b.Fatal(err)
		}
		for !plane.ready() || !healthy(port) {
			time.Sleep(50 * time.Millisecond)
		}
		cpu0 := procCPU(b, cm.Process.Pid)
		start := time.Now()
		d := newDeployment("default", "bench", int32(replicas))
		if _, err := client.AppsV1().Deployments("default").Create(ctx, d, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
		created, bound := benchRollout(b, ctx, client, replicas, start)
		rolledOut := time.Since(start)
		cpu1 := procCPU(b, cm.Process.Pid)

		start = time.Now()
		patch := `{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"registry.example/app:2"}]}}}}`
		if _, err := client.AppsV1().Deployments("default").Patch(ctx, "bench", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
			b.Fatal(err)
		}
		benchRollout(b, ctx, client, replicas, start)
		updated := time.Since(start)
		cpu2 := procCPU(b, cm.Process.Pid)

		b.ReportMetric(created.Seconds(), "s-created")
		b.ReportMetric(bound.Seconds(), "s-bound")
		b.ReportMetric(rolledOut.Seconds(), "s-available")
		b.ReportMetric(cpu1-cpu0, "cpu-s-create")
		b.ReportMetric(updated.Seconds(), "s-update")
		b.ReportMetric(cpu2-cpu1, "cpu-s-update")
		_ = cm.Process.Kill()
		_ = cm.Wait()
		plane.stop()
	}
}

// benchPlane is the in-process part of a controller benchmark: an API
// server, the scheduler and simulated nodes with room for thousands of
// pods.
type benchPlane struct {
	srv    *testserver.Server
	client kubernetes.Interface
	// ready reports the scheduler and the nodes ready.
	ready func() bool
	// stop ends them all.
	stop func()
}

func startBenchPlane(b *testing.B, nodes int) *benchPlane {
	b.Helper()
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
	done := make(chan error, 2)
	go func() { done <- sched.Run(ctx) }()
	go func() { done <- fleet.Run(ctx) }()
	return &benchPlane{srv: srv, client: client,
		ready: func() bool { return sched.Ready() && fleet.Ready() },
		stop: func() {
			cancel()
			<-done
			<-done
			srv.Stop()
		}}
}

// benchRollout waits until the Deployment "bench" has rolled out (status
// complete for its generation, only active pods of the new template) and
// returns when all its pods existed and were bound (only meaningful for a
// fresh Deployment).
func benchRollout(b *testing.B, ctx context.Context, client kubernetes.Interface, replicas int, start time.Time) (created, bound time.Duration) {
	for {
		pods, err := client.CoreV1().Pods("default").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
		if err != nil {
			b.Fatal(err)
		}
		n, nb := 0, 0
		for i := range pods.Items {
			if !replicaset.IsActive(&pods.Items[i]) {
				continue
			}
			n++
			if pods.Items[i].Spec.NodeName != "" {
				nb++
			}
		}
		if created == 0 && n >= replicas {
			created = time.Since(start)
		}
		if bound == 0 && nb >= replicas {
			bound = time.Since(start)
		}
		d, err := client.AppsV1().Deployments("default").Get(ctx, "bench", metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		st, want := d.Status, int32(replicas)
		if os.Getenv("SKIFF_BENCH_TRACE") == "1" {
			rss, _ := client.AppsV1().ReplicaSets("default").List(ctx, metav1.ListOptions{ResourceVersion: "0"})
			var parts []string
			for _, rs := range rss.Items {
				parts = append(parts, fmt.Sprintf("%s spec %d status %d avail %d", rs.Name, *rs.Spec.Replicas, rs.Status.Replicas, rs.Status.AvailableReplicas))
			}
			fmt.Fprintf(os.Stderr, "%6.1fs: %d active pods (%d listed), %d bound; %s\n", time.Since(start).Seconds(), n, len(pods.Items), nb, strings.Join(parts, "; "))
		}
		if st.ObservedGeneration == d.Generation && st.Replicas == want && st.UpdatedReplicas == want && st.AvailableReplicas == want && n == replicas && bound != 0 {
			return created, bound
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("not rolled out in 10 minutes: %d active pods, %d bound, status %+v", n, nb, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func healthy(port int) bool {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// procCPU is a process's user+system CPU seconds from /proc/PID/stat
// (fields 14 and 15, in clock ticks of 1/100 s, Linux's USER_HZ).
func procCPU(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// The command name may hold spaces: fields start after its ')'.
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, err1 := strconv.ParseFloat(f[11], 64)
	stime, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("parse /proc/%d/stat: %q", pid, data)
	}
	return (utime + stime) / 100
}
