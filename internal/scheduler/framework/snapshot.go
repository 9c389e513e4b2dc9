package framework

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Snapshot is the state one scheduling decision is made against: every node
// with its pods, in a stable order, plus the nodes that hold pods with
// affinity (so affinity rules need not look at every pod), and the labels of
// namespaces (for namespace selectors in affinity terms).
//
// A Snapshot is read-only while a decision runs. The cache updates one in
// place between decisions through the Set*/Remove* methods.
type Snapshot struct {
	nodeInfoMap                      map[string]*NodeInfo
	nodeInfoList                     []*NodeInfo
	havePodsWithAffinity             []*NodeInfo
	havePodsWithRequiredAntiAffinity []*NodeInfo
	namespaceLabels                  map[string]labels.Set
	generation                       int64
	orderVersion                     int64
	namespaceVersion                 int64
}

// NewEmptySnapshot returns a snapshot with no nodes.
func NewEmptySnapshot() *Snapshot {
	return &Snapshot{nodeInfoMap: map[string]*NodeInfo{}, namespaceLabels: map[string]labels.Set{}}
}

// NewSnapshot builds a snapshot from objects: pods are counted on the node
// named by spec.nodeName (pods of unknown nodes are dropped), images are
// summarised across the given nodes, and nodes keep the given order.
func NewSnapshot(pods []*v1.Pod, nodes []*v1.Node, namespaces ...*v1.Namespace) *Snapshot {
	s := NewEmptySnapshot()
	imageNodes := map[string]int{}
	for _, n := range nodes {
		seen := map[string]bool{}
		for _, img := range n.Status.Images {
			for _, name := range img.Names {
				if !seen[name] {
					seen[name] = true
					imageNodes[name]++
				}
			}
		}
	}
	order := make([]string, 0, len(nodes))
	for _, n := range nodes {
		ni := NewNodeInfo()
		ni.SetNode(n)
		ni.ImageStates = ImageStatesOf(n, func(name string) int { return imageNodes[name] })
		s.nodeInfoMap[n.Name] = ni
		order = append(order, n.Name)
	}
	for _, p := range pods {
		if ni, ok := s.nodeInfoMap[p.Spec.NodeName]; ok {
			ni.AddPod(NewPodInfo(p))
		}
	}
	for _, ns := range namespaces {
		s.namespaceLabels[ns.Name] = labels.Set(ns.Labels)
	}
	s.SetOrder(order)
	return s
}

// ImageStatesOf lists node's images by every name, with numNodes telling
// how many nodes have each.
func ImageStatesOf(node *v1.Node, numNodes func(name string) int) map[string]*ImageStateSummary {
	if len(node.Status.Images) == 0 {
		return nil
	}
	out := make(map[string]*ImageStateSummary, len(node.Status.Images))
	for _, img := range node.Status.Images {
		for _, name := range img.Names {
			if _, ok := out[name]; !ok {
				out[name] = &ImageStateSummary{Size: img.SizeBytes, NumNodes: numNodes(name)}
			}
		}
	}
	return out
}

// List returns every node, in the snapshot's order.
func (s *Snapshot) List() []*NodeInfo { return s.nodeInfoList }

// NumNodes is len(List()).
func (s *Snapshot) NumNodes() int { return len(s.nodeInfoList) }

// Get returns the named node, nil if absent.
func (s *Snapshot) Get(name string) *NodeInfo { return s.nodeInfoMap[name] }

// HavePodsWithAffinityList returns the nodes holding a pod with pod
// affinity or anti-affinity.
func (s *Snapshot) HavePodsWithAffinityList() []*NodeInfo { return s.havePodsWithAffinity }

// HavePodsWithRequiredAntiAffinityList returns the nodes holding a pod with
// required anti-affinity.
func (s *Snapshot) HavePodsWithRequiredAntiAffinityList() []*NodeInfo {
	return s.havePodsWithRequiredAntiAffinity
}

// NamespaceLabels returns the labels of namespace ns; nil when unknown.
func (s *Snapshot) NamespaceLabels(ns string) labels.Set { return s.namespaceLabels[ns] }

// NamespacesMatching returns the names of the namespaces whose labels sel
// selects.
func (s *Snapshot) NamespacesMatching(sel labels.Selector) []string {
	var out []string
	for name, l := range s.namespaceLabels {
		if sel.Matches(l) {
			out = append(out, name)
		}
	}
	return out
}

// Generation is the NodeInfo generation the snapshot is up to date with.
func (s *Snapshot) Generation() int64 { return s.generation }

// SetGeneration records the generation the snapshot is up to date with.
func (s *Snapshot) SetGeneration(g int64) { s.generation = g }

// OrderVersion is the version of the node set SetOrder last applied; the
// cache uses it to tell whether nodes were added or removed since.
func (s *Snapshot) OrderVersion() int64 { return s.orderVersion }

// SetOrderVersion records the version of the node set applied.
func (s *Snapshot) SetOrderVersion(v int64) { s.orderVersion = v }

// SetNodeInfo stores ni under its node's name, copying it into the existing
// NodeInfo so List() keeps pointing at it. It reports whether the node is new
// to the snapshot and whether its membership in the affinity lists changed;
// either means SetOrder or RebuildAffinityLists must be called.
func (s *Snapshot) SetNodeInfo(ni *NodeInfo) (added, affinityChanged bool) {
	name := ni.Name()
	existing, ok := s.nodeInfoMap[name]
	if !ok {
		existing = &NodeInfo{}
		s.nodeInfoMap[name] = existing
	}
	affinityChanged = (len(existing.PodsWithAffinity) > 0) != (len(ni.PodsWithAffinity) > 0) ||
		(len(existing.PodsWithRequiredAntiAffinity) > 0) != (len(ni.PodsWithRequiredAntiAffinity) > 0)
	*existing = *ni
	return !ok, affinityChanged
}

// RemoveNodeInfo drops the named node; call SetOrder afterwards.
func (s *Snapshot) RemoveNodeInfo(name string) { delete(s.nodeInfoMap, name) }

// SetOrder sets the node order of List() (names absent from the snapshot
// are skipped) and rebuilds the affinity lists.
func (s *Snapshot) SetOrder(names []string) {
	s.nodeInfoList = s.nodeInfoList[:0]
	for _, name := range names {
		if ni := s.nodeInfoMap[name]; ni != nil {
			s.nodeInfoList = append(s.nodeInfoList, ni)
		}
	}
	s.RebuildAffinityLists()
}

// RebuildAffinityLists recomputes HavePodsWith*List from List().
func (s *Snapshot) RebuildAffinityLists() {
	s.havePodsWithAffinity = s.havePodsWithAffinity[:0]
	s.havePodsWithRequiredAntiAffinity = s.havePodsWithRequiredAntiAffinity[:0]
	for _, ni := range s.nodeInfoList {
		if len(ni.PodsWithAffinity) > 0 {
			s.havePodsWithAffinity = append(s.havePodsWithAffinity, ni)
		}
		if len(ni.PodsWithRequiredAntiAffinity) > 0 {
			s.havePodsWithRequiredAntiAffinity = append(s.havePodsWithRequiredAntiAffinity, ni)
		}
	}
}

// SetNamespaceLabels replaces the namespace labels, recording the version
// of the namespace set they come from.
func (s *Snapshot) SetNamespaceLabels(m map[string]labels.Set, version int64) {
	s.namespaceLabels, s.namespaceVersion = m, version
}

// NamespaceVersion is the version SetNamespaceLabels last recorded.
func (s *Snapshot) NamespaceVersion() int64 { return s.namespaceVersion }
