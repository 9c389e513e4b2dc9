// Package nodeipam is the node IPAM controller with upstream's range
// allocator: every node gets a pod CIDR (spec.podCIDR and spec.podCIDRs,
// one per cluster CIDR) cut from --cluster-cidr. CIDRs nodes already have
// (set by whoever registered them) are kept and never handed out again;
// a deleted node's CIDRs go back to the pool.
package nodeipam

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Name is the controller's canonical name in --controllers (upstream's);
// Alias is its older name, accepted too.
const (
	Name  = "node-ipam-controller"
	Alias = "nodeipam"
)

// EventSource is the source of the controller's events, as upstream's
// range allocator.
const EventSource = "cidrAllocator"

// Controller assigns pod CIDRs to nodes. Its keys are node names.
type Controller struct {
	client     kubernetes.Interface
	nodeLister corelisters.NodeLister
	recorder   record.EventRecorder
	queue      *controller.Queue

	mu    sync.Mutex
	alloc *Allocator
}

// New builds the controller on the manager's informers; it returns a nil
// Runner when c.NodeIPAM.AllocateNodeCIDRs is off, as upstream.
func New(c controller.Context) (controller.Runner, error) {
	if !c.NodeIPAM.AllocateNodeCIDRs {
		return nil, nil
	}
	return newController(c)
}

func newController(c controller.Context) (*Controller, error) {
	cfg := c.NodeIPAM
	masks, err := MaskSizes(cfg.ClusterCIDRs, cfg.NodeCIDRMaskSize, cfg.NodeCIDRMaskSizeIPv4, cfg.NodeCIDRMaskSizeIPv6)
	if err != nil {
		return nil, err
	}
	alloc, err := NewAllocator(cfg.ClusterCIDRs, masks)
	if err != nil {
		return nil, fmt.Errorf("--cluster-cidr: %w", err)
	}
	nodeInf := c.Informers.Core().V1().Nodes()
	ic := &Controller{client: c.Client, nodeLister: nodeInf.Lister(), recorder: c.Recorder(EventSource), alloc: alloc}
	q, err := controller.New(controller.Config{Name: Name, Sync: ic.sync, Logger: c.Logger, Clock: c.Clock})
	if err != nil {
		return nil, err
	}
	ic.queue = q
	if _, err := nodeInf.Informer().AddEventHandler(q.Handler()); err != nil {
		return nil, err
	}
	return ic, nil
}

// Run marks the CIDRs the nodes already have as used, before any node is
// given one, then runs the workers until ctx ends.
func (ic *Controller) Run(ctx context.Context, workers int) {
	ic.occupyExisting()
	ic.queue.Run(ctx, workers)
}

// ShutDown stops the controller's queue for good.
func (ic *Controller) ShutDown() { ic.queue.ShutDown() }

func (ic *Controller) occupyExisting() {
	nodes, err := ic.nodeLister.List(labels.Everything())
	if err != nil {
		ic.queue.Logger().Error("list nodes", "err", err)
		return
	}
	ic.mu.Lock()
	defer ic.mu.Unlock()
	for _, n := range nodes {
		if cidrs := podCIDRs(n); len(cidrs) > 0 {
			if err := ic.alloc.Occupy(n.Name, cidrs); err != nil {
				ic.queue.Logger().Warn("node has a pod CIDR outside the cluster CIDRs", "node", n.Name, "err", err)
			}
		}
	}
}

func (ic *Controller) sync(ctx context.Context, name string) error {
	log := ic.queue.Logger().With("node", name)
	node, err := ic.nodeLister.Get(name)
	if apierrors.IsNotFound(err) {
		ic.release(name)
		return nil
	}
	if err != nil {
		return err
	}
	if node.DeletionTimestamp != nil {
		ic.release(name)
		return nil
	}
	if node.Spec.PodCIDR != "" || len(node.Spec.PodCIDRs) > 0 {
		ic.mu.Lock()
		err := ic.alloc.Occupy(name, podCIDRs(node))
		ic.mu.Unlock()
		if err != nil {
			// Garbage or a CIDR out of range: retrying will not help.
			log.Warn("node has a pod CIDR outside the cluster CIDRs", "err", err)
		}
		return nil
	}
	ic.mu.Lock()
	cidrs, err := ic.alloc.Allocate(name)
	ic.mu.Unlock()
	if err != nil {
		ic.recordStatusChange(node, "CIDRNotAvailable")
		return fmt.Errorf("allocate a pod CIDR for node %s: %w", name, err)
	}
	if _, err := ic.client.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, podCIDRPatch(cidrs), metav1.PatchOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			ic.release(name)
			return nil
		}
		ic.recordStatusChange(node, "CIDRAssignmentFailed")
		// A timed-out request may have gone through: keep the CIDRs then,
		// the next sync patches the same ones.
		if !apierrors.IsServerTimeout(err) && !apierrors.IsTimeout(err) && !errors.Is(err, context.DeadlineExceeded) {
			ic.release(name)
		}
		return fmt.Errorf("set the pod CIDR of node %s: %w", name, err)
	}
	log.Info("set node pod CIDR", "podCIDRs", cidrs)
	return nil
}

func (ic *Controller) release(name string) {
	ic.mu.Lock()
	defer ic.mu.Unlock()
	h := ic.alloc.Holds(name)
	if len(h) == 0 {
		return
	}
	ic.alloc.Release(name)
	ic.queue.Logger().Info("released node pod CIDR", "node", name, "podCIDRs", h)
	// Nodes waiting for a CIDR of a full range need not wait for their
	// back-off to run out.
	nodes, _ := ic.nodeLister.List(labels.Everything())
	for _, n := range nodes {
		if n.Spec.PodCIDR == "" && len(n.Spec.PodCIDRs) == 0 && n.Name != name {
			ic.queue.Add(n.Name)
		}
	}
}

// recordStatusChange emits upstream's node status change event.
func (ic *Controller) recordStatusChange(node *v1.Node, status string) {
	ref := &v1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}
	ic.recorder.Eventf(ref, v1.EventTypeWarning, status, "Node %s status is now: %s", node.Name, status)
}

// podCIDRs are a node's pod CIDRs: spec.podCIDRs, else spec.podCIDR.
// Unparsable ones are left out.
func podCIDRs(n *v1.Node) []netip.Prefix {
	list := n.Spec.PodCIDRs
	if len(list) == 0 && n.Spec.PodCIDR != "" {
		list = []string{n.Spec.PodCIDR}
	}
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// podCIDRPatch is the merge patch setting spec.podCIDR (the first) and
// spec.podCIDRs.
func podCIDRPatch(cidrs []netip.Prefix) []byte {
	list := make([]string, len(cidrs))
	for i, c := range cidrs {
		list[i] = c.String()
	}
	type spec struct {
		PodCIDR  string   `json:"podCIDR"`
		PodCIDRs []string `json:"podCIDRs"`
	}
	b, _ := json.Marshal(map[string]spec{"spec": {PodCIDR: list[0], PodCIDRs: list}})
	return b
}
