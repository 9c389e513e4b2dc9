package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/controlplane"
	"github.com/skiff-sh/skiff/internal/leaderelect"
	"github.com/skiff-sh/skiff/internal/scheduler"
)

// schedulerMetricsPort is where the scheduler serves /metrics and
// /healthz over plain HTTP: upstream's former insecure port.
const schedulerMetricsPort = 10251

func newSchedulerCommand() *cobra.Command {
	var (
		kubeconfigPath, bindAddress string
		metricsPort, verbosity      int
		cfg                         = scheduler.Config{QPS: 50, Burst: 100}
	)
	cmd := &cobra.Command{
		Use:   "scheduler",
		Short: "Run the scheduler alone: place unscheduled pods on nodes through an API server",
		Long: `Watches pods whose spec.schedulerName is --scheduler-name and nodes, decides
where each pod goes, and binds it through pods/binding. With --leader-elect
(the default) several replicas may run: only the holder of the Lease
kube-system/kube-scheduler schedules. /metrics, /healthz and /readyz are
served over HTTP on --metrics-port (0 turns them off).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rc, err := requiredKubeconfig(kubeconfigPath)
			if err != nil {
				return err
			}
			cfg.RESTConfig = rc
			cfg.Logger = newLogger(verbosity)
			if metricsPort > 0 {
				addr := net.JoinHostPort(bindAddress, strconv.Itoa(metricsPort))
				if cfg.MetricsListener, err = net.Listen("tcp", addr); err != nil {
					return fmt.Errorf("--metrics-port: %w", err)
				}
			}
			s, err := scheduler.New(cfg)
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			return s.Run(ctx)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&kubeconfigPath, "kubeconfig", "", "Kubeconfig of the API server to schedule for (required)")
	fs.StringVar(&cfg.SchedulerName, "scheduler-name", "default-scheduler", "Schedule the pods whose spec.schedulerName is this")
	registerLeaderElectionFlags(fs, &cfg.LeaderElection, scheduler.DefaultLeaseName, "schedules")
	fs.Float32Var(&cfg.QPS, "kube-api-qps", 50, "Requests per second to the API server (0: unlimited)")
	fs.IntVar(&cfg.Burst, "kube-api-burst", 100, "Burst of requests to the API server")
	fs.Int32Var(&cfg.PercentageOfNodesToScore, "percentage-of-nodes-to-score", 0, "Stop filtering once this share of nodes is feasible (0: adaptive, as upstream)")
	fs.IntVar(&metricsPort, "metrics-port", schedulerMetricsPort, "HTTP port of /metrics, /healthz and /readyz (0: off)")
	fs.StringVar(&bindAddress, "bind-address", "0.0.0.0", "Address the metrics port listens on")
	fs.IntVarP(&verbosity, "v", "v", 0, "Log verbosity; 4 and above logs every decision")
	return cmd
}

// serverScheduler is the scheduler inside `skiff server` and `skiff up`.
// It reaches the API server of its own process over HTTPS like any other
// client, as user system:kube-scheduler with a certificate issued when it
// starts (the API server, started before it, has created the CA).
type serverScheduler struct {
	cfg *controlplane.Config
	s   atomic.Pointer[scheduler.Scheduler]
}

func newServerScheduler(cfg *controlplane.Config) *serverScheduler { return &serverScheduler{cfg: cfg} }

func (c *serverScheduler) Name() string { return "kube-scheduler" }

func (c *serverScheduler) Ready() bool {
	s := c.s.Load()
	return s != nil && s.Ready()
}

func (c *serverScheduler) Healthz(ctx context.Context) error {
	s := c.s.Load()
	if s == nil {
		return errors.New("not started")
	}
	return s.Healthz(ctx)
}

func (c *serverScheduler) Run(ctx context.Context) error {
	// RBAC is not served yet: system:masters for now.
	path, err := controlplane.ComponentKubeconfig(c.cfg, "scheduler", "system:kube-scheduler", []string{"system:masters"})
	if err != nil {
		return err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return err
	}
	// Metrics are a convenience here: a second server on this host (or an
	// upstream scheduler) may hold the port, and that must not stop the
	// control plane.
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(schedulerMetricsPort)))
	if err != nil {
		c.cfg.Logger.Warn("scheduler metrics are off", "component", "kube-scheduler", "err", err)
		l = nil
	}
	s, err := scheduler.New(scheduler.Config{
		RESTConfig:      rc,
		LeaderElection:  leaderelect.Config{Enabled: true},
		Logger:          c.cfg.Logger,
		MetricsListener: l,
	})
	if err != nil {
		if l != nil {
			l.Close()
		}
		return err
	}
	c.s.Store(s)
	return s.Run(ctx)
}

// registerLeaderElectionFlags adds upstream's --leader-elect-* flags of a
// leader-elected component; work says what only the leader does.
func registerLeaderElectionFlags(fs *pflag.FlagSet, le *leaderelect.Config, leaseName, work string) {
	fs.BoolVar(&le.Enabled, "leader-elect", true, "Work only while holding the leader Lease, so that several replicas can run (only the holder "+work+")")
	fs.DurationVar(&le.LeaseDuration, "leader-elect-lease-duration", leaderelect.DefaultLeaseDuration, "How long other replicas wait after the leader's last renewal before taking over")
	fs.DurationVar(&le.RenewDeadline, "leader-elect-renew-deadline", leaderelect.DefaultRenewDeadline, "How long the leader tries to renew before it stops")
	fs.DurationVar(&le.RetryPeriod, "leader-elect-retry-period", leaderelect.DefaultRetryPeriod, "Interval between attempts to acquire or renew the Lease")
	fs.StringVar(&le.Namespace, "leader-elect-resource-namespace", leaderelect.DefaultNamespace, "Namespace of the leader Lease")
	fs.StringVar(&le.Name, "leader-elect-resource-name", leaseName, "Name of the leader Lease")
}
