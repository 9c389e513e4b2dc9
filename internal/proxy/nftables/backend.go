package nftables

import (
	"context"

	"github.com/skiff-sh/skiff/internal/hostexec"
	"github.com/skiff-sh/skiff/internal/proxy/model"
)

// Backend keeps the table "ip kube-proxy" equal to Render's. It is not
// safe for concurrent use: the proxy syncs from one goroutine.
type Backend struct {
	opt     Options
	run     hostexec.Runner
	applied *Applied // nil until a full sync succeeded
}

// NewBackend returns a backend; run nil means hostexec.Host.
func NewBackend(opt Options, run hostexec.Runner) *Backend {
	if run == nil {
		run = hostexec.Host
	}
	return &Backend{opt: opt, run: run}
}

// Name is "nftables".
func (b *Backend) Name() string { return "nftables" }

// Sync makes the table implement snap: a full sync (or the first, or the
// first after a failure) replaces the table in one transaction; otherwise
// only what changed since the last sync is written.
func (b *Backend) Sync(ctx context.Context, snap *model.Snapshot, full bool) (model.SyncResult, error) {
	want := Render(snap, b.opt)
	prev := b.applied
	if full {
		prev = nil
	}
	plan := PlanScript(want, prev)
	res := model.SyncResult{Full: prev == nil, Written: plan.Written, Deleted: plan.Deleted}
	for _, c := range want.Chains {
		res.Rules += len(c.Rules)
	}
	for _, m := range want.Maps {
		res.Rules += len(m.Elements)
	}
	if len(plan.Script) > 0 {
		if _, err := b.run(ctx, plan.Script, "nft", "-f", "-"); err != nil {
			b.applied = nil
			return res, err
		}
	}
	b.applied = &plan.After
	return res, nil
}

// Cleanup deletes the table.
func (b *Backend) Cleanup(ctx context.Context) error {
	b.applied = nil
	_, err := b.run(ctx, []byte("add table "+Family+" "+Table+"\ndelete table "+Family+" "+Table+"\n"), "nft", "-f", "-")
	return err
}
