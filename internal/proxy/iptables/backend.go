package iptables

import (
	"context"
	"errors"
	"slices"

	"github.com/skiff-sh/skiff/internal/hostexec"
	"github.com/skiff-sh/skiff/internal/proxy/model"
)

// Backend keeps the kernel's iptables rules equal to Render's. It is not
// safe for concurrent use: the proxy syncs from one goroutine.
type Backend struct {
	opt     Options
	run     hostexec.Runner
	applied Applied // nil until a full sync succeeded
}

// NewBackend returns a backend; run nil means hostexec.Host.
func NewBackend(opt Options, run hostexec.Runner) *Backend {
	if run == nil {
		run = hostexec.Host
	}
	return &Backend{opt: opt, run: run}
}

// Name is "iptables".
func (b *Backend) Name() string { return "iptables" }

// Sync makes the kernel implement snap. A full sync (or the first, or
// the first after a failure) rewrites every chain, removes the proxy's
// chains the snapshot no longer needs wherever they came from, and
// restores the jump rules in built-in chains; otherwise only chains whose
// rules changed since the last sync are rewritten.
func (b *Backend) Sync(ctx context.Context, snap *model.Snapshot, full bool) (model.SyncResult, error) {
	want := Render(snap, b.opt)
	full = full || b.applied == nil
	var existing []ChainKey
	var prev Applied
	if full {
		for _, t := range []Table{Filter, NAT} {
			out, err := b.run(ctx, nil, "iptables-save", "-t", string(t))
			if err != nil {
				b.applied = nil
				return model.SyncResult{}, err
			}
			existing = append(existing, ParseChains(t, out)...)
		}
	} else {
		prev = b.applied
		for k := range prev {
			existing = append(existing, k)
		}
	}
	plan := PlanRestore(want, prev, existing)
	res := model.SyncResult{Full: full, Written: plan.Written, Deleted: plan.Deleted}
	for _, c := range want.Chains {
		res.Rules += len(c.Rules)
	}
	if len(plan.Input) > 0 {
		if _, err := b.run(ctx, plan.Input, "iptables-restore", "-w", "--noflush"); err != nil {
			b.applied = nil
			return res, err
		}
	}
	b.applied = plan.After
	if full {
		for _, j := range JumpRules() {
			if err := b.ensureJump(ctx, j); err != nil {
				b.applied = nil
				return res, err
			}
		}
	}
	return res, nil
}

func (b *Backend) ensureJump(ctx context.Context, j JumpRule) error {
	args := append([]string{"-w", "-t", string(j.Table), "-C", j.Chain}, j.Args...)
	if _, err := b.run(ctx, nil, "iptables", args...); err == nil {
		return nil
	}
	args = append([]string{"-w", "-t", string(j.Table), "-I", j.Chain, "1"}, j.Args...)
	_, err := b.run(ctx, nil, "iptables", args...)
	return err
}

// Cleanup removes every rule and chain the proxy made: the jump rules in
// built-in chains, then its chains.
func (b *Backend) Cleanup(ctx context.Context) error {
	var errs []error
	for _, j := range JumpRules() {
		for range 10 { // a rule inserted twice (two proxies) goes too
			args := append([]string{"-w", "-t", string(j.Table), "-D", j.Chain}, j.Args...)
			if _, err := b.run(ctx, nil, "iptables", args...); err != nil {
				break
			}
		}
	}
	var existing []ChainKey
	for _, t := range []Table{Filter, NAT} {
		out, err := b.run(ctx, nil, "iptables-save", "-t", string(t))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		existing = append(existing, ParseChains(t, out)...)
	}
	existing = slices.DeleteFunc(existing, func(k ChainKey) bool { return !OwnedChain(k.Name) })
	if plan := PlanRestore(&Ruleset{}, nil, existing); len(plan.Input) > 0 {
		if _, err := b.run(ctx, plan.Input, "iptables-restore", "-w", "--noflush"); err != nil {
			errs = append(errs, err)
		}
	}
	b.applied = nil
	return errors.Join(errs...)
}
