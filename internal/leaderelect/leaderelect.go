// Package leaderelect is the one way a Skiff component campaigns for a
// coordination.k8s.io Lease (client-go's leaderelection) and does its
// work only while it holds it: the controller manager's
// kube-system/kube-controller-manager Lease, the scheduler's
// kube-system/kube-scheduler.
package leaderelect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Upstream's --leader-elect-* defaults (kube-scheduler and
// kube-controller-manager alike).
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
	DefaultNamespace     = "kube-system"
)

// Config is the Lease a replica must hold to work.
type Config struct {
	// Enabled turns leader election on; off, the work runs at once.
	Enabled bool
	// LeaseDuration is how long non-leaders wait after the last renewal
	// before taking over; RenewDeadline how long the leader keeps trying
	// to renew before it stops working; RetryPeriod the interval of
	// attempts. Defaults 15 s, 10 s, 2 s as upstream.
	LeaseDuration time.Duration
	RenewDeadline time.Duration
	RetryPeriod   time.Duration
	// Namespace and Name name the Lease: Namespace defaults to
	// kube-system; Name to the name Default is given.
	Namespace string
	Name      string
	// Identity is this replica's holder identity. Default
	// <hostname>_<uuid>, as upstream.
	Identity string
}

// Default fills the zero fields, naming the Lease name when unset, and
// validates the result.
func (c *Config) Default(name string) error {
	if c.LeaseDuration == 0 {
		c.LeaseDuration = DefaultLeaseDuration
	}
	if c.RenewDeadline == 0 {
		c.RenewDeadline = DefaultRenewDeadline
	}
	if c.RetryPeriod == 0 {
		c.RetryPeriod = DefaultRetryPeriod
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.Name == "" {
		c.Name = name
	}
	if c.Name == "" {
		return errors.New("leader election: a Lease name is required")
	}
	if c.Identity == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("leader election identity: %w", err)
		}
		c.Identity = host + "_" + string(uuid.NewUUID())
	}
	if c.Enabled && !(c.LeaseDuration > c.RenewDeadline && c.RenewDeadline > c.RetryPeriod && c.RetryPeriod > 0) {
		return fmt.Errorf("leader election needs leaseDuration (%v) > renewDeadline (%v) > retryPeriod (%v) > 0",
			c.LeaseDuration, c.RenewDeadline, c.RetryPeriod)
	}
	return nil
}

// Run campaigns for the Lease and calls lead while holding it; lead
// must return once its context ends (the Lease is lost or ctx ends).
// A replica that loses the Lease campaigns again; Run returns when ctx
// ends. watchdog may be nil.
func Run(ctx context.Context, c Config, client kubernetes.Interface, watchdog *leaderelection.HealthzAdaptor, logger *slog.Logger, lead func(context.Context)) error {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: c.Namespace, Name: c.Name},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: c.Identity},
	}
	lease := c.Namespace + "/" + c.Name
	for ctx.Err() == nil {
		leading := make(chan context.Context, 1)
		elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   c.LeaseDuration,
			RenewDeadline:   c.RenewDeadline,
			RetryPeriod:     c.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            c.Name,
			WatchDog:        watchdog,
			Callbacks: leaderelection.LeaderCallbacks{
				// The elector cancels lctx when the Lease is lost or ctx ends.
				OnStartedLeading: func(lctx context.Context) { leading <- lctx },
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			return fmt.Errorf("leader election: %w", err)
		}
		done := make(chan struct{})
		go func() { defer close(done); elector.Run(ctx) }()
		select {
		case lctx := <-leading:
			logger.Info("leading", "lease", lease, "identity", c.Identity)
			lead(lctx)
			<-done
		case <-done:
		}
		if ctx.Err() == nil {
			logger.Warn("lost the lease; campaigning again", "lease", lease)
		}
	}
	return nil
}
