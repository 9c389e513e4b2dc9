package nftables

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
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
}

// Existing names the objects the kernel's table holds, as listed before a
// full sync.
type Existing struct {
	Chains, Sets, Maps []string
}

// PlanFull computes a full sync's transaction: every wanted chain is
// declared and flushed and gets its rules anew, every verdict map is
// flushed and refilled, and the chains, sets and maps of existing that are
// no longer wanted are deleted. As upstream's nftables proxier, it never
// deletes the table nor flushes a set: the ClientIP affinity sets keep the
// clients the kernel recorded in them across full syncs and restarts.
// Commands run in the order nft needs within one transaction: what refers
// to a stale chain, set or map (rules, map elements) is flushed or deleted
// before it is.
func PlanFull(want *Ruleset, existing Existing) Plan {
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
	for _, n := range staleChains {
		line("delete chain", table, n)
	}
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
// and refilled, map elements are deleted and added, and chains and sets
// that are no longer wanted are flushed and deleted last, when nothing
// refers to them any more.
func PlanScript(want *Ruleset, prev *Applied) Plan {
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
	// Gone chains, then gone sets.
	for _, name := range sortedKeys(prev.Chains) {
		if _, ok := after.Chains[name]; !ok {
			line("flush chain", table, name)
			p.Deleted++
		}
	}
	for _, name := range sortedKeys(prev.Chains) {
		if _, ok := after.Chains[name]; !ok {
			line("delete chain", table, name)
		}
	}
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
