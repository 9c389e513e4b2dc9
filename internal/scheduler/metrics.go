package scheduler

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/skiff-sh/skiff/internal/scheduler/queue"
)

// Results of a scheduling attempt, as upstream labels them.
const (
	resultScheduled     = "scheduled"
	resultUnschedulable = "unschedulable"
	resultError         = "error"
)

// metrics are the scheduler's Prometheus series, named as upstream's.
type metrics struct {
	registry        *prometheus.Registry
	attempts        *prometheus.CounterVec
	attemptDuration *prometheus.HistogramVec
	preemptAttempts prometheus.Counter
	preemptVictims  prometheus.Histogram
	sliDuration     *prometheus.HistogramVec
	profile         string
}

func newMetrics(reg *prometheus.Registry, profile string, q *queue.Queue) (*metrics, error) {
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	m := &metrics{
		registry: reg,
		profile:  profile,
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scheduler_schedule_attempts_total",
			Help: "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be scheduled, while 'error' means an internal scheduler problem.",
		}, []string{"result", "profile"}),
		attemptDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scheduler_scheduling_attempt_duration_seconds",
			Help:    "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15),
		}, []string{"result", "profile"}),
		preemptAttempts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scheduler_preemption_attempts_total",
			Help: "Total preemption attempts in the cluster till now",
		}),
		preemptVictims: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "scheduler_preemption_victims",
			Help:    "Number of selected preemption victims for preemption initiated by a single pod",
			Buckets: prometheus.ExponentialBuckets(1, 2, 7),
		}),
		sliDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scheduler_pod_scheduling_sli_duration_seconds",
			Help:    "E2e latency for a pod being scheduled, from the time the pod enters the scheduling queue and might involve multiple scheduling attempts.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 20),
		}, []string{"attempts"}),
	}
	for _, c := range []prometheus.Collector{m.attempts, m.attemptDuration, m.preemptAttempts, m.preemptVictims, m.sliDuration, pendingPods{q}} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("scheduler: registering metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) observeAttempt(result string, d time.Duration) {
	m.attempts.WithLabelValues(result, m.profile).Inc()
	m.attemptDuration.WithLabelValues(result, m.profile).Observe(d.Seconds())
}

// pendingPods reads the queue's counts when scraped.
type pendingPods struct{ q *queue.Queue }

var pendingPodsDesc = prometheus.NewDesc("scheduler_pending_pods",
	"Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable pods that the scheduler never attempted to schedule because they are gated.",
	[]string{"queue"}, nil)

func (p pendingPods) Describe(ch chan<- *prometheus.Desc) { ch <- pendingPodsDesc }

func (p pendingPods) Collect(ch chan<- prometheus.Metric) {
	s := p.q.Stats()
	for _, v := range []struct {
		queue string
		n     int
	}{{"active", s.Active}, {"backoff", s.Backoff}, {"unschedulable", s.Unschedulable}, {"gated", s.Gated}} {
		ch <- prometheus.MustNewConstMetric(pendingPodsDesc, prometheus.GaugeValue, float64(v.n), v.queue)
	}
}

// serveHTTP serves /metrics, /healthz and /readyz on l until ctx ends.
// healthy reports problems that make the process unhealthy (a leader
// that stopped renewing its lease); ready says the caches are synced.
func (s *Scheduler) serveHTTP(ctx context.Context, l net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	check := func(fn func(*http.Request) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			if err := fn(r); err != nil {
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprintf(w, "%v\n", err)
				return
			}
			fmt.Fprint(w, "ok")
		}
	}
	mux.Handle("/healthz", check(s.healthy))
	mux.Handle("/livez", check(s.healthy))
	mux.Handle("/readyz", check(func(r *http.Request) error {
		if !s.Ready() {
			return errors.New("informers not synced")
		}
		return s.healthy(r)
	}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("scheduler: metrics endpoint: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	}
}

// Healthz is /readyz in process: informers synced and, when leading, the
// lease renewed in time.
func (s *Scheduler) Healthz(ctx context.Context) error {
	if !s.Ready() {
		return errors.New("informers not synced")
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "/healthz", nil)
	if err != nil {
		return err
	}
	return s.healthy(r)
}

func (s *Scheduler) healthy(r *http.Request) error {
	if s.watchdog != nil {
		return s.watchdog.Check(r)
	}
	return nil
}
