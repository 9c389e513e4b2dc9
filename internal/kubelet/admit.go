package kubelet

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
)

// podRequests is what a pod asks of its node, as upstream computes it for
// admission: the sum of its containers' requests, or the largest of its
// init containers' if that is more, plus its overhead.
func podRequests(pod *v1.Pod) (milliCPU, memory int64) {
	for _, c := range pod.Spec.Containers {
		milliCPU += c.Resources.Requests.Cpu().MilliValue()
		memory += c.Resources.Requests.Memory().Value()
	}
	for _, c := range pod.Spec.InitContainers {
		milliCPU = max(milliCPU, c.Resources.Requests.Cpu().MilliValue())
		memory = max(memory, c.Resources.Requests.Memory().Value())
	}
	milliCPU += pod.Spec.Overhead.Cpu().MilliValue()
	memory += pod.Spec.Overhead.Memory().Value()
	return milliCPU, memory
}

// admitPod is the kubelet's resource admission: whether the node, running
// the pods it already admitted, has room for one more. A refusal is
// upstream's reason (OutOfpods, OutOfcpu, OutOfmemory) and message; the
// pod then fails with "Pod was rejected: <message>". It is pure.
func admitPod(pod *v1.Pod, admitted []*v1.Pod, allocatable v1.ResourceList) (reason, message string) {
	if capacity, ok := allocatable[v1.ResourcePods]; ok && int64(len(admitted))+1 > capacity.Value() {
		return "OutOfpods", fmt.Sprintf("Node didn't have enough resource: pods, requested: 1, used: %d, capacity: %d", len(admitted), capacity.Value())
	}
	cpu, mem := podRequests(pod)
	var usedCPU, usedMem int64
	for _, p := range admitted {
		c, m := podRequests(p)
		usedCPU, usedMem = usedCPU+c, usedMem+m
	}
	if capacity, ok := allocatable[v1.ResourceCPU]; ok && cpu > 0 && usedCPU+cpu > capacity.MilliValue() {
		return "OutOfcpu", fmt.Sprintf("Node didn't have enough resource: cpu, requested: %d, used: %d, capacity: %d", cpu, usedCPU, capacity.MilliValue())
	}
	if capacity, ok := allocatable[v1.ResourceMemory]; ok && mem > 0 && usedMem+mem > capacity.Value() {
		return "OutOfmemory", fmt.Sprintf("Node didn't have enough resource: memory, requested: %d, used: %d, capacity: %d", mem, usedMem, capacity.Value())
	}
	return "", ""
}

// admit decides, once per pod, whether this kubelet runs it. Pods that
// already have something in the runtime (a restarted kubelet) or a
// status beyond Pending were admitted before. Decisions are serialized so
// that two new pods cannot both take the last slot.
func (k *Kubelet) admit(w *podWorker, pod *v1.Pod, rt *runtimePod) (reason, message string) {
	if w.admitted {
		return "", ""
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(rt.Sandboxes)+len(rt.Containers) > 0 || pod.Status.Phase != v1.PodPending && pod.Status.Phase != "" {
		w.admitted = true
		return "", ""
	}
	var others []*v1.Pod
	for _, o := range k.workers {
		if o == w || !o.admitted {
			continue
		}
		if p, removed := o.snapshot(); p != nil && !removed && !isTerminalPhase(p.Status.Phase) {
			others = append(others, p)
		}
	}
	reason, message = admitPod(pod, others, k.allocatable())
	w.admitted = reason == ""
	return reason, message
}
