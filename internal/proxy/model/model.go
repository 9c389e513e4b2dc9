// Package model is what a proxy implements: every proxied service port
// with its endpoints, computed purely from Services and EndpointSlices.
package model

import (
	"net/netip"
	"slices"
	"sort"
	"strconv"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// ServicePortName names one port of one Service, as upstream kube-proxy
// prints it in rule comments: "ns/name:port", or "ns/name" for an
// unnamed port.
type ServicePortName struct {
	Namespace, Name, Port string
	Protocol              v1.Protocol
}

func (n ServicePortName) String() string {
	s := n.Namespace + "/" + n.Name
	if n.Port != "" {
		s += ":" + n.Port
	}
	return s
}

// Endpoint is one backend of a service port.
type Endpoint struct {
	IP   netip.Addr
	Port int32
	// Ready, Serving and Terminating are the EndpointSlice conditions,
	// with upstream's defaults (nil ready is ready; nil serving follows
	// ready).
	Ready, Serving, Terminating bool
	// Local is true for an endpoint on this proxy's node.
	Local bool
}

// String is "ip:port".
func (e Endpoint) String() string {
	return netip.AddrPortFrom(e.IP, uint16(e.Port)).String()
}

// ServicePort is everything a proxy needs to implement one port of one
// Service.
type ServicePort struct {
	Name      ServicePortName
	ClusterIP netip.Addr
	Port      int32
	// NodePort is 0 unless the Service is NodePort or LoadBalancer.
	NodePort    int32
	ExternalIPs []netip.Addr
	// AffinitySeconds is > 0 for sessionAffinity ClientIP.
	AffinitySeconds int32
	// InternalLocal and ExternalLocal are the Local traffic policies.
	InternalLocal, ExternalLocal bool
	// Endpoints are every known backend, sorted by address.
	Endpoints []Endpoint
}

// UsableEndpoints are the endpoints traffic goes to: the ready ones, or,
// when none is ready, the serving ones that are terminating (upstream's
// terminating-endpoint fallback). local keeps only this node's.
func (sp *ServicePort) UsableEndpoints(local bool) []Endpoint {
	var ready, terminating []Endpoint
	for _, e := range sp.Endpoints {
		if local && !e.Local {
			continue
		}
		switch {
		case e.Ready:
			ready = append(ready, e)
		case e.Serving && e.Terminating:
			terminating = append(terminating, e)
		}
	}
	if len(ready) > 0 {
		return ready
	}
	return terminating
}

// Snapshot is the desired state of every proxied service port, sorted by
// name so that rules render deterministically.
type Snapshot struct {
	Ports []*ServicePort
}

// Build computes the service ports that a proxy on nodeName
// implements from the cluster's Services and EndpointSlices. Services
// without a cluster IP (headless, ExternalName) are not proxied; only IPv4
// is (Skiff's clusters are single-stack IPv4).
func Build(services []*v1.Service, slices []*discoveryv1.EndpointSlice, nodeName string) *Snapshot {
	bySvc := map[[2]string][]*discoveryv1.EndpointSlice{}
	for _, s := range slices {
		svc := s.Labels[discoveryv1.LabelServiceName]
		if svc == "" || s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		k := [2]string{s.Namespace, svc}
		bySvc[k] = append(bySvc[k], s)
	}
	snap := &Snapshot{}
	for _, svc := range services {
		ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
		if svc.Spec.Type == v1.ServiceTypeExternalName || err != nil || !ip.Is4() {
			continue
		}
		var extIPs []netip.Addr
		for _, s := range svc.Spec.ExternalIPs {
			if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
				extIPs = append(extIPs, a)
			}
		}
		affinity := int32(0)
		if svc.Spec.SessionAffinity == v1.ServiceAffinityClientIP {
			affinity = v1.DefaultClientIPServiceAffinitySeconds
			if c := svc.Spec.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
				affinity = *c.ClientIP.TimeoutSeconds
			}
		}
		externalLocal := svc.Spec.ExternalTrafficPolicy == v1.ServiceExternalTrafficPolicyLocal &&
			(svc.Spec.Type == v1.ServiceTypeNodePort || svc.Spec.Type == v1.ServiceTypeLoadBalancer)
		internalLocal := svc.Spec.InternalTrafficPolicy != nil && *svc.Spec.InternalTrafficPolicy == v1.ServiceInternalTrafficPolicyLocal
		for _, p := range svc.Spec.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = v1.ProtocolTCP
			}
			sp := &ServicePort{
				Name:            ServicePortName{Namespace: svc.Namespace, Name: svc.Name, Port: p.Name, Protocol: proto},
				ClusterIP:       ip,
				Port:            p.Port,
				ExternalIPs:     extIPs,
				AffinitySeconds: affinity,
				InternalLocal:   internalLocal,
				ExternalLocal:   externalLocal,
			}
			if svc.Spec.Type == v1.ServiceTypeNodePort || svc.Spec.Type == v1.ServiceTypeLoadBalancer {
				sp.NodePort = p.NodePort
			}
			sp.Endpoints = endpointsFor(bySvc[[2]string{svc.Namespace, svc.Name}], p.Name, proto, nodeName)
			snap.Ports = append(snap.Ports, sp)
		}
	}
	sort.Slice(snap.Ports, func(i, j int) bool {
		a, b := snap.Ports[i].Name, snap.Ports[j].Name
		if a.String() != b.String() {
			return a.String() < b.String()
		}
		return a.Protocol < b.Protocol
	})
	return snap
}

// endpointsFor collects the endpoints of one service port from its
// slices: the slice port with the same name and protocol gives the port;
// an address listed by two slices counts once.
func endpointsFor(slices []*discoveryv1.EndpointSlice, portName string, proto v1.Protocol, nodeName string) []Endpoint {
	seen := map[string]bool{}
	var out []Endpoint
	for _, s := range slices {
		port := int32(-1)
		for _, p := range s.Ports {
			pn, pp := "", v1.ProtocolTCP
			if p.Name != nil {
				pn = *p.Name
			}
			if p.Protocol != nil {
				pp = *p.Protocol
			}
			if pn == portName && pp == proto && p.Port != nil {
				port = *p.Port
				break
			}
		}
		if port < 0 {
			continue
		}
		for _, e := range s.Endpoints {
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready
			serving := ready
			if e.Conditions.Serving != nil {
				serving = *e.Conditions.Serving
			}
			terminating := e.Conditions.Terminating != nil && *e.Conditions.Terminating
			local := e.NodeName != nil && *e.NodeName == nodeName
			for _, a := range e.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil || !ip.Is4() {
					continue
				}
				key := ip.String() + ":" + strconv.Itoa(int(port))
				if seen[key] {
					continue
				}
				seen[key] = true
				out = append(out, Endpoint{IP: ip, Port: port, Ready: ready, Serving: serving, Terminating: terminating, Local: local})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].IP.Compare(out[j].IP); c != 0 {
			return c < 0
		}
		return out[i].Port < out[j].Port
	})
	return out
}

// SyncResult says what one backend sync did.
type SyncResult struct {
	// Full is true when every rule was rewritten.
	Full bool
	// Written and Deleted count the rule groups (iptables chains)
	// rewritten and removed; Rules counts the rules in force after it.
	Written, Deleted, Rules int
	// Replaced is true when the full sync's transaction failed and the
	// backend replaced its whole table instead (nftables: the ClientIP
	// affinity sets lost their clients); ReplaceCause is why that
	// transaction failed.
	Replaced     bool
	ReplaceCause error
	// CleanupErr is why deleting leftovers of earlier syncs failed (the
	// nftables chains flushed a while ago); the rules are right, and the
	// next sync tries again.
	CleanupErr error
}

// Verdict is what becomes of traffic to one of a service port's
// addresses.
type Verdict int

const (
	// Forward sends it to an endpoint.
	Forward Verdict = iota
	// Reject refuses it at once: the service has no usable endpoint.
	Reject
	// Drop discards it: a Local traffic policy and no endpoint on this
	// node, though other nodes have some (as upstream).
	Drop
)

// Route is how any backend routes one service port: the decision both
// the iptables and the nftables rules are written from.
type Route struct {
	// All and Local are the usable endpoints of the whole service and of
	// this node.
	All, Local []Endpoint
	// Cluster is the verdict for the cluster IP; ClusterLocal is true
	// when it forwards to Local only (internalTrafficPolicy Local).
	Cluster      Verdict
	ClusterLocal bool
	// External is the verdict for node ports and external IPs (Forward
	// goes through the external chain, which masquerades, or for the
	// Local policy keeps to Local).
	External Verdict
	// HasExternal is true when the port has a node port or external IPs.
	HasExternal bool
	// NeedService and NeedLocal say whether the choice over All and over
	// Local is referenced; Endpoints are those that need a DNAT.
	NeedService, NeedLocal bool
	Endpoints              []Endpoint
}

// Route computes the port's route.
func (sp *ServicePort) Route() Route {
	r := Route{All: sp.UsableEndpoints(false), Local: sp.UsableEndpoints(true)}
	r.HasExternal = sp.NodePort != 0 || len(sp.ExternalIPs) > 0
	verdict := func(eps []Endpoint) Verdict {
		switch {
		case len(eps) > 0:
			return Forward
		case len(r.All) == 0:
			return Reject
		}
		return Drop
	}
	clusterEPs, externalEPs := r.All, r.All
	if sp.InternalLocal {
		clusterEPs, r.ClusterLocal = r.Local, true
	}
	if sp.ExternalLocal {
		externalEPs = r.Local
	}
	r.Cluster, r.External = verdict(clusterEPs), verdict(externalEPs)
	// The choice over all endpoints is reached from the cluster IP unless
	// that is local-only, and from the external chain under both policies
	// (pods and the node itself are not held to the Local policy).
	r.NeedService = len(r.All) > 0 && (!sp.InternalLocal || r.HasExternal)
	r.NeedLocal = len(r.Local) > 0 && (sp.InternalLocal || sp.ExternalLocal)
	if r.NeedService {
		r.Endpoints = append(r.Endpoints, r.All...)
	}
	if r.NeedLocal {
		for _, e := range r.Local {
			if !slices.Contains(r.Endpoints, e) {
				r.Endpoints = append(r.Endpoints, e)
			}
		}
	}
	return r
}
