package cache

import (
	v1 "k8s.io/api/core/v1"
)

// nodeTree orders nodes so that consecutive nodes come from different
// zones: one node of each zone in turn. When a decision examines only part
// of the cluster, the part then spans the zones.
type nodeTree struct {
	zones    []string
	byZone   map[string][]string
	numNodes int
}

func newNodeTree() nodeTree { return nodeTree{byZone: map[string][]string{}} }

// zoneKey is region and zone, from the well-known labels.
func zoneKey(node *v1.Node) string {
	region := node.Labels[v1.LabelTopologyRegion]
	zone := node.Labels[v1.LabelTopologyZone]
	if region == "" && zone == "" {
		return ""
	}
	// \x00 cannot appear in a label value.
	return region + ":\x00:" + zone
}

func (t *nodeTree) add(node *v1.Node) {
	z := zoneKey(node)
	names, ok := t.byZone[z]
	if !ok {
		t.zones = append(t.zones, z)
	}
	for _, n := range names {
		if n == node.Name {
			return
		}
	}
	t.byZone[z] = append(names, node.Name)
	t.numNodes++
}

func (t *nodeTree) remove(node *v1.Node) {
	z := zoneKey(node)
	names := t.byZone[z]
	for i, n := range names {
		if n != node.Name {
			continue
		}
		names = append(names[:i:i], names[i+1:]...)
		t.numNodes--
		if len(names) == 0 {
			delete(t.byZone, z)
			for j, zz := range t.zones {
				if zz == z {
					t.zones = append(t.zones[:j:j], t.zones[j+1:]...)
					break
				}
			}
		} else {
			t.byZone[z] = names
		}
		return
	}
}

// update moves a node whose zone changed; it reports whether the order
// changed.
func (t *nodeTree) update(oldNode, newNode *v1.Node) bool {
	if zoneKey(oldNode) == zoneKey(newNode) {
		return false
	}
	t.remove(oldNode)
	t.add(newNode)
	return true
}

// list returns the node names, one zone at a time in turn.
func (t *nodeTree) list() []string {
	out := make([]string, 0, t.numNodes)
	for i := 0; len(out) < t.numNodes; i++ {
		for _, z := range t.zones {
			if names := t.byZone[z]; i < len(names) {
				out = append(out, names[i])
			}
		}
	}
	return out
}
