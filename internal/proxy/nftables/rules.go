// Package nftables implements Services with one nftables table of its
// own, "ip kube-proxy", laid out as upstream kube-proxy's nftables mode:
// a verdict map from (address, protocol, port) to a chain per service, a
// random choice of an endpoint chain per service, a DNAT per endpoint.
// Render is pure; Backend applies its output with `nft -f`, in one
// transaction.
package nftables

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/proxy/model"
)

// Family and Table name the proxy's table.
const (
	Family = "ip"
	Table  = "kube-proxy"
)

// Chain is one chain: Hook is the base-chain declaration ("type nat hook
// output priority -100 ;") or empty for a regular chain.
type Chain struct {
	Name  string
	Hook  string
	Rules []string
}

// Map is a verdict map or a set: Spec is its declaration body, Elements
// (maps only) its key → value pairs.
type Map struct {
	Name     string
	Set      bool
	Spec     string
	Elements map[string]string
}

// Ruleset is the whole table.
type Ruleset struct {
	Chains []Chain
	Maps   []Map
}

// Options are what rules depend on besides the services.
type Options struct {
	// ClusterCIDR is the pods' range: traffic to a cluster IP from
	// outside it is masqueraded. Zero means masquerade all of it.
	ClusterCIDR netip.Prefix
	// Clock times the deletion of flushed chains (StaleGrace). Default
	// the real clock.
	Clock clock.PassiveClock
}

// The fixed chains and maps.
const (
	chainServices       = "services"
	chainMasquerading   = "masquerading"
	chainMarkMasq       = "mark-for-masquerade"
	chainEndpointsCheck = "service-endpoints-check"
	chainReject         = "reject-chain"
	chainFirewall       = "localnet-firewall"
	mapServiceIPs       = "service-ips"
	mapNodePorts        = "service-nodeports"
	mapNoEndpointIPs    = "no-endpoint-services"
	mapNoEndpointPorts  = "no-endpoint-nodeports"
)

// hash is 8 characters of base32 SHA-256: chain names stay unique and
// still carry the readable service name after it, as upstream's do.
func hash(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "")))
	return base32.StdEncoding.EncodeToString(sum[:])[:8]
}

// portID is "ns/name/tcp/port" (upstream: the port's name, or its number).
func portID(sp *model.ServicePort) string {
	p := sp.Name.Port
	if p == "" {
		p = strconv.Itoa(int(sp.Port))
	}
	return sp.Name.Namespace + "/" + sp.Name.Name + "/" + proto(sp) + "/" + p
}

func proto(sp *model.ServicePort) string { return strings.ToLower(string(sp.Name.Protocol)) }

func serviceChain(sp *model.ServicePort) string {
	id := portID(sp)
	return "service-" + hash(id) + "-" + id
}
func localChain(sp *model.ServicePort) string {
	id := portID(sp)
	return "local-" + hash(id) + "-" + id
}
func externalChain(sp *model.ServicePort) string {
	id := portID(sp)
	return "external-" + hash(id) + "-" + id
}
func endpointChain(sp *model.ServicePort, e model.Endpoint) string {
	id := portID(sp)
	return "endpoint-" + hash(id, e.String()) + "-" + id + "__" + e.IP.String() + "/" + strconv.Itoa(int(e.Port))
}

// affinitySet's name carries the timeout: a changed timeout is a new set
// (and changed rules), never a set redeclared under rules that use it.
func affinitySet(sp *model.ServicePort, e model.Endpoint) string {
	id := portID(sp)
	return "affinity-" + hash(id, e.String(), strconv.Itoa(int(sp.AffinitySeconds))) + "-" + id + "__" + e.IP.String() + "/" + strconv.Itoa(int(e.Port))
}

// Names are used unquoted: nft 1.0 takes no quoted chain or set names,
// and every part of them (DNS labels, port names, addresses) is safe.

// Render computes the whole table for snap. It is pure.
func Render(snap *model.Snapshot, opt Options) *Ruleset {
	serviceIPs, nodePorts := map[string]string{}, map[string]string{}
	noEndpointIPs, noEndpointPorts := map[string]string{}, map[string]string{}
	var perService []Chain
	var sets []Map
	notFromPods := ""
	if opt.ClusterCIDR.IsValid() {
		notFromPods = "ip saddr != " + opt.ClusterCIDR.String() + " "
	}
	for _, sp := range snap.Ports {
		r := sp.Route()
		p := proto(sp)
		svc, loc, ext := serviceChain(sp), localChain(sp), externalChain(sp)
		clusterTarget := svc
		if r.ClusterLocal {
			clusterTarget = loc
		}
		noEndpoints := func(v model.Verdict) string {
			if v == model.Reject {
				return "goto " + chainReject
			}
			return "drop"
		}
		key := func(ip netip.Addr, port int32) string { return fmt.Sprintf("%s . %s . %d", ip, p, port) }
		if r.Cluster == model.Forward {
			serviceIPs[key(sp.ClusterIP, sp.Port)] = "goto " + clusterTarget
		} else {
			noEndpointIPs[key(sp.ClusterIP, sp.Port)] = noEndpoints(r.Cluster)
		}
		for _, ip := range sp.ExternalIPs {
			if r.External == model.Forward {
				serviceIPs[key(ip, sp.Port)] = "goto " + ext
			} else {
				noEndpointIPs[key(ip, sp.Port)] = noEndpoints(r.External)
			}
		}
		if sp.NodePort != 0 {
			k := fmt.Sprintf("%s . %d", p, sp.NodePort)
			if r.External == model.Forward {
				nodePorts[k] = "goto " + ext
			} else {
				noEndpointPorts[k] = noEndpoints(r.External)
			}
		}
		if r.HasExternal && r.External == model.Forward {
			c := Chain{Name: ext}
			if sp.ExternalLocal {
				if opt.ClusterCIDR.IsValid() {
					c.Rules = append(c.Rules, "ip saddr "+opt.ClusterCIDR.String()+" goto "+svc+` comment "short-circuit pod traffic"`)
				}
				c.Rules = append(c.Rules,
					"fib saddr type local jump "+chainMarkMasq+` comment "masquerade local traffic"`,
					"fib saddr type local goto "+svc+` comment "short-circuit local traffic"`,
					"goto "+loc)
			} else {
				c.Rules = append(c.Rules, "jump "+chainMarkMasq, "goto "+svc)
			}
			perService = append(perService, c)
		}
		if r.NeedService {
			c := Chain{Name: svc, Rules: []string{fmt.Sprintf("ip daddr %s %s dport %d %sjump %s", sp.ClusterIP, p, sp.Port, notFromPods, chainMarkMasq)}}
			c.Rules = append(c.Rules, spread(sp, r.All)...)
			perService = append(perService, c)
		}
		if r.NeedLocal {
			c := Chain{Name: loc}
			if r.ClusterLocal {
				// The cluster IP's own chain: off-cluster clients are
				// masqueraded here too, as in the service chain.
				c.Rules = append(c.Rules, fmt.Sprintf("ip daddr %s %s dport %d %sjump %s", sp.ClusterIP, p, sp.Port, notFromPods, chainMarkMasq))
			}
			c.Rules = append(c.Rules, spread(sp, r.Local)...)
			perService = append(perService, c)
		}
		for _, e := range r.Endpoints {
			c := Chain{Name: endpointChain(sp, e), Rules: []string{"ip saddr " + e.IP.String() + " jump " + chainMarkMasq}}
			if sp.AffinitySeconds > 0 {
				set := affinitySet(sp, e)
				sets = append(sets, Map{Name: set, Set: true,
					Spec: fmt.Sprintf("type ipv4_addr ; flags dynamic,timeout ; timeout %ds ;", sp.AffinitySeconds)})
				c.Rules = append(c.Rules, "update @"+set+" { ip saddr }")
			}
			c.Rules = append(c.Rules, fmt.Sprintf("meta l4proto %s dnat to %s", p, e.String()))
			perService = append(perService, c)
		}
	}

	rs := &Ruleset{Chains: []Chain{
		{Name: "filter-input", Hook: "type filter hook input priority -110 ; policy accept ;",
			Rules: []string{"ct state new jump " + chainEndpointsCheck, "jump " + chainFirewall}},
		{Name: "filter-forward", Hook: "type filter hook forward priority -110 ; policy accept ;",
			Rules: []string{"ct state new jump " + chainEndpointsCheck}},
		{Name: "filter-output", Hook: "type filter hook output priority -110 ; policy accept ;",
			Rules: []string{"ct state new jump " + chainEndpointsCheck}},
		{Name: "nat-prerouting", Hook: "type nat hook prerouting priority -100 ; policy accept ;", Rules: []string{"jump " + chainServices}},
		{Name: "nat-output", Hook: "type nat hook output priority -100 ; policy accept ;", Rules: []string{"jump " + chainServices}},
		{Name: "nat-postrouting", Hook: "type nat hook postrouting priority 100 ; policy accept ;", Rules: []string{"jump " + chainMasquerading}},
		{Name: chainMasquerading, Rules: []string{
			"meta mark & 0x4000 == 0 return",
			"meta mark set meta mark ^ 0x4000",
			"masquerade fully-random",
		}},
		{Name: chainMarkMasq, Rules: []string{"meta mark set meta mark | 0x4000"}},
		{Name: chainServices, Rules: []string{
			"ip daddr . meta l4proto . th dport vmap @" + mapServiceIPs,
			"fib daddr type local meta l4proto . th dport vmap @" + mapNodePorts,
		}},
		{Name: chainEndpointsCheck, Rules: []string{
			"ip daddr . meta l4proto . th dport vmap @" + mapNoEndpointIPs,
			"fib daddr type local meta l4proto . th dport vmap @" + mapNoEndpointPorts,
		}},
		{Name: chainReject, Rules: []string{"reject"}},
		// Node ports answer on 127.0.0.1 (route_localnet); other hosts
		// must not reach 127/8 through that.
		{Name: chainFirewall, Rules: []string{
			`ip saddr != 127.0.0.0/8 ip daddr 127.0.0.0/8 ct status & dnat == 0 drop comment "block incoming localnet connections"`,
		}},
	}}
	rs.Chains = append(rs.Chains, perService...)
	addr := "type ipv4_addr . inet_proto . inet_service : verdict ;"
	port := "type inet_proto . inet_service : verdict ;"
	rs.Maps = append([]Map{
		{Name: mapServiceIPs, Spec: addr, Elements: serviceIPs},
		{Name: mapNodePorts, Spec: port, Elements: nodePorts},
		{Name: mapNoEndpointIPs, Spec: addr, Elements: noEndpointIPs},
		{Name: mapNoEndpointPorts, Spec: port, Elements: noEndpointPorts},
	}, sets...)
	return rs
}

// spread is the rules that pick one of eps: an endpoint a client is
// stuck to first (ClientIP affinity), else a random one.
func spread(sp *model.ServicePort, eps []model.Endpoint) []string {
	var rules []string
	if sp.AffinitySeconds > 0 {
		for _, e := range eps {
			rules = append(rules, "ip saddr @"+affinitySet(sp, e)+" goto "+endpointChain(sp, e))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "numgen random mod %d vmap { ", len(eps))
	for i, e := range eps {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d : goto %s", i, endpointChain(sp, e))
	}
	b.WriteString(" }")
	return append(rules, b.String())
}

// sortedKeys lists a map's keys in order (deterministic output).
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
