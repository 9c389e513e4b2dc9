package nftables

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/hostexec"
	"github.com/skiff-sh/skiff/internal/proxy/model"
)

// Backend keeps the table "ip kube-proxy" equal to Render's. It is not
// safe for concurrent use: the proxy syncs from one goroutine.
type Backend struct {
	opt     Options
	run     hostexec.Runner
	applied *Applied // nil until a full sync succeeded
	clock   clock.PassiveClock
	// stale holds the chains flushed and not yet deleted (StaleGrace).
	stale Stale
}

// NewBackend returns a backend; run nil means hostexec.Host.
func NewBackend(opt Options, run hostexec.Runner) *Backend {
	if run == nil {
		run = hostexec.Host
	}
	c := opt.Clock
	if c == nil {
		c = clock.RealClock{}
	}
	return &Backend{opt: opt, run: run, clock: c}
}

// Name is "nftables".
func (b *Backend) Name() string { return "nftables" }

// Sync makes the table implement snap. A full sync (or the first, or the
// first after a failure) rewrites every chain and map in one transaction
// and deletes what is no longer wanted, keeping the affinity sets'
// contents (PlanFull); should that transaction fail (a table left in a
// shape it cannot amend), the table is replaced instead and the result
// says so (Replaced, ReplaceCause). Otherwise only what changed since the
// last sync is written. Chains no longer wanted are flushed and deleted
// by a later sync, in a transaction of their own, once StaleGrace has
// passed; a failure of that deletion is retried by the next sync and
// reported as the result's CleanupErr, not as the sync's error.
func (b *Backend) Sync(ctx context.Context, snap *model.Snapshot, full bool) (model.SyncResult, error) {
	want := Render(snap, b.opt)
	var res model.SyncResult
	if del := PlanDeleteStale(b.stale, want, b.clock.Now()); len(del.Script) > 0 {
		if _, err := b.run(ctx, del.Script, "nft", "-f", "-"); err != nil {
			res.CleanupErr = fmt.Errorf("deleting %d flushed chains: %w", del.Deleted, err)
		} else {
			b.stale = del.Stale
		}
	}
	prev := b.applied
	if full {
		prev = nil
	}
	b.applied = nil
	now := b.clock.Now()
	var plan Plan
	if prev == nil {
		existing, err := b.existing(ctx)
		if err != nil {
			return res, err
		}
		plan = PlanFull(want, existing, b.stale, now)
	} else {
		plan = PlanScript(want, prev, b.stale, now)
	}
	res.Full, res.Written, res.Deleted = prev == nil, plan.Written, plan.Deleted
	for _, c := range want.Chains {
		res.Rules += len(c.Rules)
	}
	for _, m := range want.Maps {
		res.Rules += len(m.Elements)
	}
	if len(plan.Script) > 0 {
		if _, err := b.run(ctx, plan.Script, "nft", "-f", "-"); err != nil {
			if prev != nil {
				return res, err
			}
			replace := PlanScript(want, nil, nil, now)
			if _, err2 := b.run(ctx, replace.Script, "nft", "-f", "-"); err2 != nil {
				return res, errors.Join(err, err2)
			}
			plan = replace
			res.Replaced, res.ReplaceCause = true, err
			res.Written, res.Deleted = replace.Written, replace.Deleted
		}
	}
	b.applied = &plan.After
	b.stale = plan.Stale
	return res, nil
}

// existing lists the chains, sets and maps of the table in the kernel
// (names only: -t leaves set elements out).
func (b *Backend) existing(ctx context.Context) (Existing, error) {
	var out [3][]byte
	for i, what := range []string{"chains", "sets", "maps"} {
		var err error
		if out[i], err = b.run(ctx, nil, "nft", "-t", "-j", "list", what, Family); err != nil {
			return Existing{}, err
		}
	}
	return ParseExisting(out[0], out[1], out[2])
}

// Cleanup deletes the table.
func (b *Backend) Cleanup(ctx context.Context) error {
	b.applied, b.stale = nil, nil
	_, err := b.run(ctx, []byte("add table "+Family+" "+Table+"\ndelete table "+Family+" "+Table+"\n"), "nft", "-f", "-")
	return err
}
