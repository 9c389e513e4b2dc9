package nftables

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Applied is what the kernel holds after a successful transaction.
type Applied struct {
	Chains map[string]Chain
	Maps   map[string]Map
}

// Plan is one `nft -f` transaction.
type Plan struct {
	Script []byte
	// Written counts chains rewritten and maps whose elements changed;
	// Deleted counts chains and sets removed.
	Written, Deleted int
	After            Applied
	// Stale is the backend's Stale once the transaction committed.
	Stale Stale
}

// StaleGrace is how long a chain nothing wants any more stays flushed
// before it is deleted. Kernels before 6.2 notice only a little after a
// transaction commits that the map elements and verdict-map rules it
// removed no longer refer to a chain: deleting the chain in the same
// transaction (or at once after it) fails with EBUSY. Upstream's nftables
// proxier waits a second too.
const StaleGrace = time.Second

// Stale maps each chain that is flushed but not yet deleted to when it was
// flushed. Plans add the chains they retire and drop those wanted again;
// PlanDeleteStale deletes those flushed StaleGrace ago.
type Stale map[string]time.Time

// retire returns stale with the chains of gone that it lacks flushed at
// now, and without those want has.
func (stale Stale) retire(gone []string, after Applied, now time.Time) Stale {
	next := Stale{}
	for n, t := range stale {
		if _, ok := after.Chains[n]; !ok {
			next[n] = t
		}
	}
	for _, n := range gone {
		if _, ok := next[n]; !ok {
			next[n] = now
		}
	}
	return next
}

// PlanDeleteStale computes the transaction, separate from a sync's, that
// deletes the chains of stale flushed at least StaleGrace before now and
// not wanted again; its Stale is what remains. An empty Script means
// nothing is ripe.
func PlanDeleteStale(stale Stale, want *Ruleset, now time.Time) Plan {
	p := Plan{Stale: maps.Clone(stale)}
	var b strings.Builder
	for _, n := range slices.Sorted(maps.Keys(stale)) {
		if want.has(n) || now.Sub(stale[n]) < StaleGrace {
			continue
		}
		b.WriteString("delete chain " + Family + " " + Table + " " + n + "\n")
		delete(p.Stale, n)
		p.Deleted++
	}
	p.Script = []byte(b.String())
	return p
}

func (rs *Ruleset) has(chain string) bool {
	return slices.ContainsFunc(rs.Chains, func(c Chain) bool { return c.Name == chain })
}

// Existing names the objects the kernel's table holds, as listed before a
// full sync.
type Existing struct {
	Chains, Sets, Maps []string
}

// PlanFull computes a full sync's transaction: every wanted chain is
// declared and flushed and gets its rules anew, every verdict map is
// flushed and refilled, the sets and maps of existing that are no longer
// wanted are deleted, and its chains that are no longer wanted are flushed
// and added to stale at now (deleted later, see StaleGrace); stale's
// chains the kernel no longer holds are dropped from it. As upstream's nftables proxier, it never
// deletes the table nor flushes a set: the ClientIP affinity sets keep the
// clients the kernel recorded in them across full syncs and restarts.
// Commands run in the order nft needs within one transaction: what refers
// to a stale chain, set or map (rules, map elements) is flushed or deleted
// before it is.
func PlanFull(want *Ruleset, existing Existing, stale Stale, now time.Time) Plan {
	p := Plan{After: applied(want)}
	var b strings.Builder
	line := func(parts ...string) {
		b.WriteString(strings.Join(parts, " "))
		b.WriteByte('\n')
	}
	table := Family + " " + Table
	line("add table", table, `{ comment "rules for kube-proxy" ; }`)
	for _, m := range want.Maps {
		line("add", kind(m), table, m.Name, "{", m.Spec, "}")
		if !m.Set {
			line("flush map", table, m.Name)
		}
	}
	for _, c := range want.Chains {
		declare(line, table, c)
		line("flush chain", table, c.Name)
	}
	staleChains := slices.DeleteFunc(slices.Sorted(slices.Values(existing.Chains)), func(n string) bool {
		_, ok := p.After.Chains[n]
		return ok
	})
	for _, n := range staleChains {
		line("flush chain", table, n)
	}
	fill(line, table, want)
	// Stale sets and maps before stale chains: a stale map's elements may
	// name a stale chain, and only rules (flushed by now) name a set.
	for _, k := range []struct {
		kind  string
		names []string
	}{{"set", existing.Sets}, {"map", existing.Maps}} {
		for _, n := range slices.Sorted(slices.Values(k.names)) {
			if _, ok := p.After.Maps[n]; !ok {
				line("delete", k.kind, table, n)
				p.Deleted++
			}
		}
	}
	p.Stale = Stale{}
	for n, t := range stale {
		if slices.Contains(staleChains, n) {
			p.Stale[n] = t
		}
	}
	p.Stale = p.Stale.retire(staleChains, p.After, now)
	p.Written = len(want.Chains) + len(want.Maps)
	p.Deleted += len(staleChains)
	p.Script = []byte(b.String())
	return p
}

func applied(want *Ruleset) Applied {
	after := Applied{Chains: map[string]Chain{}, Maps: map[string]Map{}}
	for _, c := range want.Chains {
		after.Chains[c.Name] = c
	}
	for _, m := range want.Maps {
		after.Maps[m.Name] = m
	}
	return after
}

// PlanScript computes the transaction that moves the table from prev to
// want. With a nil prev the table is deleted and built anew, atomically
// (the fallback when PlanFull's transaction fails: it loses the affinity
// sets' contents). Otherwise only what differs is touched, in an order
// nft accepts within one transaction: new chains and sets are declared
// first (rules and elements may name them), changed chains are flushed
// and refilled, map elements are deleted and added, sets and maps that
// are no longer wanted are deleted last, and chains no longer wanted are
// flushed and added to stale at now (deleted later, see StaleGrace).
// Chains of stale wanted again leave it.
func PlanScript(want *Ruleset, prev *Applied, stale Stale, now time.Time) Plan {
	after := applied(want)
	var b strings.Builder
	line := func(parts ...string) {
		b.WriteString(strings.Join(parts, " "))
		b.WriteByte('\n')
	}
	table := Family + " " + Table
	p := Plan{After: after}
	if prev == nil {
		line("add table", table)
		line("delete table", table)
		line("add table", table, `{ comment "rules for kube-proxy" ; }`)
		for _, m := range want.Maps {
			line("add", kind(m), table, m.Name, "{", m.Spec, "}")
		}
		for _, c := range want.Chains {
			declare(line, table, c)
		}
		fill(line, table, want)
		p.Stale = Stale{}
		p.Written = len(want.Chains) + len(want.Maps)
		p.Script = []byte(b.String())
		return p
	}
	// New maps and sets, then new chains.
	for _, m := range want.Maps {
		if old, ok := prev.Maps[m.Name]; !ok || old.Spec != m.Spec {
			if ok {
				line("delete", kind(m), table, m.Name) // a changed declaration (affinity timeout)
			}
			line("add", kind(m), table, m.Name, "{", m.Spec, "}")
		}
	}
	for _, c := range want.Chains {
		if _, ok := prev.Chains[c.Name]; !ok {
			declare(line, table, c)
		}
	}
	// Changed chains.
	for _, c := range want.Chains {
		old, ok := prev.Chains[c.Name]
		if ok && slices.Equal(old.Rules, c.Rules) {
			continue
		}
		if ok {
			line("flush chain", table, c.Name)
		}
		for _, r := range c.Rules {
			line("add rule", table, c.Name, r)
		}
		p.Written++
	}
	// Map elements.
	for _, m := range want.Maps {
		old := prev.Maps[m.Name]
		if old.Spec != m.Spec {
			old = Map{} // re-created above: empty
		}
		var del, add []string
		for _, k := range sortedKeys(old.Elements) {
			if v, ok := m.Elements[k]; !ok || v != old.Elements[k] {
				del = append(del, k)
			}
		}
		for _, k := range sortedKeys(m.Elements) {
			if v, ok := old.Elements[k]; !ok || v != m.Elements[k] {
				add = append(add, k)
			}
		}
		if len(del) > 0 {
			line("delete element", table, m.Name, "{", strings.Join(del, ", "), "}")
		}
		if len(add) > 0 {
			line("add element", table, m.Name, "{", elements(m.Elements, add), "}")
		}
		if len(del)+len(add) > 0 {
			p.Written++
		}
	}
	// Gone chains are flushed (deleted later), gone sets deleted.
	var gone []string
	for _, name := range sortedKeys(prev.Chains) {
		if _, ok := after.Chains[name]; !ok {
			line("flush chain", table, name)
			gone = append(gone, name)
			p.Deleted++
		}
	}
	p.Stale = stale.retire(gone, after, now)
	for _, name := range sortedKeys(prev.Maps) {
		if _, ok := after.Maps[name]; !ok {
			line("delete", kind(prev.Maps[name]), table, name)
			p.Deleted++
		}
	}
	p.Script = []byte(b.String())
	return p
}

// fill adds every rule of want's chains and every element of its maps.
func fill(line func(...string), table string, want *Ruleset) {
	for _, c := range want.Chains {
		for _, r := range c.Rules {
			line("add rule", table, c.Name, r)
		}
	}
	for _, m := range want.Maps {
		if len(m.Elements) > 0 {
			line("add element", table, m.Name, "{", elements(m.Elements, sortedKeys(m.Elements)), "}")
		}
	}
}

func declare(line func(...string), table string, c Chain) {
	if c.Hook != "" {
		line("add chain", table, c.Name, "{", c.Hook, "}")
	} else {
		line("add chain", table, c.Name)
	}
}

func kind(m Map) string {
	if m.Set {
		return "set"
	}
	return "map"
}

func elements(m map[string]string, keys []string) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " : " + m[k]
	}
	return strings.Join(parts, ", ")
}

// ParseExisting reads the names of the proxy's table's chains, sets and
// maps from `nft -j list chains|sets|maps ip` (which list every table of
// the family).
func ParseExisting(chains, sets, maps []byte) (Existing, error) {
	var e Existing
	for _, l := range []struct {
		out  []byte
		key  string
		into *[]string
	}{{chains, "chain", &e.Chains}, {sets, "set", &e.Sets}, {maps, "map", &e.Maps}} {
		var doc struct {
			Nftables []map[string]struct {
				Family, Table, Name string
			} `json:"nftables"`
		}
		if err := json.Unmarshal(l.out, &doc); err != nil {
			return Existing{}, fmt.Errorf("nft -j list %ss: %w", l.key, err)
		}
		for _, o := range doc.Nftables {
			if obj, ok := o[l.key]; ok && obj.Family == Family && obj.Table == Table {
				*l.into = append(*l.into, obj.Name)
			}
		}
	}
	return e, nil
}
