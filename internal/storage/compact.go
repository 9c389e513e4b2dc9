package storage

import (
	"context"
	"log/slog"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// CompactorConfig configures history compaction.
type CompactorConfig struct {
	// Interval between compactions; each keeps one interval of history.
	// Upstream's default, and ours, is 5 minutes.
	Interval time.Duration
	Logger   *slog.Logger
}

// Compactor drops etcd history older than one interval, as the upstream
// API server does: at each tick it compacts to the revision it saw at the
// previous tick. Watches and continue tokens older than that get 410 Gone.
type Compactor struct {
	store *Store
	cfg   CompactorConfig
}

// NewCompactor returns a compactor over store.
func NewCompactor(store *Store, cfg CompactorConfig) *Compactor {
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Compactor{store: store, cfg: cfg}
}

// Run compacts until ctx ends.
func (c *Compactor) Run(ctx context.Context) error {
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if last > 0 {
			if err := c.CompactTo(ctx, last); err != nil {
				c.cfg.Logger.Warn("compaction failed", "component", "apiserver", "revision", last, "err", err)
			}
		}
		rev, err := c.store.Revision(ctx)
		if err == nil {
			last = rev
		}
	}
}

// CompactTo compacts history up to rev. Compacting to an already compacted
// revision is not an error.
func (c *Compactor) CompactTo(ctx context.Context, rev int64) error {
	_, err := c.store.client.Compact(ctx, rev, clientv3.WithCompactPhysical())
	if err != nil && isCompacted(err) {
		return nil
	}
	return err
}
