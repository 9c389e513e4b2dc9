package kubelet

import (
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Upstream's hard eviction thresholds: they are taken out of allocatable
// and cross them means pressure.
var (
	evictionMemoryAvailable = resource.MustParse("100Mi")
	evictionNodefsPercent   = int64(10)
)

// pidPressurePercent is Skiff's PIDPressure threshold (upstream has no
// default one): pressure when more than this share of pid_max is in use.
const pidPressurePercent = 95

// maxNodeImages is how many images node.status.images lists, as upstream.
const maxNodeImages = 50

// nodeStatusInput is what a node's status is computed from.
type nodeStatusInput struct {
	Machine        MachineInfo
	Capacity       v1.ResourceList // overrides
	Reserved       v1.ResourceList
	MaxPods        int
	NodeIP         string
	Hostname       string
	RuntimeVersion string // "containerd://2.1.4"
	KubeletVersion string
	// KubeletPort is the kubelet server's port (0: none).
	KubeletPort int32
	// RuntimeConditions are the CRI Status call's (nil if it failed).
	RuntimeConditions []*runtimeapi.RuntimeCondition
	RuntimeErr        error
	Images            []*runtimeapi.Image
	Now               time.Time
}

// nodeEvent is a node condition change the kubelet records as an event
// ("Node n1 status is now: NodeReady").
type nodeEvent struct {
	Type   string
	Reason string
}

// computeNodeStatus is the kubelet's node status, as upstream's
// nodestatus setters: capacity, allocatable, addresses, nodeInfo, images,
// and the conditions MemoryPressure, DiskPressure, PIDPressure and Ready
// (last, as upstream keeps it). It returns the events the condition
// changes call for. It is pure.
func computeNodeStatus(old v1.NodeStatus, in nodeStatusInput) (v1.NodeStatus, []nodeEvent) {
	s := *old.DeepCopy()
	m := in.Machine
	capacity := v1.ResourceList{
		v1.ResourceCPU:              *resource.NewQuantity(int64(m.CPUs), resource.DecimalSI),
		v1.ResourceMemory:           *resource.NewQuantity(m.MemoryBytes, resource.BinarySI),
		v1.ResourceEphemeralStorage: *resource.NewQuantity(m.EphemeralStorageBytes, resource.BinarySI),
		v1.ResourcePods:             *resource.NewQuantity(int64(in.MaxPods), resource.DecimalSI),
		"hugepages-1Gi":             *resource.NewQuantity(0, resource.DecimalSI),
		"hugepages-2Mi":             *resource.NewQuantity(0, resource.DecimalSI),
	}
	for k, v := range in.Capacity {
		capacity[k] = v.DeepCopy()
	}
	allocatable := v1.ResourceList{}
	for k, v := range capacity {
		a := v.DeepCopy()
		if r, ok := in.Reserved[k]; ok {
			a.Sub(r)
		}
		switch k {
		case v1.ResourceMemory:
			a.Sub(evictionMemoryAvailable)
		case v1.ResourceEphemeralStorage:
			a.Sub(*resource.NewQuantity(v.Value()*evictionNodefsPercent/100, resource.BinarySI))
		}
		if a.Sign() < 0 {
			a = *resource.NewQuantity(0, v.Format)
		}
		allocatable[k] = a
	}
	s.Capacity, s.Allocatable = capacity, allocatable
	s.Addresses = []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: in.NodeIP}, {Type: v1.NodeHostName, Address: in.Hostname}}
	s.DaemonEndpoints = v1.NodeDaemonEndpoints{KubeletEndpoint: v1.DaemonEndpoint{Port: in.KubeletPort}}
	s.NodeInfo = v1.NodeSystemInfo{
		MachineID: m.MachineID, SystemUUID: m.SystemUUID, BootID: m.BootID,
		KernelVersion: m.KernelVersion, OSImage: m.OSImage,
		ContainerRuntimeVersion: in.RuntimeVersion, KubeletVersion: in.KubeletVersion,
		OperatingSystem: m.OperatingSystem, Architecture: m.Architecture,
	}
	s.Images = nodeImages(in.Images)
	s.Phase = ""

	now := metav1.NewTime(in.Now)
	var events []nodeEvent
	setPressure := func(t v1.NodeConditionType, pressure bool, yes, no [3]string) {
		c := v1.NodeCondition{Type: t, Status: v1.ConditionFalse, Reason: no[0], Message: no[1], LastHeartbeatTime: now}
		event := no[2]
		if pressure {
			c.Status, c.Reason, c.Message, event = v1.ConditionTrue, yes[0], yes[1], yes[2]
		}
		setCondition(&s, c, now, func() { events = append(events, nodeEvent{v1.EventTypeNormal, event}) })
	}
	memPressure := m.MemoryAvailableBytes > 0 && m.MemoryAvailableBytes < evictionMemoryAvailable.Value()
	diskPressure := m.EphemeralStorageBytes > 0 && m.DiskAvailableBytes > 0 && m.DiskAvailableBytes*100 < m.EphemeralStorageBytes*evictionNodefsPercent
	pidPressure := m.PIDMax > 0 && m.PIDsInUse*100 > m.PIDMax*pidPressurePercent
	setPressure(v1.NodeMemoryPressure, memPressure,
		[3]string{"KubeletHasInsufficientMemory", "kubelet has insufficient memory available", "NodeHasInsufficientMemory"},
		[3]string{"KubeletHasSufficientMemory", "kubelet has sufficient memory available", "NodeHasSufficientMemory"})
	setPressure(v1.NodeDiskPressure, diskPressure,
		[3]string{"KubeletHasDiskPressure", "kubelet has disk pressure", "NodeHasDiskPressure"},
		[3]string{"KubeletHasNoDiskPressure", "kubelet has no disk pressure", "NodeHasNoDiskPressure"})
	setPressure(v1.NodePIDPressure, pidPressure,
		[3]string{"KubeletHasInsufficientPID", "kubelet has insufficient PID available", "NodeHasInsufficientPID"},
		[3]string{"KubeletHasSufficientPID", "kubelet has sufficient PID available", "NodeHasSufficientPID"})

	ready := v1.NodeCondition{Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status", LastHeartbeatTime: now}
	if errs := runtimeErrors(in); len(errs) > 0 {
		ready.Status, ready.Reason, ready.Message = v1.ConditionFalse, "KubeletNotReady", strings.Join(errs, ", ")
		if len(errs) > 1 {
			ready.Message = "[" + ready.Message + "]"
		}
	}
	event := "NodeReady"
	if ready.Status != v1.ConditionTrue {
		event = "NodeNotReady"
	}
	setCondition(&s, ready, now, func() { events = append(events, nodeEvent{v1.EventTypeNormal, event}) })
	// Ready stays last.
	for i, c := range s.Conditions {
		if c.Type == v1.NodeReady && i != len(s.Conditions)-1 {
			s.Conditions = append(append(s.Conditions[:i:i], s.Conditions[i+1:]...), c)
			break
		}
	}
	return s, events
}

// setCondition replaces or appends a condition, keeping its transition
// time while its status is unchanged; changed calls onChange. A new
// condition also counts as a change (upstream records no NodeReady for a
// node that is ready at its first status; Skiff does, so that a new
// node's events end with NodeReady as users expect).
func setCondition(s *v1.NodeStatus, c v1.NodeCondition, now metav1.Time, onChange func()) {
	for i := range s.Conditions {
		if s.Conditions[i].Type != c.Type {
			continue
		}
		if s.Conditions[i].Status == c.Status {
			c.LastTransitionTime = s.Conditions[i].LastTransitionTime
		} else {
			c.LastTransitionTime = now
			onChange()
		}
		s.Conditions[i] = c
		return
	}
	c.LastTransitionTime = now
	s.Conditions = append(s.Conditions, c)
	onChange()
}

// runtimeErrors are the reasons the node is not ready, worded as
// upstream's.
func runtimeErrors(in nodeStatusInput) []string {
	if in.RuntimeErr != nil {
		return []string{fmt.Sprintf("container runtime is down: %v", in.RuntimeErr)}
	}
	var errs []string
	byType := map[string]*runtimeapi.RuntimeCondition{}
	for _, c := range in.RuntimeConditions {
		byType[c.Type] = c
	}
	describe := func(c *runtimeapi.RuntimeCondition) string {
		return fmt.Sprintf("%s=%t reason:%s message:%s", c.Type, c.Status, c.Reason, c.Message)
	}
	if c := byType[runtimeapi.RuntimeReady]; c == nil {
		errs = append(errs, "container runtime status check may not have completed yet")
	} else if !c.Status {
		errs = append(errs, "container runtime not ready: "+describe(c))
	}
	if c := byType[runtimeapi.NetworkReady]; c == nil {
		errs = append(errs, "container runtime network not ready: NetworkReady=false reason: message:network status unknown")
	} else if !c.Status {
		errs = append(errs, "container runtime network not ready: "+describe(c))
	}
	return errs
}

// nodeImages lists the node's images, largest first, at most 50.
func nodeImages(images []*runtimeapi.Image) []v1.ContainerImage {
	var out []v1.ContainerImage
	for _, img := range images {
		names := append(append([]string(nil), img.RepoDigests...), img.RepoTags...)
		if len(names) == 0 {
			continue
		}
		out = append(out, v1.ContainerImage{Names: names, SizeBytes: int64(img.Size)})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].SizeBytes > out[j].SizeBytes })
	if len(out) > maxNodeImages {
		out = out[:maxNodeImages]
	}
	return out
}

// nodeStatusChanged says whether a status differs from the last written
// one other than in heartbeat times: only then, or when the report
// frequency has passed, is it written.
func nodeStatusChanged(a, b *v1.NodeStatus) bool {
	strip := func(s *v1.NodeStatus) *v1.NodeStatus {
		c := s.DeepCopy()
		for i := range c.Conditions {
			c.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
		return c
	}
	return !apiequality.Semantic.DeepEqual(strip(a), strip(b))
}
