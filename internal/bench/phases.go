package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
)

// runner holds one run's state.
type runner struct {
	cfg Config
	cp  *controlPlane
	res *Results

	namespace string
	// writers are the Config.Writers clients, one per writing goroutine.
	writers []*client
	// others are every other client made, closed at the end.
	others []*client
}

func (r *runner) newClient(json bool) (*client, error) {
	c, err := r.cp.newClient(r.cfg.SharedConnection, json)
	if err != nil {
		return nil, err
	}
	r.others = append(r.others, c)
	return c, nil
}

func (r *runner) closeClients() {
	for _, c := range append(r.writers, r.others...) {
		c.close()
	}
	r.writers, r.others = nil, nil
}

func podName(i int) string { return fmt.Sprintf("bench-%05d", i) }

// benchPod is a small, realistic pod: one container with a port, an
// environment variable, requests and limits and a readiness probe, and
// the labels a Deployment's pod carries.
func benchPod(namespace, name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: namespace,
			Labels:      map[string]string{"app": "bench-web", "tier": "frontend", "pod-template-hash": "7d9c5b8f4d"},
			Annotations: map[string]string{"kubectl.kubernetes.io/default-container": "web"},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:  "web",
				Image: "registry.k8s.io/nginx-slim:0.27",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				Env:   []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
				},
				ReadinessProbe: &corev1.Probe{
					ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http")}},
					PeriodSeconds: 10,
				},
			}},
			RestartPolicy:                 corev1.RestartPolicyAlways,
			TerminationGracePeriodSeconds: new(int64(30)),
		},
	}
}

func (r *runner) run(ctx context.Context) error {
	r.namespace = fmt.Sprintf("bench-%d", time.Now().Unix())
	for range r.cfg.Writers {
		c, err := r.cp.newClient(r.cfg.SharedConnection, false)
		if err != nil {
			return err
		}
		r.writers = append(r.writers, c)
	}
	admin := r.writers[0]
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.namespace}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating namespace %s: %w", r.namespace, err)
	}
	if err := r.warmUp(ctx); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	if err := r.phase(ctx, "raw", r.raw); err != nil {
		return err
	}
	if err := r.phase(ctx, "create", r.creates); err != nil {
		return err
	}
	if r.res.RawPut.PerSecond > 0 {
		r.res.CreateToRawPut = r.res.Create.PerSecond / r.res.RawPut.PerSecond
	}
	if r.res.RawCreate.PerSecond > 0 {
		r.res.CreateToRawCreate = r.res.Create.PerSecond / r.res.RawCreate.PerSecond
	}
	if err := r.phase(ctx, "get", r.gets); err != nil {
		return err
	}
	if err := r.phase(ctx, "list-json", r.list(true, &r.res.ListJSON)); err != nil {
		return err
	}
	if err := r.phase(ctx, "list-protobuf", r.list(false, &r.res.ListProtobuf)); err != nil {
		return err
	}
	if r.cfg.Watchers > 0 {
		if err := r.phase(ctx, "watch", r.watch); err != nil {
			return err
		}
	}
	return nil
}

// warmUp opens every writer's connection, and measures a stored pod.
func (r *runner) warmUp(ctx context.Context) error {
	err := r.parallel(ctx, len(r.writers), func(ctx context.Context, w int, c *client) error {
		_, err := c.CoreV1().Namespaces().Get(ctx, r.namespace, metav1.GetOptions{})
		return err
	})
	if err != nil {
		return err
	}
	pods := r.writers[0].CoreV1().Pods(r.namespace)
	if _, err := pods.Create(ctx, benchPod(r.namespace, "warm-up"), metav1.CreateOptions{}); err != nil {
		return err
	}
	kv, err := r.cp.etcdClient().Get(ctx, "/registry/pods/"+r.namespace+"/warm-up")
	if err != nil {
		return err
	}
	if len(kv.Kvs) != 1 {
		return errors.New("the warm-up pod is not in etcd under /registry/pods/")
	}
	r.res.StoredPodBytes = len(kv.Kvs[0].Value)
	return pods.Delete(ctx, "warm-up", metav1.DeleteOptions{GracePeriodSeconds: new(int64(0))})
}

// parallel runs n operations over the writers, each writer taking the next
// index until none are left. It stops at the first error.
func (r *runner) parallel(ctx context.Context, n int, op func(ctx context.Context, i int, c *client) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, c := range r.writers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := op(ctx, i, c); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// timed runs n operations over the writers and records each one's time.
func (r *runner) timed(ctx context.Context, n int, op func(ctx context.Context, i int, c *client) error) (Throughput, error) {
	lat := make([]time.Duration, n)
	start := time.Now()
	err := r.parallel(ctx, n, func(ctx context.Context, i int, c *client) error {
		t := time.Now()
		err := op(ctx, i, c)
		lat[i] = time.Since(t)
		return err
	})
	elapsed := time.Since(start)
	if err != nil {
		return Throughput{}, err
	}
	sortDurations(lat)
	return Throughput{Count: n, Seconds: elapsed.Seconds(), PerSecond: float64(n) / elapsed.Seconds(),
		P50Ms: percentile(lat, 50), P99Ms: percentile(lat, 99)}, nil
}

// raw measures etcd alone, through the client the API server uses: rounds
// of puts of values the size of a stored pod, alternating with rounds of
// create-if-absent transactions, which are the etcd work of a pod create
// (namespace admission reads an in-memory cache, not etcd). Each is
// reported as its median round. The keys are deleted, etcd's history
// compacted and its file defragmented afterwards, so that they cost the
// rest of the run (and the memory figures) nothing.
func (r *runner) raw(ctx context.Context) error {
	size := r.cfg.RawPutBytes
	if size == 0 {
		size = r.res.StoredPodBytes
	}
	r.res.RawPutBytes = size
	value := strings.Repeat("x", size)
	kv := r.cp.etcdClient()
	const prefix = "/skiff-bench/raw/"
	var puts, txns []Throughput
	for round := range r.cfg.RawRounds {
		t, err := r.timed(ctx, r.cfg.RawPuts, func(ctx context.Context, i int, _ *client) error {
			_, err := kv.Put(ctx, fmt.Sprintf("%sput/%d/%d", prefix, round, i), value)
			return err
		})
		if err != nil {
			return fmt.Errorf("puts: %w", err)
		}
		puts = append(puts, t)
		t, err = r.timed(ctx, r.cfg.RawPuts, func(ctx context.Context, i int, _ *client) error {
			key := fmt.Sprintf("%stxn/%d/%d", prefix, round, i)
			resp, err := kv.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).Then(clientv3.OpPut(key, value)).Commit()
			if err != nil {
				return err
			}
			if !resp.Succeeded {
				return fmt.Errorf("%s exists", key)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("create transactions: %w", err)
		}
		txns = append(txns, t)
	}
	r.res.RawPut, r.res.RawCreate = medianRound(puts), medianRound(txns)
	if _, err := kv.Delete(ctx, prefix, clientv3.WithPrefix()); err != nil {
		return err
	}
	// Compacting at the deletion's own revision would keep the
	// tombstones in etcd's key index; one more revision lets them go.
	if _, err := kv.Put(ctx, prefix+"done", ""); err != nil {
		return err
	}
	if err := r.cp.compact(ctx); err != nil {
		return fmt.Errorf("compacting: %w", err)
	}
	if err := r.cp.defragment(ctx); err != nil {
		return fmt.Errorf("defragmenting: %w", err)
	}
	return nil
}

// medianRound returns the round with the median rate, with the rates of
// all rounds.
func medianRound(rounds []Throughput) Throughput {
	sorted := append([]Throughput(nil), rounds...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].PerSecond < sorted[j].PerSecond })
	m := sorted[(len(sorted)-1)/2]
	m.Rounds = nil
	for _, t := range rounds {
		m.Rounds = append(m.Rounds, t.PerSecond)
	}
	return m
}

// creates creates the pods through client-go.
func (r *runner) creates(ctx context.Context) error {
	t, err := r.timed(ctx, r.cfg.Pods, func(ctx context.Context, i int, c *client) error {
		_, err := c.CoreV1().Pods(r.namespace).Create(ctx, benchPod(r.namespace, podName(i)), metav1.CreateOptions{})
		return err
	})
	r.res.Create = t
	return err
}

// gets times single-pod GETs of random pods, one at a time and then from
// several clients at once.
func (r *runner) gets(ctx context.Context) error {
	get := func(c *client, rng *rand.Rand, lat []time.Duration) error {
		for i := range lat {
			name := podName(rng.IntN(r.cfg.Pods))
			t := time.Now()
			if _, err := c.CoreV1().Pods(r.namespace).Get(ctx, name, metav1.GetOptions{}); err != nil {
				return err
			}
			lat[i] = time.Since(t)
		}
		return nil
	}
	// Sequential.
	lat := make([]time.Duration, r.cfg.Gets)
	start := time.Now()
	if err := get(r.writers[0], rand.New(rand.NewPCG(1, 2)), lat); err != nil {
		return err
	}
	r.res.GetSequential = latency(lat, 1, time.Since(start))

	// Concurrent: GetConcurrency clients, each its own connection unless
	// shared.
	conc := r.cfg.GetConcurrency
	clients := make([]*client, conc)
	for i := range clients {
		if i < len(r.writers) {
			clients[i] = r.writers[i]
			continue
		}
		c, err := r.newClient(false)
		if err != nil {
			return err
		}
		clients[i] = c
	}
	lat = make([]time.Duration, r.cfg.Gets)
	per := (len(lat) + conc - 1) / conc
	errs := make(chan error, conc)
	start = time.Now()
	var wg sync.WaitGroup
	for i, c := range clients {
		lo, hi := min(i*per, len(lat)), min((i+1)*per, len(lat))
		wg.Go(func() { errs <- get(c, rand.New(rand.NewPCG(uint64(i), 7)), lat[lo:hi]) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	r.res.GetConcurrent = latency(lat, conc, elapsed)
	return nil
}

func latency(lat []time.Duration, conc int, elapsed time.Duration) Latency {
	sortDurations(lat)
	return Latency{Count: len(lat), Concurrency: conc, P50Ms: percentile(lat, 50), P90Ms: percentile(lat, 90),
		P99Ms: percentile(lat, 99), MaxMs: percentile(lat, 100), PerSecond: float64(len(lat)) / elapsed.Seconds()}
}

// list times full LISTs of the namespace's pods, decoded by client-go,
// in JSON or in protobuf.
func (r *runner) list(json bool, out *ListTiming) func(context.Context) error {
	return func(ctx context.Context) error {
		c, err := r.newClient(json)
		if err != nil {
			return err
		}
		defer c.close()
		var runs []float64
		items := 0
		for range r.cfg.ListRuns {
			t := time.Now()
			list, err := c.CoreV1().Pods(r.namespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				return err
			}
			runs = append(runs, float64(time.Since(t))/float64(time.Millisecond))
			items = len(list.Items)
		}
		if items != r.cfg.Pods {
			return fmt.Errorf("a LIST returned %d pods, want %d", items, r.cfg.Pods)
		}
		*out = ListTiming{Items: items, Runs: runs, MedianMs: median(runs), MinMs: minOf(runs)}
		return nil
	}
}

func minOf(v []float64) float64 {
	m := v[0]
	for _, x := range v[1:] {
		m = min(m, x)
	}
	return m
}

// watcherState is what one watcher saw.
type watcherState struct {
	received  int
	rewatches int
	rvSum     uint64
	lastRV    uint64
	doneAt    time.Time
	problem   string
}

// watch starts the watchers on all pods from the current revision, makes
// Config.Events label updates over the writers, and checks that every
// watcher receives every update exactly once, in order.
func (r *runner) watch(ctx context.Context) error {
	n, events := r.cfg.Watchers, r.cfg.Events
	res := &WatchResult{Watchers: n, Events: events}
	r.res.Watch = res

	head, err := r.writers[0].CoreV1().Pods(r.namespace).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		return err
	}
	from := head.ResourceVersion

	wctx, cancel := context.WithTimeout(ctx, r.cfg.WatchTimeout)
	defer cancel()
	if dir := r.cfg.CPUProfileDir; dir != "" {
		// Watchers still waiting a moment before the limit: keep the
		// goroutines, to see where the events are stuck.
		stalled := time.AfterFunc(r.cfg.WatchTimeout-time.Second, func() {
			if f, err := os.Create(filepath.Join(dir, "watch-stalled-goroutines.txt")); err == nil {
				_ = pprof.Lookup("goroutine").WriteTo(f, 2)
				f.Close()
			}
		})
		defer stalled.Stop()
	}
	fromRV, err := strconv.ParseUint(from, 10, 64)
	if err != nil {
		return fmt.Errorf("list resourceVersion %q: %w", from, err)
	}
	states := make([]watcherState, n)
	for i := range states {
		// Events come after from; watching again resumes from the last.
		states[i].lastRV = fromRV
	}
	var wg sync.WaitGroup
	for i := range n {
		c, err := r.newClient(false)
		if err != nil {
			return err
		}
		start := func(rv string) (watch.Interface, error) {
			return c.CoreV1().Pods("").Watch(wctx, metav1.ListOptions{ResourceVersion: rv})
		}
		w, err := start(from)
		if err != nil {
			return fmt.Errorf("starting watcher %d: %w", i, err)
		}
		wg.Go(func() { receive(wctx, w, start, events, &states[i]) })
	}

	// The updates: a merge patch of one label per event, round-robin over
	// the pods. Each returns the revision it made; every watcher must see
	// exactly these.
	var rvSum atomic.Uint64
	var lastAck atomic.Int64
	start := time.Now()
	err = r.parallel(wctx, events, func(ctx context.Context, i int, c *client) error {
		patch := []byte(`{"metadata":{"labels":{"bench-generation":"` + strconv.Itoa(i) + `"}}}`)
		p, err := c.CoreV1().Pods(r.namespace).Patch(ctx, podName(i%r.cfg.Pods), types.MergePatchType, patch, metav1.PatchOptions{})
		if err != nil {
			return err
		}
		rv, err := strconv.ParseUint(p.ResourceVersion, 10, 64)
		if err != nil {
			return fmt.Errorf("pod %s: resourceVersion %q: %w", p.Name, p.ResourceVersion, err)
		}
		rvSum.Add(rv)
		now := time.Since(start)
		for {
			old := lastAck.Load()
			if int64(now) <= old || lastAck.CompareAndSwap(old, int64(now)) {
				break
			}
		}
		return nil
	})
	writeEnd := time.Now()
	if err != nil {
		cancel()
		wg.Wait()
		return fmt.Errorf("updates: %w", err)
	}
	wg.Wait()
	end := time.Now()

	res.WriteSeconds = writeEnd.Sub(start).Seconds()
	res.MinReceived = events
	lastAckAt := start.Add(time.Duration(lastAck.Load()))
	var lags []time.Duration
	var lastDone time.Time
	for i, s := range states {
		res.MinReceived = min(res.MinReceived, s.received)
		switch {
		case s.problem != "":
			res.Problems = append(res.Problems, fmt.Sprintf("watcher %d: %s", i, s.problem))
		case s.received != events:
			res.Problems = append(res.Problems, fmt.Sprintf("watcher %d: received %d of %d events", i, s.received, events))
		case s.rvSum != rvSum.Load():
			res.Problems = append(res.Problems, fmt.Sprintf("watcher %d: received %d events, but not the ones written (resourceVersion sums differ)", i, s.received))
		default:
			res.WatchersComplete++
			lags = append(lags, max(s.doneAt.Sub(lastAckAt), 0))
			if s.doneAt.After(lastDone) {
				lastDone = s.doneAt
			}
		}
	}
	if len(res.Problems) > 10 {
		more := len(res.Problems) - 10
		res.Problems = append(res.Problems[:10], fmt.Sprintf("... and %d more", more))
	}
	res.Complete = res.WatchersComplete == n
	if res.Complete {
		end = lastDone
	}
	res.Seconds = end.Sub(start).Seconds()
	total := 0
	for _, s := range states {
		total += s.received
		res.Rewatches += s.rewatches
	}
	res.DeliveredPerSecond = float64(total) / res.Seconds
	sortDurations(lags)
	res.LagP50Ms, res.LagP99Ms = percentile(lags, 50), percentile(lags, 99)
	return nil
}

// maxRewatches bounds how often one watcher may watch again.
const maxRewatches = 100

// receive reads a watch until it has want events, it fails, or ctx ends.
// When the server ends the watch (as it does to a client that lags too
// far behind), it watches again from the last resourceVersion it saw, as
// client-go's informers and RetryWatcher do.
func receive(ctx context.Context, w watch.Interface, rewatch func(rv string) (watch.Interface, error), want int, s *watcherState) {
	defer func() { w.Stop() }()
	ch := w.ResultChan()
	for s.received < want {
		select {
		case <-ctx.Done():
			s.problem = fmt.Sprintf("gave up after %d of %d events: %v", s.received, want, ctx.Err())
			return
		case ev, ok := <-ch:
			if !ok {
				if s.rewatches >= maxRewatches {
					s.problem = fmt.Sprintf("the watch closed after %d of %d events, %d times", s.received, want, s.rewatches)
					return
				}
				w.Stop()
				next, err := rewatch(strconv.FormatUint(s.lastRV, 10))
				if err != nil {
					s.problem = fmt.Sprintf("watching again after %d of %d events: %v", s.received, want, err)
					return
				}
				s.rewatches++
				w, ch = next, next.ResultChan()
				continue
			}
			switch ev.Type {
			case watch.Bookmark:
				continue
			case watch.Error:
				s.problem = fmt.Sprintf("error event after %d events: %v", s.received, ev.Object)
				return
			case watch.Modified:
			default:
				s.problem = fmt.Sprintf("unexpected %s event after %d events", ev.Type, s.received)
				return
			}
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				s.problem = fmt.Sprintf("event object is a %T", ev.Object)
				return
			}
			rv, err := strconv.ParseUint(p.ResourceVersion, 10, 64)
			if err != nil || rv <= s.lastRV {
				s.problem = fmt.Sprintf("resourceVersion %q after %d: out of order or repeated", p.ResourceVersion, s.lastRV)
				return
			}
			s.lastRV = rv
			s.rvSum += rv
			s.received++
		}
	}
	s.doneAt = time.Now()
}
