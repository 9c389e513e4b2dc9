package iptables

import (
	"bufio"
	"bytes"
	"slices"
	"sort"
	"strings"
)

// ChainKey names a chain in a table.
type ChainKey struct {
	Table Table
	Name  string
}

// Applied is what the kernel holds of the proxy's chains after a
// successful restore: each chain's rules.
type Applied map[ChainKey][]string

// Plan is one iptables-restore --noflush run.
type Plan struct {
	// Input is iptables-restore's standard input.
	Input []byte
	// Written and Deleted count the chains rewritten and removed.
	Written, Deleted int
	// After is the state the kernel is in once Input is applied.
	After Applied
}

// PlanRestore computes the restore that moves the kernel from prev to
// want. A chain of want is declared (which flushes it under --noflush) and
// refilled only when its rules differ from prev's; every chain in
// existing that want lacks is flushed and deleted. A nil prev rewrites
// every chain (a full sync). Chains are only deleted after every rewritten
// chain has stopped jumping to them, in the same transaction.
func PlanRestore(want *Ruleset, prev Applied, existing []ChainKey) Plan {
	after := Applied{}
	wanted := map[ChainKey]bool{}
	var write []Chain
	for _, c := range want.Chains {
		k := ChainKey{c.Table, c.Name}
		wanted[k] = true
		after[k] = c.Rules
		if old, ok := prev[k]; prev != nil && ok && slices.Equal(old, c.Rules) {
			continue
		}
		write = append(write, c)
	}
	var remove []ChainKey
	for _, k := range existing {
		if !wanted[k] && OwnedChain(k.Name) {
			remove = append(remove, k)
		}
	}
	sort.Slice(remove, func(i, j int) bool {
		if remove[i].Table != remove[j].Table {
			return remove[i].Table < remove[j].Table
		}
		return remove[i].Name < remove[j].Name
	})
	var b bytes.Buffer
	for _, t := range []Table{Filter, NAT} {
		var decl, rules, del []string
		for _, c := range write {
			if c.Table != t {
				continue
			}
			decl = append(decl, ":"+c.Name+" - [0:0]")
			for _, r := range c.Rules {
				rules = append(rules, "-A "+c.Name+" "+r)
			}
		}
		for _, k := range remove {
			if k.Table != t {
				continue
			}
			decl = append(decl, ":"+k.Name+" - [0:0]")
			del = append(del, "-X "+k.Name)
		}
		if len(decl) == 0 {
			continue
		}
		b.WriteString("*" + string(t) + "\n")
		for _, part := range [][]string{decl, rules, del} {
			for _, l := range part {
				b.WriteString(l)
				b.WriteByte('\n')
			}
		}
		b.WriteString("COMMIT\n")
	}
	return Plan{Input: b.Bytes(), Written: len(write), Deleted: len(remove), After: after}
}

// ParseChains lists the chains declared in iptables-save output of one
// table.
func ParseChains(t Table, save []byte) []ChainKey {
	var out []ChainKey
	sc := bufio.NewScanner(bytes.NewReader(save))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, ":") {
			continue
		}
		if name, _, ok := strings.Cut(l[1:], " "); ok {
			out = append(out, ChainKey{t, name})
		}
	}
	return out
}
