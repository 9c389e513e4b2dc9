package scheduler

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/leaderelect"
	"github.com/skiff-sh/skiff/internal/scheduler/queue"
)

// DefaultLeaseName is the scheduler's leader Lease in kube-system, as
// upstream's (leaderelect has the other --leader-elect-* defaults).
const DefaultLeaseName = "kube-scheduler"

// Config configures a Scheduler. New validates it and fills the defaults
// noted on each field.
type Config struct {
	// RESTConfig is how the scheduler reaches the API server. It is
	// copied; QPS and Burst below replace its rate limits. Required
	// unless Client is set.
	RESTConfig *rest.Config
	// Client, when set, is used instead of a client built from
	// RESTConfig (for leader election too). QPS and Burst are then
	// ignored.
	Client kubernetes.Interface
	// QPS and Burst bound the scheduler's requests per second (client-go's
	// token bucket). 0 means no limit. Upstream's defaults are 50 and 100;
	// `skiff scheduler` uses those, the scheduler inside `skiff server`
	// none.
	QPS   float32
	Burst int

	// SchedulerName selects the pods this scheduler places: those whose
	// spec.schedulerName equals it. It is also the reportingController of
	// the events it writes. Default "default-scheduler".
	SchedulerName string

	// LeaderElection, when Enabled, makes the scheduler place pods only
	// while it holds a coordination.k8s.io Lease, so that several replicas
	// can run and exactly one schedules.
	LeaderElection leaderelect.Config

	// PercentageOfNodesToScore is upstream's knob: filtering stops once
	// this share of the nodes is found feasible (never fewer than 100).
	// 0 is adaptive (50% minus 1% per 125 nodes, at least 5%).
	PercentageOfNodesToScore int32
	// Parallelism is how many goroutines filter and score nodes; 0 means
	// GOMAXPROCS.
	Parallelism int
	// PodInitialBackoff and PodMaxBackoff are the back-off of a pod that
	// failed: the initial one doubles per failure up to the maximum.
	// Defaults 1 s and 10 s.
	PodInitialBackoff time.Duration
	PodMaxBackoff     time.Duration

	// Clock drives back-off, flushes, assumption expiry and the measured
	// latencies. Default the real clock.
	Clock clock.WithTicker
	// Rand returns a uniform int in [0, n); it breaks score ties. Default
	// math/rand/v2.
	Rand func(n int) int
	// Logger receives structured logs, each with component=kube-scheduler
	// and, for a pod, pod=<namespace>/<name>. Default: discarded.
	Logger *slog.Logger

	// Registry receives the scheduler's Prometheus series and is what
	// /metrics serves. Default a new registry with the Go and process
	// collectors.
	Registry *prometheus.Registry
	// MetricsListener, when set, serves /metrics, /healthz and /readyz
	// over plain HTTP while Run runs; Run closes it. The caller opens it so
	// that it decides what a port already taken means.
	MetricsListener net.Listener
}

func (c *Config) defaultAndValidate() error {
	if c.Client == nil && c.RESTConfig == nil {
		return errors.New("scheduler: a RESTConfig or a Client is required")
	}
	if c.QPS < 0 || c.Burst < 0 {
		return fmt.Errorf("scheduler: QPS %v and Burst %d must not be negative", c.QPS, c.Burst)
	}
	if c.SchedulerName == "" {
		c.SchedulerName = v1.DefaultSchedulerName
	}
	if c.PercentageOfNodesToScore < 0 || c.PercentageOfNodesToScore > 100 {
		return fmt.Errorf("scheduler: percentageOfNodesToScore must be in 0..100, got %d", c.PercentageOfNodesToScore)
	}
	if c.PodInitialBackoff == 0 {
		c.PodInitialBackoff = queue.DefaultInitialBackoff
	}
	if c.PodMaxBackoff == 0 {
		c.PodMaxBackoff = queue.DefaultMaxBackoff
	}
	if c.PodInitialBackoff < 0 || c.PodMaxBackoff < c.PodInitialBackoff {
		return fmt.Errorf("scheduler: pod back-off %v..%v is not a range", c.PodInitialBackoff, c.PodMaxBackoff)
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	c.Logger = c.Logger.With("component", "kube-scheduler")
	if err := c.LeaderElection.Default(DefaultLeaseName); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	return nil
}
