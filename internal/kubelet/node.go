package kubelet

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// nodeState is what the kubelet knows of its Node and Lease.
type nodeState struct {
	mu         sync.Mutex
	node       *v1.Node // as last read from or written to the API server
	lastReport time.Time
	podCIDR    string // passed to the runtime
	lease      *coordinationv1.Lease
}

func (k *Kubelet) currentNode() *v1.Node {
	k.node.mu.Lock()
	defer k.node.mu.Unlock()
	return k.node.node
}

func (k *Kubelet) nodeRef() *v1.ObjectReference {
	ref := &v1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: k.cfg.NodeName}
	if n := k.currentNode(); n != nil {
		ref.UID = n.UID
	}
	return ref
}

// nodeLabels are the labels the kubelet owns on its node.
func (k *Kubelet) nodeLabels() map[string]string {
	l := map[string]string{
		v1.LabelHostname:          k.cfg.NodeName,
		v1.LabelOSStable:          runtime.GOOS,
		v1.LabelArchStable:        runtime.GOARCH,
		"beta.kubernetes.io/os":   runtime.GOOS,
		"beta.kubernetes.io/arch": runtime.GOARCH,
	}
	if m, err := k.cfg.Machine(); err == nil {
		if m.OperatingSystem != "" {
			l[v1.LabelOSStable], l["beta.kubernetes.io/os"] = m.OperatingSystem, m.OperatingSystem
		}
		if m.Architecture != "" {
			l[v1.LabelArchStable], l["beta.kubernetes.io/arch"] = m.Architecture, m.Architecture
		}
	}
	for _, r := range k.cfg.Roles {
		l[LabelNodeRolePrefix+r] = ""
	}
	for key, v := range k.cfg.Labels {
		l[key] = v
	}
	return l
}

// registerNode creates the Node, or adopts an existing one (a restarted
// kubelet) after putting its labels back, then writes a first status.
func (k *Kubelet) registerNode(ctx context.Context) error {
	want := &v1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        k.cfg.NodeName,
			Labels:      k.nodeLabels(),
			Annotations: map[string]string{"volumes.kubernetes.io/controller-managed-attach-detach": "true"},
		},
		Spec: v1.NodeSpec{Taints: k.cfg.Taints},
	}
	if k.cfg.PodCIDR != "" {
		want.Spec.PodCIDR, want.Spec.PodCIDRs = k.cfg.PodCIDR, []string{k.cfg.PodCIDR}
	}
	delay := 100 * time.Millisecond
	for {
		node, err := k.client.CoreV1().Nodes().Create(ctx, want, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			node, err = k.adoptNode(ctx, want)
		}
		if err == nil {
			k.node.mu.Lock()
			k.node.node = node
			k.node.mu.Unlock()
			k.log.Info("node registered", "uid", node.UID)
			break
		}
		k.log.Warn("unable to register node with the API server", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-k.clock.After(delay):
		}
		delay = min(2*delay, 7*time.Second)
	}
	k.recorder.Eventf(k.nodeRef(), v1.EventTypeNormal, "Starting", "Starting kubelet.")
	if err := k.syncNodeStatus(ctx); err != nil {
		k.log.Warn("first node status", "err", err)
	}
	return nil
}

func (k *Kubelet) adoptNode(ctx context.Context, want *v1.Node) (*v1.Node, error) {
	existing, err := k.client.CoreV1().Nodes().Get(ctx, want.Name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	changed := false
	if existing.Labels == nil {
		existing.Labels = map[string]string{}
	}
	for key, v := range want.Labels {
		if cur, ok := existing.Labels[key]; !ok || cur != v {
			existing.Labels[key] = v
			changed = true
		}
	}
	if existing.Spec.PodCIDR == "" && want.Spec.PodCIDR != "" {
		existing.Spec.PodCIDR, existing.Spec.PodCIDRs = want.Spec.PodCIDR, want.Spec.PodCIDRs
		changed = true
	}
	if !changed {
		return existing, nil
	}
	return k.client.CoreV1().Nodes().Update(ctx, existing, metav1.UpdateOptions{})
}

// Until the node is first reported Ready, its status is computed every
// fastStatusInterval (for at most fastStatusFor), as upstream's
// fastStatusUpdateOnce does: a node registered before the node IPAM
// controller gave it a pod CIDR would otherwise stay NotReady until the
// next NodeStatusUpdateFrequency, 10 s after its CIDR arrived.
const (
	fastStatusInterval = 100 * time.Millisecond
	fastStatusFor      = 2 * time.Minute
)

// nodeReported reports whether the node's last written status says Ready.
func (k *Kubelet) nodeReported() bool {
	n := k.currentNode()
	if n == nil {
		return false
	}
	for _, c := range n.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

// nodeStatusLoop computes the node status every NodeStatusUpdateFrequency
// (faster until the node is first Ready).
func (k *Kubelet) nodeStatusLoop(ctx context.Context) {
	for start := k.clock.Now(); !k.nodeReported() && k.clock.Since(start) < fastStatusFor; {
		select {
		case <-ctx.Done():
			return
		case <-k.clock.After(fastStatusInterval):
		}
		if err := k.syncNodeStatus(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn("node status update failed", "err", err)
		}
	}
	t := k.clock.NewTicker(k.cfg.NodeStatusUpdateFrequency)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
		if err := k.syncNodeStatus(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn("node status update failed", "err", err)
		}
	}
}

// syncNodeStatus computes the status and writes it if it changed or the
// report frequency has passed; on a conflict it rereads the node once.
func (k *Kubelet) syncNodeStatus(ctx context.Context) error {
	in, err := k.nodeStatusInput(ctx)
	if err != nil {
		return err
	}
	k.node.mu.Lock()
	cur, lastReport := k.node.node, k.node.lastReport
	k.node.mu.Unlock()
	if cur == nil {
		return nil
	}
	if cur.Spec.PodCIDR == "" && k.cfg.PodCIDR == "" {
		// Waiting for someone to assign the node a pod CIDR.
		if fresh, err := k.client.CoreV1().Nodes().Get(ctx, cur.Name, metav1.GetOptions{}); err == nil {
			cur = fresh
		}
	}
	for attempt := 0; ; attempt++ {
		status, events := computeNodeStatus(cur.Status, in)
		if !nodeStatusChanged(&cur.Status, &status) && in.Now.Sub(lastReport) < k.cfg.NodeStatusReportFrequency {
			k.notePodCIDR(ctx, cur)
			return nil
		}
		n := cur.DeepCopy()
		n.Status = status
		updated, err := k.client.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) && attempt == 0 {
			if cur, err = k.client.CoreV1().Nodes().Get(ctx, cur.Name, metav1.GetOptions{}); err != nil {
				return fmt.Errorf("get node: %w", err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("update node status: %w", err)
		}
		k.node.mu.Lock()
		k.node.node, k.node.lastReport = updated, in.Now
		k.node.mu.Unlock()
		for _, e := range events {
			k.recorder.Eventf(k.nodeRef(), e.Type, e.Reason, "Node %s status is now: %s", k.cfg.NodeName, e.Reason)
		}
		k.notePodCIDR(ctx, updated)
		return nil
	}
}

// notePodCIDR passes a pod CIDR assigned in the node's spec to the runtime.
func (k *Kubelet) notePodCIDR(ctx context.Context, n *v1.Node) {
	k.node.mu.Lock()
	known := k.node.podCIDR
	k.node.mu.Unlock()
	if n.Spec.PodCIDR != "" && n.Spec.PodCIDR != known {
		k.setPodCIDR(ctx, n.Spec.PodCIDR)
	}
}

func (k *Kubelet) nodeStatusInput(ctx context.Context) (nodeStatusInput, error) {
	m, err := k.cfg.Machine()
	if err != nil {
		return nodeStatusInput{}, fmt.Errorf("machine info: %w", err)
	}
	in := nodeStatusInput{
		Machine: m, Capacity: k.cfg.Capacity, Reserved: k.cfg.Reserved, MaxPods: k.cfg.MaxPods,
		NodeIP: k.cfg.NodeIP, Hostname: k.cfg.Hostname,
		RuntimeVersion: k.runtimeVersion, KubeletVersion: k.cfg.KubeletVersion, KubeletPort: int32(k.cfg.ServerPort),
		Now: k.clock.Now(),
	}
	if st, err := k.cfg.Runtime.Status(ctx, false); err != nil {
		in.RuntimeErr = err
	} else {
		in.RuntimeConditions = st.GetStatus().GetConditions()
	}
	if imgs, err := k.cfg.Images.ListImages(ctx, nil); err == nil {
		in.Images = imgs
	}
	return in, nil
}

// leaseLoop renews the node's Lease in kube-node-lease every
// LeaseRenewInterval: the heartbeat the node controller watches.
func (k *Kubelet) leaseLoop(ctx context.Context) {
	t := k.clock.NewTicker(k.cfg.LeaseRenewInterval)
	defer t.Stop()
	for {
		if err := k.renewLease(ctx); err != nil && ctx.Err() == nil {
			k.log.Warn("failed to renew the node lease", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

func (k *Kubelet) renewLease(ctx context.Context) error {
	leases := k.client.CoordinationV1().Leases(NodeLeaseNamespace)
	now := metav1.NewMicroTime(k.clock.Now())
	k.node.mu.Lock()
	lease := k.node.lease
	k.node.mu.Unlock()
	var err error
	if lease == nil {
		lease, err = leases.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			lease, err = leases.Create(ctx, k.newLease(now), metav1.CreateOptions{})
			if err == nil {
				k.storeLease(lease)
				return nil
			}
		}
		if err != nil {
			return err
		}
	}
	next := lease.DeepCopy()
	next.Spec.HolderIdentity = ptr.To(k.cfg.NodeName)
	next.Spec.LeaseDurationSeconds = ptr.To(int32(k.cfg.LeaseDuration / time.Second))
	next.Spec.RenewTime = &now
	if len(next.OwnerReferences) == 0 {
		next.OwnerReferences = k.leaseOwner()
	}
	updated, err := leases.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		k.storeLease(nil) // reread it next time
		return err
	}
	k.storeLease(updated)
	return nil
}

func (k *Kubelet) storeLease(l *coordinationv1.Lease) {
	k.node.mu.Lock()
	k.node.lease = l
	k.node.mu.Unlock()
}

func (k *Kubelet) newLease(now metav1.MicroTime) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: k.cfg.NodeName, Namespace: NodeLeaseNamespace, OwnerReferences: k.leaseOwner()},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr.To(k.cfg.NodeName),
			LeaseDurationSeconds: ptr.To(int32(k.cfg.LeaseDuration / time.Second)),
			RenewTime:            &now,
		},
	}
}

// leaseOwner makes the Node own its Lease, so that deleting the Node
// deletes the Lease.
func (k *Kubelet) leaseOwner() []metav1.OwnerReference {
	n := k.currentNode()
	if n == nil || n.UID == "" {
		return nil
	}
	return []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: n.Name, UID: n.UID}}
}
