// Package iptables implements Services with iptables rules in the layout
// of upstream kube-proxy's iptables mode (KUBE-SERVICES, KUBE-SVC-*,
// KUBE-SEP-*, KUBE-EXT-*, KUBE-SVL-*, KUBE-NODEPORTS, KUBE-MARK-MASQ,
// KUBE-POSTROUTING), so that anyone who knows those rules can read ours
// with iptables-save. Render is pure; Backend applies its output with
// iptables-restore.
package iptables

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/proxy/model"
)

// Table is an iptables table.
type Table string

const (
	Filter Table = "filter"
	NAT    Table = "nat"
)

// The chains every sync writes (upstream's names).
const (
	chainServices         = "KUBE-SERVICES"
	chainNodePorts        = "KUBE-NODEPORTS"
	chainExternalServices = "KUBE-EXTERNAL-SERVICES"
	chainPostrouting      = "KUBE-POSTROUTING"
	chainMarkMasq         = "KUBE-MARK-MASQ"
	chainForward          = "KUBE-FORWARD"
	chainFirewall         = "KUBE-FIREWALL"
)

// masqueradeMark is upstream's default --iptables-masquerade-bit 14.
const masqueradeMark = "0x4000/0x4000"

// Chain is one chain and its rules, each rule the arguments after
// "-A <chain>".
type Chain struct {
	Table Table
	Name  string
	Rules []string
}

// Ruleset is every chain the proxy owns, in render order.
type Ruleset struct {
	Chains []Chain
}

// Options are what rules depend on besides the services.
type Options struct {
	// ClusterCIDR is the pods' range: traffic to a cluster IP from
	// outside it is masqueraded (upstream's --cluster-cidr). Invalid (zero)
	// means masquerade every cluster IP packet (--masquerade-all).
	ClusterCIDR netip.Prefix
}

// JumpRule is a rule the proxy keeps in a built-in chain.
type JumpRule struct {
	Table Table
	Chain string
	Args  []string
}

// JumpRules are the rules in built-in chains that lead into the proxy's
// chains, as upstream.
func JumpRules() []JumpRule {
	return []JumpRule{
		{NAT, "PREROUTING", []string{"-m", "comment", "--comment", "kubernetes service portals", "-j", chainServices}},
		{NAT, "OUTPUT", []string{"-m", "comment", "--comment", "kubernetes service portals", "-j", chainServices}},
		{NAT, "POSTROUTING", []string{"-m", "comment", "--comment", "kubernetes postrouting rules", "-j", chainPostrouting}},
		{Filter, "INPUT", []string{"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "kubernetes externally-visible service portals", "-j", chainExternalServices}},
		{Filter, "INPUT", []string{"-j", chainFirewall}},
		{Filter, "FORWARD", []string{"-m", "comment", "--comment", "kubernetes forwarding rules", "-j", chainForward}},
		{Filter, "FORWARD", []string{"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "kubernetes service portals", "-j", chainServices}},
		{Filter, "FORWARD", []string{"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "kubernetes externally-visible service portals", "-j", chainExternalServices}},
		{Filter, "OUTPUT", []string{"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "kubernetes service portals", "-j", chainServices}},
		{Filter, "OUTPUT", []string{"-j", chainFirewall}},
	}
}

// hashName is a chain name: prefix and the first 16 characters of the
// base32 SHA-256 of the parts (iptables limits names to 28 characters).
func hashName(prefix string, parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "")))
	return prefix + base32.StdEncoding.EncodeToString(sum[:])[:16]
}

func svcChain(sp *model.ServicePort) string {
	return hashName("KUBE-SVC-", sp.Name.String(), strings.ToLower(string(sp.Name.Protocol)))
}
func svlChain(sp *model.ServicePort) string {
	return hashName("KUBE-SVL-", sp.Name.String(), strings.ToLower(string(sp.Name.Protocol)))
}
func extChain(sp *model.ServicePort) string {
	return hashName("KUBE-EXT-", sp.Name.String(), strings.ToLower(string(sp.Name.Protocol)))
}
func sepChain(sp *model.ServicePort, e model.Endpoint) string {
	return hashName("KUBE-SEP-", sp.Name.String(), strings.ToLower(string(sp.Name.Protocol)), e.String())
}

// OwnedChain reports whether a chain name is one of the proxy's.
func OwnedChain(name string) bool {
	switch name {
	case chainServices, chainNodePorts, chainExternalServices, chainPostrouting, chainMarkMasq, chainForward, chainFirewall:
		return true
	}
	for _, p := range []string{"KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-SEP-"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// rule joins arguments into one rule, quoting the comment.
type rule []string

func (r rule) String() string {
	out := make([]string, len(r))
	for i, a := range r {
		if strings.ContainsAny(a, " \"") || a == "" {
			a = strconv.Quote(a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

func comment(c string) []string { return []string{"-m", "comment", "--comment", c} }

// match is upstream's order: protocol, comment, destination port.
func match(c string, proto v1.Protocol, port int32) []string {
	p := strings.ToLower(string(proto))
	return []string{"-p", p, "-m", "comment", "--comment", c, "-m", p, "--dport", strconv.Itoa(int(port))}
}

func host(ip netip.Addr) string { return ip.String() + "/32" }

// Render computes every chain the proxy owns for snap. It is pure: the
// same snapshot and options give the same text.
func Render(snap *model.Snapshot, opt Options) *Ruleset {
	var (
		natServices, natNodePorts      []string
		filterServices, filterExternal []string
		perService                     []Chain
	)
	add := func(dst *[]string, parts ...[]string) {
		var r rule
		for _, p := range parts {
			r = append(r, p...)
		}
		*dst = append(*dst, r.String())
	}
	for _, sp := range snap.Ports {
		name := sp.Name.String()
		r := sp.Route()
		svc, svl, ext := svcChain(sp), svlChain(sp), extChain(sp)
		clusterTarget := svc
		if r.ClusterLocal {
			clusterTarget = svl
		}
		noEndpoints := func(v model.Verdict) (string, []string) {
			if v == model.Reject {
				return " has no endpoints", []string{"-j", "REJECT", "--reject-with", "icmp-port-unreachable"}
			}
			return " has no local endpoints", []string{"-j", "DROP"}
		}

		// Cluster IP.
		dst := []string{"-d", host(sp.ClusterIP)}
		if r.Cluster == model.Forward {
			add(&natServices, dst, match(name+" cluster IP", sp.Name.Protocol, sp.Port), []string{"-j", clusterTarget})
		} else {
			why, verdict := noEndpoints(r.Cluster)
			add(&filterServices, dst, match(name+why, sp.Name.Protocol, sp.Port), verdict)
		}
		// External IPs and node ports.
		for _, ip := range sp.ExternalIPs {
			d := []string{"-d", host(ip)}
			if r.External == model.Forward {
				add(&natServices, d, match(name+" external IP", sp.Name.Protocol, sp.Port), []string{"-j", ext})
			} else {
				why, verdict := noEndpoints(r.External)
				add(&filterExternal, d, match(name+why, sp.Name.Protocol, sp.Port), verdict)
			}
		}
		if sp.NodePort != 0 {
			if r.External == model.Forward {
				add(&natNodePorts, match(name, sp.Name.Protocol, sp.NodePort), []string{"-j", ext})
			} else {
				why, verdict := noEndpoints(r.External)
				add(&filterExternal, []string{"-m", "addrtype", "--dst-type", "LOCAL"}, match(name+why, sp.Name.Protocol, sp.NodePort), verdict)
			}
		}

		// KUBE-EXT-*: external traffic, masqueraded (Cluster policy) or
		// kept on this node's endpoints (Local policy).
		if r.HasExternal && r.External == model.Forward {
			c := Chain{Table: NAT, Name: ext}
			if sp.ExternalLocal {
				if opt.ClusterCIDR.IsValid() {
					add(&c.Rules, []string{"-s", opt.ClusterCIDR.String()}, comment("pod traffic for "+name+" external destinations"), []string{"-j", svc})
				}
				add(&c.Rules, comment("masquerade LOCAL traffic for "+name+" external destinations"), []string{"-m", "addrtype", "--src-type", "LOCAL", "-j", chainMarkMasq})
				add(&c.Rules, comment("route LOCAL traffic for "+name+" external destinations"), []string{"-m", "addrtype", "--src-type", "LOCAL", "-j", svc})
				add(&c.Rules, []string{"-j", svl})
			} else {
				add(&c.Rules, comment("masquerade traffic for "+name+" external destinations"), []string{"-j", chainMarkMasq})
				add(&c.Rules, []string{"-j", svc})
			}
			perService = append(perService, c)
		}
		// KUBE-SVC-*: every usable endpoint; KUBE-SVL-*: the local ones.
		// Off-cluster clients of the cluster IP are masqueraded in the
		// chain the cluster IP jumps to.
		masq := func(c *Chain) {
			if opt.ClusterCIDR.IsValid() {
				add(&c.Rules, []string{"!", "-s", opt.ClusterCIDR.String()}, dst, match(name+" cluster IP", sp.Name.Protocol, sp.Port), []string{"-j", chainMarkMasq})
			} else {
				add(&c.Rules, dst, match(name+" cluster IP", sp.Name.Protocol, sp.Port), []string{"-j", chainMarkMasq})
			}
		}
		if r.NeedService {
			c := Chain{Table: NAT, Name: svc}
			masq(&c)
			spread(&c, sp, r.All, name)
			perService = append(perService, c)
		}
		if r.NeedLocal {
			c := Chain{Table: NAT, Name: svl}
			if r.ClusterLocal {
				masq(&c)
			}
			spread(&c, sp, r.Local, name)
			perService = append(perService, c)
		}
		// KUBE-SEP-*: one per endpoint in use.
		for _, e := range r.Endpoints {
			c := Chain{Table: NAT, Name: sepChain(sp, e)}
			add(&c.Rules, []string{"-s", host(e.IP)}, comment(name), []string{"-j", chainMarkMasq})
			dnat := []string{"-p", strings.ToLower(string(sp.Name.Protocol))}
			if sp.AffinitySeconds > 0 {
				dnat = append(dnat, "-m", "recent", "--name", c.Name, "--mask", "255.255.255.255", "--rsource", "--set")
			}
			add(&c.Rules, comment(name), dnat, []string{"-m", strings.ToLower(string(sp.Name.Protocol)), "-j", "DNAT", "--to-destination", e.String()})
			perService = append(perService, c)
		}
	}
	// The node-ports jump is last: it matches any local destination.
	add(&natServices, comment("kubernetes service nodeports; NOTE: this must be the last rule in this chain"), []string{"-m", "addrtype", "--dst-type", "LOCAL", "-j", chainNodePorts})

	rs := &Ruleset{}
	rs.Chains = append(rs.Chains,
		Chain{Table: Filter, Name: chainServices, Rules: filterServices},
		Chain{Table: Filter, Name: chainExternalServices, Rules: filterExternal},
		Chain{Table: Filter, Name: chainForward, Rules: []string{
			rule{"-m", "conntrack", "--ctstate", "INVALID", "-j", "DROP"}.String(),
			rule(append(comment("kubernetes forwarding rules"), "-m", "mark", "--mark", masqueradeMark, "-j", "ACCEPT")).String(),
			rule(append(comment("kubernetes forwarding conntrack rule"), "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")).String(),
		}},
		Chain{Table: Filter, Name: chainFirewall, Rules: []string{
			// route_localnet lets node ports answer on 127.0.0.1; this
			// keeps other hosts from reaching 127/8 through it (upstream's rule).
			rule(append([]string{"!", "-s", "127.0.0.0/8", "-d", "127.0.0.0/8"}, append(comment("block incoming localnet connections"), "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT", "-j", "DROP")...)).String(),
		}},
		Chain{Table: NAT, Name: chainServices, Rules: natServices},
		Chain{Table: NAT, Name: chainNodePorts, Rules: natNodePorts},
		Chain{Table: NAT, Name: chainMarkMasq, Rules: []string{rule{"-j", "MARK", "--or-mark", "0x4000"}.String()}},
		Chain{Table: NAT, Name: chainPostrouting, Rules: []string{
			rule{"-m", "mark", "!", "--mark", masqueradeMark, "-j", "RETURN"}.String(),
			rule{"-j", "MARK", "--xor-mark", "0x4000"}.String(),
			rule(append(comment("kubernetes service traffic requiring SNAT"), "-j", "MASQUERADE", "--random-fully")).String(),
		}},
	)
	rs.Chains = append(rs.Chains, perService...)
	return rs
}

// spread writes the rules that pick one of eps: sticky rules first for
// ClientIP affinity, then a random choice with probability 1/(n-i) for
// the i-th endpoint so that each gets an equal share.
func spread(c *Chain, sp *model.ServicePort, eps []model.Endpoint, name string) {
	if sp.AffinitySeconds > 0 {
		for _, e := range eps {
			sep := sepChain(sp, e)
			c.Rules = append(c.Rules, rule(append(comment(name+" -> "+e.String()),
				"-m", "recent", "--name", sep, "--mask", "255.255.255.255", "--rsource", "--rcheck",
				"--seconds", strconv.Itoa(int(sp.AffinitySeconds)), "--reap", "-j", sep)).String())
		}
	}
	for i, e := range eps {
		r := comment(name + " -> " + e.String())
		if n := len(eps) - i; n > 1 {
			r = append(r, "-m", "statistic", "--mode", "random", "--probability", fmt.Sprintf("%0.10f", 1/float64(n)))
		}
		c.Rules = append(c.Rules, rule(append(r, "-j", sepChain(sp, e))).String())
	}
}
