// Package cache is the scheduler's memory of the cluster: every node and
// the pods on it, fed by informer events, plus the pods the scheduler has
// decided on but the API server has not yet shown bound ("assumed" pods).
//
// A pod is assumed on its node as soon as it is decided, so the next
// decision already counts it; the informer's bound pod confirms it
// (AddPod), a failed binding forgets it (ForgetPod), and an assumption whose
// binding finished but whose confirmation never came expires after a TTL.
//
// UpdateSnapshot brings a framework.Snapshot up to date, copying only the
// nodes that changed since the snapshot's last update.
package cache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// DefaultAssumedPodTTL is how long an assumed pod whose binding finished
// may wait for the informer to confirm it. Upstream (since v1.26) never
// expires assumptions and relies on ForgetPod after a failed binding; we
// keep a bound as a safety net against lost watch events.
const DefaultAssumedPodTTL = 30 * time.Second

// cleanupPeriod is how often Run expires assumptions.
const cleanupPeriod = time.Second

// Config configures a Cache.
type Config struct {
	// Clock times assumption expiry; clock.RealClock{} when nil.
	Clock clock.WithTicker
	// AssumedPodTTL bounds how long an assumed pod whose binding finished
	// stays without confirmation; DefaultAssumedPodTTL when 0, never
	// expire when negative.
	AssumedPodTTL time.Duration
}

type podState struct {
	pod *v1.Pod
	// deadline is set when the binding finished; the assumption expires
	// after it.
	deadline *time.Time
}

// nodeItem is a node's entry, linked most-recently-changed first so that
// UpdateSnapshot stops at the first node its snapshot already has.
type nodeItem struct {
	info       *framework.NodeInfo
	prev, next *nodeItem
	// imageVersion is the image-count version the NodeInfo's image
	// states were computed with.
	imageVersion int64
}

// Cache is the scheduler cache. All methods are safe for concurrent use.
type Cache struct {
	clock clock.WithTicker
	ttl   time.Duration

	mu         sync.RWMutex
	nodes      map[string]*nodeItem
	head       *nodeItem
	podStates  map[string]*podState
	assumed    sets.Set[string]
	tree       nodeTree
	imageNodes map[string]sets.Set[string]
	// imageVersion changes whenever an image appears on or leaves a node.
	imageVersion int64
	namespaces   map[string]labels.Set
	nsVersion    int64
	// orderVersion changes whenever a node is added or removed.
	orderVersion int64
}

// New returns an empty cache.
func New(cfg Config) *Cache {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.AssumedPodTTL == 0 {
		cfg.AssumedPodTTL = DefaultAssumedPodTTL
	}
	return &Cache{
		clock:      cfg.Clock,
		ttl:        cfg.AssumedPodTTL,
		nodes:      map[string]*nodeItem{},
		podStates:  map[string]*podState{},
		assumed:    sets.New[string](),
		tree:       newNodeTree(),
		imageNodes: map[string]sets.Set[string]{},
		namespaces: map[string]labels.Set{},
	}
}

// Run expires assumptions every second until ctx is done.
func (c *Cache) Run(ctx context.Context) {
	t := c.clock.NewTicker(cleanupPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			c.CleanupExpiredAssumedPods()
		}
	}
}

func (c *Cache) item(name string) *nodeItem {
	n, ok := c.nodes[name]
	if !ok {
		n = &nodeItem{info: framework.NewNodeInfo()}
		c.nodes[name] = n
	}
	return n
}

func (c *Cache) moveToHead(n *nodeItem) {
	if c.head == n {
		return
	}
	c.unlink(n)
	n.next = c.head
	if c.head != nil {
		c.head.prev = n
	}
	c.head = n
}

func (c *Cache) unlink(n *nodeItem) {
	if n.prev != nil {
		n.prev.next = n.next
	}
	if n.next != nil {
		n.next.prev = n.prev
	}
	if c.head == n {
		c.head = n.next
	}
	n.prev, n.next = nil, nil
}

func (c *Cache) removeItem(name string) {
	if n, ok := c.nodes[name]; ok {
		c.unlink(n)
		delete(c.nodes, name)
	}
}

// AddNode records a new node (or replaces it).
func (c *Cache) AddNode(node *v1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, existed := c.nodes[node.Name]
	if existed && n.info.Node() != nil {
		c.removeImages(n.info.Node())
		if c.tree.update(n.info.Node(), node) {
			c.orderVersion++
		}
	} else {
		n = c.item(node.Name)
		c.tree.add(node)
		c.orderVersion++
	}
	c.addImages(node)
	n.info.SetNode(node)
	c.moveToHead(n)
}

// UpdateNode records a changed node.
func (c *Cache) UpdateNode(_, newNode *v1.Node) { c.AddNode(newNode) }

// RemoveNode forgets a node. Pods still on it stay counted (on a node the
// snapshot no longer lists) until their own deletion arrives.
func (c *Cache) RemoveNode(node *v1.Node) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.nodes[node.Name]
	if !ok || n.info.Node() == nil {
		return fmt.Errorf("node %s is not in the cache", node.Name)
	}
	c.removeImages(n.info.Node())
	c.tree.remove(n.info.Node())
	c.orderVersion++
	n.info.RemoveNode()
	if len(n.info.Pods) == 0 {
		c.removeItem(node.Name)
	} else {
		c.moveToHead(n)
	}
	return nil
}

func (c *Cache) addImages(node *v1.Node) {
	for _, img := range node.Status.Images {
		for _, name := range img.Names {
			s, ok := c.imageNodes[name]
			if !ok {
				s = sets.New[string]()
				c.imageNodes[name] = s
			}
			if !s.Has(node.Name) {
				s.Insert(node.Name)
				c.imageVersion++
			}
		}
	}
}

func (c *Cache) removeImages(node *v1.Node) {
	for _, img := range node.Status.Images {
		for _, name := range img.Names {
			if s, ok := c.imageNodes[name]; ok && s.Has(node.Name) {
				s.Delete(node.Name)
				c.imageVersion++
				if s.Len() == 0 {
					delete(c.imageNodes, name)
				}
			}
		}
	}
}

// AssumePod counts pod, whose spec.nodeName is the chosen node, on that
// node at once. It fails if the cache already has the pod.
func (c *Cache) AssumePod(pod *v1.Pod) error {
	key := framework.PodKey(pod)
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.podStates[key]; ok {
		return fmt.Errorf("pod %s/%s is in the cache, so can't be assumed", pod.Namespace, pod.Name)
	}
	if pod.Spec.NodeName == "" {
		return fmt.Errorf("pod %s/%s has no node to be assumed on", pod.Namespace, pod.Name)
	}
	c.addPodLocked(pod)
	c.assumed.Insert(key)
	return nil
}

// FinishBinding starts the expiry clock of an assumed pod: the binding
// request is done, confirmation should follow.
func (c *Cache) FinishBinding(pod *v1.Pod) error {
	key := framework.PodKey(pod)
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.podStates[key]
	if !ok || !c.assumed.Has(key) {
		return nil
	}
	if c.ttl > 0 {
		deadline := c.clock.Now().Add(c.ttl)
		ps.deadline = &deadline
	}
	return nil
}

// ForgetPod undoes AssumePod, as when binding failed.
func (c *Cache) ForgetPod(pod *v1.Pod) error {
	key := framework.PodKey(pod)
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.podStates[key]
	if !ok {
		return nil
	}
	if ps.pod.Spec.NodeName != pod.Spec.NodeName {
		return fmt.Errorf("pod %s/%s was assumed on %s but forgotten on %s", pod.Namespace, pod.Name, ps.pod.Spec.NodeName, pod.Spec.NodeName)
	}
	if !c.assumed.Has(key) {
		return fmt.Errorf("pod %s/%s is not assumed, so it cannot be forgotten", pod.Namespace, pod.Name)
	}
	return c.removePodLocked(ps.pod)
}

// IsAssumedPod reports whether pod is assumed and not yet confirmed.
func (c *Cache) IsAssumedPod(pod *v1.Pod) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.assumed.Has(framework.PodKey(pod))
}

// GetPod returns the cache's version of pod.
func (c *Cache) GetPod(pod *v1.Pod) (*v1.Pod, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ps, ok := c.podStates[framework.PodKey(pod)]
	if !ok {
		return nil, false
	}
	return ps.pod, true
}

// AddPod records a bound pod the informer shows. For an assumed pod this is
// the confirmation: the assumption is replaced by the real pod (on the node
// the API server says, should it differ).
func (c *Cache) AddPod(pod *v1.Pod) error {
	key := framework.PodKey(pod)
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.podStates[key]
	switch {
	case ok && c.assumed.Has(key):
		if err := c.removePodLocked(ps.pod); err != nil {
			return err
		}
		c.addPodLocked(pod)
		return nil
	case !ok:
		c.addPodLocked(pod)
		return nil
	default:
		return fmt.Errorf("pod %s/%s was already added", pod.Namespace, pod.Name)
	}
}

// UpdatePod records a change to a bound pod.
func (c *Cache) UpdatePod(oldPod, newPod *v1.Pod) error {
	key := framework.PodKey(oldPod)
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.podStates[key]
	if !ok {
		return fmt.Errorf("pod %s/%s is not in the cache, so cannot be updated", oldPod.Namespace, oldPod.Name)
	}
	if c.assumed.Has(key) {
		return fmt.Errorf("assumed pod %s/%s should not be updated before it is added", oldPod.Namespace, oldPod.Name)
	}
	if ps.pod.Spec.NodeName != newPod.Spec.NodeName {
		return fmt.Errorf("pod %s/%s moved from node %q to %q; the cache is inconsistent", oldPod.Namespace, oldPod.Name, ps.pod.Spec.NodeName, newPod.Spec.NodeName)
	}
	if err := c.removePodLocked(ps.pod); err != nil {
		return err
	}
	c.addPodLocked(newPod)
	return nil
}

// RemovePod forgets a deleted pod.
func (c *Cache) RemovePod(pod *v1.Pod) error {
	key := framework.PodKey(pod)
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, ok := c.podStates[key]
	if !ok {
		return fmt.Errorf("pod %s/%s is not in the cache, so cannot be removed", pod.Namespace, pod.Name)
	}
	if err := c.removePodLocked(ps.pod); err != nil {
		return err
	}
	if pod.Spec.NodeName != "" && ps.pod.Spec.NodeName != pod.Spec.NodeName {
		return fmt.Errorf("pod %s/%s was deleted from node %q but cached on %q", pod.Namespace, pod.Name, pod.Spec.NodeName, ps.pod.Spec.NodeName)
	}
	return nil
}

func (c *Cache) addPodLocked(pod *v1.Pod) {
	n := c.item(pod.Spec.NodeName)
	n.info.AddPod(framework.NewPodInfo(pod))
	c.moveToHead(n)
	c.podStates[framework.PodKey(pod)] = &podState{pod: pod}
}

func (c *Cache) removePodLocked(pod *v1.Pod) error {
	key := framework.PodKey(pod)
	var err error
	if n, ok := c.nodes[pod.Spec.NodeName]; ok {
		err = n.info.RemovePod(pod)
		if len(n.info.Pods) == 0 && n.info.Node() == nil {
			c.removeItem(pod.Spec.NodeName)
		} else {
			c.moveToHead(n)
		}
	}
	delete(c.podStates, key)
	c.assumed.Delete(key)
	return err
}

// CleanupExpiredAssumedPods forgets assumed pods whose binding finished
// more than the TTL ago without confirmation, and returns them.
func (c *Cache) CleanupExpiredAssumedPods() []*v1.Pod {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var expired []*v1.Pod
	for key := range c.assumed {
		ps := c.podStates[key]
		if ps == nil || ps.deadline == nil || !now.After(*ps.deadline) {
			continue
		}
		expired = append(expired, ps.pod)
	}
	var errs []error
	for _, p := range expired {
		errs = append(errs, c.removePodLocked(p))
	}
	_ = errors.Join(errs...) // removal from a node it is on cannot fail
	return expired
}

// AddNamespace records a namespace's labels (for namespace selectors in
// pod affinity).
func (c *Cache) AddNamespace(ns *v1.Namespace) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.namespaces[ns.Name] = labels.Set(ns.Labels)
	c.nsVersion++
}

// UpdateNamespace records changed namespace labels.
func (c *Cache) UpdateNamespace(_, ns *v1.Namespace) { c.AddNamespace(ns) }

// RemoveNamespace forgets a namespace.
func (c *Cache) RemoveNamespace(ns *v1.Namespace) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.namespaces, ns.Name)
	c.nsVersion++
}

// NodeCount counts the nodes (not those deleted with pods left).
func (c *Cache) NodeCount() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.tree.numNodes
}

// PodCount counts the pods, assumed ones included.
func (c *Cache) PodCount() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.podStates)
}

// UpdateSnapshot brings snap up to date: nodes changed since its last
// update are copied into it, nodes added or removed change its order, and
// namespace labels are refreshed when they changed. A snapshot is meant to
// be updated by one cache only.
func (c *Cache) UpdateSnapshot(snap *framework.Snapshot) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	since := snap.Generation()
	rebuildOrder := snap.OrderVersion() != c.orderVersion
	affinityChanged := false
	for n := c.head; n != nil; n = n.next {
		if n.info.Generation <= since {
			break
		}
		if n.info.Node() == nil {
			continue
		}
		if n.imageVersion != c.imageVersion {
			n.info.ImageStates = framework.ImageStatesOf(n.info.Node(), func(name string) int { return c.imageNodes[name].Len() })
			n.imageVersion = c.imageVersion
		}
		added, changed := snap.SetNodeInfo(n.info.Clone())
		rebuildOrder = rebuildOrder || added
		affinityChanged = affinityChanged || changed
	}
	if c.head != nil {
		snap.SetGeneration(c.head.info.Generation)
	}
	if rebuildOrder {
		for _, ni := range snap.List() {
			if n, ok := c.nodes[ni.Name()]; !ok || n.info.Node() == nil {
				snap.RemoveNodeInfo(ni.Name())
			}
		}
		order := c.tree.list()
		snap.SetOrder(order)
		snap.SetOrderVersion(c.orderVersion)
		if len(snap.List()) != len(order) {
			return fmt.Errorf("snapshot lists %d nodes, cache has %d", len(snap.List()), len(order))
		}
	} else if affinityChanged {
		snap.RebuildAffinityLists()
	}
	if snap.NamespaceVersion() != c.nsVersion {
		m := make(map[string]labels.Set, len(c.namespaces))
		for k, v := range c.namespaces {
			m[k] = v
		}
		snap.SetNamespaceLabels(m, c.nsVersion)
	}
	return nil
}
