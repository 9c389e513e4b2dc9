package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// TestRunSmall runs every phase at a small scale against a real in-process
// control plane and checks the figures hang together.
func TestRunSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, Config{Writers: 4, Pods: 200, RawPuts: 200, RawRounds: 2, Gets: 100, GetConcurrency: 4, ListRuns: 2,
		Watchers: 3, Events: 150, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.StoredPodBytes < 500 || res.RawPutBytes != res.StoredPodBytes {
		t.Errorf("stored pod %d B, raw puts %d B", res.StoredPodBytes, res.RawPutBytes)
	}
	for name, tp := range map[string]Throughput{"raw put": res.RawPut, "raw create": res.RawCreate, "create": res.Create} {
		if tp.Count != 200 || tp.PerSecond <= 0 || tp.P99Ms < tp.P50Ms {
			t.Errorf("%s: %+v", name, tp)
		}
	}
	if len(res.RawPut.Rounds) != 2 || len(res.RawCreate.Rounds) != 2 {
		t.Errorf("raw rounds: %v, %v", res.RawPut.Rounds, res.RawCreate.Rounds)
	}
	if res.CreateToRawPut <= 0 {
		t.Errorf("create/raw put ratio %v", res.CreateToRawPut)
	}
	for name, l := range map[string]Latency{"sequential": res.GetSequential, "concurrent": res.GetConcurrent} {
		if l.Count != 100 || l.P50Ms <= 0 || l.P99Ms < l.P50Ms || l.MaxMs < l.P99Ms {
			t.Errorf("GET %s: %+v", name, l)
		}
	}
	if res.GetConcurrent.Concurrency != 4 {
		t.Errorf("GET concurrency %d", res.GetConcurrent.Concurrency)
	}
	for name, l := range map[string]ListTiming{"json": res.ListJSON, "protobuf": res.ListProtobuf} {
		if l.Items != 200 || len(l.Runs) != 2 || l.MedianMs <= 0 {
			t.Errorf("LIST %s: %+v", name, l)
		}
	}
	w := res.Watch
	if w == nil || !w.Complete || w.WatchersComplete != 3 || w.MinReceived != 150 || w.DeliveredPerSecond <= 0 {
		t.Errorf("watch: %+v", w)
	}
	if res.IdleRSS.RSSBytes <= 0 || res.IdleRSS.EtcdDBBytes <= 0 {
		t.Errorf("idle RSS: %+v", res.IdleRSS)
	}
	if len(res.Phases) != 6 || len(res.Children) != 0 {
		t.Errorf("phases: %+v", res.Phases)
	}
	var table bytes.Buffer
	if err := res.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"raw etcd put", "pod create", "GET pod, sequential", "LIST pods, protobuf", "watch fan-out", "TARGET"} {
		if !strings.Contains(table.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, table.String())
		}
	}
	if _, err := json.Marshal(res); err != nil {
		t.Fatal(err)
	}
}

func TestPercentile(t *testing.T) {
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, c := range []struct {
		p    float64
		want float64
	}{{50, 50}, {99, 99}, {100, 100}, {1, 1}} {
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("empty: %v", got)
	}
	if got := median([]float64{3, 1, 2}); got != 2 {
		t.Errorf("median = %v", got)
	}
	if got := median([]float64{4, 1, 2, 3}); got != 2.5 {
		t.Errorf("median = %v", got)
	}
}

func TestStatusKB(t *testing.T) {
	status := "Name:\tskiff\nVmRSS:\t   73216 kB\nRssAnon:\t   25000 kB\n"
	if v, ok := statusKB(status, "VmRSS"); !ok || v != 73216 {
		t.Errorf("VmRSS = %v, %v", v, ok)
	}
	if _, ok := statusKB(status, "RssFile"); ok {
		t.Error("found a missing key")
	}
	if m := cpuModel("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n"); m != "AMD EPYC 7B13" {
		t.Errorf("cpu model %q", m)
	}
}

func TestConfigDefaults(t *testing.T) {
	var c Config
	c.setDefaults()
	if c.Writers != 16 || c.Pods != 10000 || c.RawPuts != 10000 || c.RawRounds != 3 || c.Watchers != 100 || c.Events != 10000 || c.ListRuns != 5 {
		t.Errorf("defaults: %+v", c)
	}
	c = Config{Pods: 50}
	c.setDefaults()
	if c.RawPuts != 50 {
		t.Errorf("raw puts default to pods: %d", c.RawPuts)
	}
	if err := (&Config{Writers: -1}).validate(); err == nil {
		t.Error("negative writers accepted")
	}
}

// A watch the server ends is resumed from the last resourceVersion seen,
// and the events before and after count as one stream.
func TestReceiveRewatches(t *testing.T) {
	pod := func(rv string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", ResourceVersion: rv}}
	}
	first := watch.NewFake()
	second := watch.NewFake()
	var resumedFrom string
	go func() {
		first.Modify(pod("11"))
		first.Modify(pod("12"))
		first.Stop()
	}()
	rewatch := func(rv string) (watch.Interface, error) {
		resumedFrom = rv
		go func() {
			second.Modify(pod("13"))
			second.Modify(pod("15"))
		}()
		return second, nil
	}
	s := watcherState{lastRV: 10}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	receive(ctx, first, rewatch, 4, &s)
	if s.problem != "" || s.received != 4 || s.rewatches != 1 || resumedFrom != "12" || s.rvSum != 11+12+13+15 {
		t.Errorf("state %+v, resumed from %q", s, resumedFrom)
	}

	// An event out of order is a problem, not a count.
	third := watch.NewFake()
	go func() {
		third.Modify(pod("21"))
		third.Modify(pod("20"))
	}()
	s = watcherState{lastRV: 10}
	receive(ctx, third, rewatch, 3, &s)
	if s.problem == "" || s.received != 1 {
		t.Errorf("out of order accepted: %+v", s)
	}
}
