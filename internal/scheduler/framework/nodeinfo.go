package framework

import (
	"fmt"
	"sync/atomic"

	v1 "k8s.io/api/core/v1"
)

var generation atomic.Int64

// nextGeneration returns a process-wide increasing number, so a NodeInfo
// that was deleted and re-created never repeats a generation.
func nextGeneration() int64 { return generation.Add(1) }

// NodeInfo is one node with the pods the scheduler counts on it (bound and
// assumed) and the totals derived from them.
//
// A NodeInfo in a Snapshot must not be changed; Clone it first.
type NodeInfo struct {
	node *v1.Node

	Pods                         []*PodInfo
	PodsWithAffinity             []*PodInfo
	PodsWithRequiredAntiAffinity []*PodInfo

	// UsedPorts are the host ports taken by Pods.
	UsedPorts HostPortInfo
	// Requested sums the pods' requests; NonZeroRequested sums cpu and
	// memory with the scoring defaults.
	Requested        Resource
	NonZeroRequested Resource
	// Allocatable is the node's status.allocatable.
	Allocatable Resource
	// ImageStates are the images present on the node, by every name.
	ImageStates map[string]*ImageStateSummary

	// Generation changes whenever the NodeInfo changes.
	Generation int64
}

// ImageStateSummary is what the scheduler knows of one image on a node.
type ImageStateSummary struct {
	// Size in bytes.
	Size int64
	// NumNodes is how many nodes had the image when the snapshot was taken.
	NumNodes int
}

// NewNodeInfo returns a NodeInfo without a node holding pods.
func NewNodeInfo(pods ...*v1.Pod) *NodeInfo {
	ni := &NodeInfo{UsedPorts: HostPortInfo{}, Generation: nextGeneration()}
	for _, p := range pods {
		ni.AddPod(NewPodInfo(p))
	}
	return ni
}

// Node returns the node, nil for a node deleted while pods remain on it.
func (n *NodeInfo) Node() *v1.Node {
	if n == nil {
		return nil
	}
	return n.node
}

// Name is the node's name, "" when there is no node.
func (n *NodeInfo) Name() string {
	if n == nil || n.node == nil {
		return ""
	}
	return n.node.Name
}

// SetNode sets the node and its allocatable resources.
func (n *NodeInfo) SetNode(node *v1.Node) {
	n.node = node
	n.Allocatable = NewResource(node.Status.Allocatable)
	n.Generation = nextGeneration()
}

// RemoveNode forgets the node but keeps its pods.
func (n *NodeInfo) RemoveNode() {
	n.node = nil
	n.Generation = nextGeneration()
}

// AddPod counts pi on the node.
func (n *NodeInfo) AddPod(pi *PodInfo) {
	n.Pods = append(n.Pods, pi)
	if pi.HasAffinity() {
		n.PodsWithAffinity = append(n.PodsWithAffinity, pi)
	}
	if pi.HasRequiredAntiAffinity() {
		n.PodsWithRequiredAntiAffinity = append(n.PodsWithRequiredAntiAffinity, pi)
	}
	n.update(pi, 1)
}

// RemovePod stops counting the pod with pod's key.
func (n *NodeInfo) RemovePod(pod *v1.Pod) error {
	key := podKey(pod)
	var removed *PodInfo
	n.Pods, removed = removePodInfo(n.Pods, key)
	if removed == nil {
		return fmt.Errorf("pod %s/%s is not on node %s", pod.Namespace, pod.Name, n.Name())
	}
	if removed.HasAffinity() {
		n.PodsWithAffinity, _ = removePodInfo(n.PodsWithAffinity, key)
	}
	if removed.HasRequiredAntiAffinity() {
		n.PodsWithRequiredAntiAffinity, _ = removePodInfo(n.PodsWithRequiredAntiAffinity, key)
	}
	n.update(removed, -1)
	return nil
}

func removePodInfo(s []*PodInfo, key string) ([]*PodInfo, *PodInfo) {
	for i, pi := range s {
		if pi.key == key {
			last := len(s) - 1
			s[i] = s[last]
			s[last] = nil
			s = s[:last]
			if len(s) == 0 {
				s = nil
			}
			return s, pi
		}
	}
	return s, nil
}

func (n *NodeInfo) update(pi *PodInfo, sign int64) {
	n.Requested.addScaled(&pi.Requests, sign)
	n.NonZeroRequested.MilliCPU += sign * pi.NonZeroMilliCPU
	n.NonZeroRequested.Memory += sign * pi.NonZeroMemory
	if n.UsedPorts == nil {
		n.UsedPorts = HostPortInfo{}
	}
	for _, p := range pi.HostPorts {
		if sign > 0 {
			n.UsedPorts.Add(p.HostIP, string(p.Protocol), p.HostPort)
		} else {
			n.UsedPorts.Remove(p.HostIP, string(p.Protocol), p.HostPort)
		}
	}
	n.Generation = nextGeneration()
}

// Clone returns a copy that can be changed without affecting n. PodInfos
// and image states are shared: they are immutable.
func (n *NodeInfo) Clone() *NodeInfo {
	out := &NodeInfo{
		node:             n.node,
		Requested:        n.Requested.Clone(),
		NonZeroRequested: n.NonZeroRequested.Clone(),
		Allocatable:      n.Allocatable.Clone(),
		UsedPorts:        n.UsedPorts.clone(),
		ImageStates:      n.ImageStates,
		Generation:       n.Generation,
	}
	if n.Pods != nil {
		out.Pods = append(make([]*PodInfo, 0, len(n.Pods)+1), n.Pods...)
	}
	if n.PodsWithAffinity != nil {
		out.PodsWithAffinity = append([]*PodInfo(nil), n.PodsWithAffinity...)
	}
	if n.PodsWithRequiredAntiAffinity != nil {
		out.PodsWithRequiredAntiAffinity = append([]*PodInfo(nil), n.PodsWithRequiredAntiAffinity...)
	}
	return out
}

// DefaultBindAllHostIP is the host IP meaning "every address".
const DefaultBindAllHostIP = "0.0.0.0"

// ProtocolPort is a protocol and a port.
type ProtocolPort struct {
	Protocol string
	Port     int32
}

// HostPortInfo maps host IP to the protocol/port pairs taken on it.
type HostPortInfo map[string]map[ProtocolPort]struct{}

func sanitizeHostPort(ip, protocol string) (string, string) {
	if ip == "" {
		ip = DefaultBindAllHostIP
	}
	if protocol == "" {
		protocol = string(v1.ProtocolTCP)
	}
	return ip, protocol
}

// Add records (ip, protocol, port); "" means 0.0.0.0 and TCP.
func (h HostPortInfo) Add(ip, protocol string, port int32) {
	if port <= 0 {
		return
	}
	ip, protocol = sanitizeHostPort(ip, protocol)
	m, ok := h[ip]
	if !ok {
		m = map[ProtocolPort]struct{}{}
		h[ip] = m
	}
	m[ProtocolPort{protocol, port}] = struct{}{}
}

// Remove forgets (ip, protocol, port).
func (h HostPortInfo) Remove(ip, protocol string, port int32) {
	if port <= 0 {
		return
	}
	ip, protocol = sanitizeHostPort(ip, protocol)
	if m, ok := h[ip]; ok {
		delete(m, ProtocolPort{protocol, port})
		if len(m) == 0 {
			delete(h, ip)
		}
	}
}

// CheckConflict reports whether (ip, protocol, port) clashes with a taken
// port: 0.0.0.0 clashes with the same port on any address, and any address
// clashes with 0.0.0.0.
func (h HostPortInfo) CheckConflict(ip, protocol string, port int32) bool {
	if port <= 0 {
		return false
	}
	ip, protocol = sanitizeHostPort(ip, protocol)
	pp := ProtocolPort{protocol, port}
	if ip == DefaultBindAllHostIP {
		for _, m := range h {
			if _, ok := m[pp]; ok {
				return true
			}
		}
		return false
	}
	for _, key := range [2]string{DefaultBindAllHostIP, ip} {
		if _, ok := h[key][pp]; ok {
			return true
		}
	}
	return false
}

// Len counts the (ip, protocol, port) entries.
func (h HostPortInfo) Len() int {
	n := 0
	for _, m := range h {
		n += len(m)
	}
	return n
}

func (h HostPortInfo) clone() HostPortInfo {
	out := make(HostPortInfo, len(h))
	for ip, m := range h {
		c := make(map[ProtocolPort]struct{}, len(m))
		for k := range m {
			c[k] = struct{}{}
		}
		out[ip] = c
	}
	return out
}
