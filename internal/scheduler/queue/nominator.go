package queue

import (
	"sync"
	"sync/atomic"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// nominator remembers which waiting pods preemption promised a node to
// (status.nominatedNodeName), so that other pods do not take the room
// freed for them.
type nominator struct {
	nmu    sync.RWMutex
	byNode map[string][]*framework.PodInfo
	byPod  map[string]string
	// size is len(byPod), readable without the lock: a decision asks for
	// the nominated pods of every node it filters, and there are usually
	// none.
	size atomic.Int64
}

func newNominator() nominator {
	return nominator{byNode: map[string][]*framework.PodInfo{}, byPod: map[string]string{}}
}

// AddNominatedPod records that pi is promised node (pi's
// status.nominatedNodeName when node is "").
func (n *nominator) AddNominatedPod(pi *framework.PodInfo, node string) {
	n.add(pi, node)
}

// DeleteNominatedPodIfExists forgets pod's nomination, as when it is bound
// or deleted.
func (n *nominator) DeleteNominatedPodIfExists(pod *v1.Pod) { n.delete(pod) }

// HasNominatedPods reports whether any pod is promised a node.
func (n *nominator) HasNominatedPods() bool { return n.size.Load() > 0 }

// NominatedPodsForNode returns the pods promised node.
func (n *nominator) NominatedPodsForNode(node string) []*framework.PodInfo {
	if n.size.Load() == 0 {
		return nil
	}
	n.nmu.RLock()
	defer n.nmu.RUnlock()
	return append([]*framework.PodInfo(nil), n.byNode[node]...)
}

func (n *nominator) add(pi *framework.PodInfo, node string) {
	n.nmu.Lock()
	defer n.nmu.Unlock()
	n.deleteLocked(pi.Key())
	if node == "" {
		node = pi.Pod.Status.NominatedNodeName
	}
	if node == "" {
		return
	}
	n.byPod[pi.Key()] = node
	n.byNode[node] = append(n.byNode[node], pi)
	n.size.Store(int64(len(n.byPod)))
}

func (n *nominator) update(oldPod *v1.Pod, pi *framework.PodInfo) {
	n.nmu.RLock()
	node := n.byPod[framework.PodKey(oldPod)]
	n.nmu.RUnlock()
	// A nomination made here survives an update that does not carry it
	// yet (the status write may lag); a new one in the status wins.
	if pi.Pod.Status.NominatedNodeName != "" || oldPod.Status.NominatedNodeName != "" {
		node = ""
	}
	n.add(pi, node)
}

func (n *nominator) delete(pod *v1.Pod) {
	n.nmu.Lock()
	defer n.nmu.Unlock()
	n.deleteLocked(framework.PodKey(pod))
}

func (n *nominator) deleteLocked(key string) {
	node, ok := n.byPod[key]
	if !ok {
		return
	}
	delete(n.byPod, key)
	n.size.Store(int64(len(n.byPod)))
	list := n.byNode[node]
	for i, pi := range list {
		if pi.Key() == key {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(n.byNode, node)
	} else {
		n.byNode[node] = list
	}
}
