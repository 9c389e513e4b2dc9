package defaults

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Pod-level resources (spec.resources, the PodLevelResources feature, on by
// default) are defaulted from the containers' resources. These run only on
// a Pod, after its containers' requests were defaulted from their limits.

// defaultHugePagePodLimits gives a pod that sets any pod-level resources a
// pod-level hugepages limit equal to its containers' aggregate hugepages
// limit, for every hugepages size the pod sets neither a pod-level limit
// nor a pod-level request for.
func defaultHugePagePodLimits(pod *corev1.Pod) {
	res := pod.Spec.Resources
	if res == nil || (len(res.Limits) == 0 && len(res.Requests) == 0) {
		return
	}
	limits := res.Limits
	if limits == nil {
		limits = corev1.ResourceList{}
	}
	for name, q := range aggregateContainerResources(pod, containerLimits) {
		if !isSupportedPodLevelResource(name) || !isHugePages(name) {
			continue
		}
		if _, ok := res.Requests[name]; ok {
			continue
		}
		if _, ok := limits[name]; !ok {
			limits[name] = q.DeepCopy()
		}
	}
	if len(limits) > 0 {
		res.Limits = limits
	}
}

// defaultPodRequests gives a pod that sets pod-level limits a pod-level
// request for every supported resource it sets none for: the containers'
// aggregate request for an overcommittable resource (cpu, memory) some
// container requests, else the pod-level limit.
func defaultPodRequests(pod *corev1.Pod) {
	res := pod.Spec.Resources
	if res == nil || len(res.Limits) == 0 {
		return
	}
	requests := res.Requests
	if requests == nil {
		requests = corev1.ResourceList{}
	}
	for name, q := range aggregateContainerResources(pod, containerRequests) {
		if _, ok := requests[name]; !ok && isSupportedPodLevelResource(name) && isOvercommitAllowed(name) {
			requests[name] = q.DeepCopy()
		}
	}
	for name, q := range res.Limits {
		if _, ok := requests[name]; !ok && isSupportedPodLevelResource(name) {
			requests[name] = q.DeepCopy()
		}
	}
	if len(requests) > 0 {
		res.Requests = requests
	}
}

func containerRequests(c *corev1.Container) corev1.ResourceList { return c.Resources.Requests }

func containerLimits(c *corev1.Container) corev1.ResourceList { return c.Resources.Limits }

// aggregateContainerResources returns what a pod's containers need at most
// at once, per resource, by the sidecar-aware formula: the sum over regular
// and restartable init (sidecar) containers, or, if larger, the peak while
// any one init container runs alongside the sidecars started before it.
func aggregateContainerResources(pod *corev1.Pod, list func(*corev1.Container) corev1.ResourceList) corev1.ResourceList {
	total := corev1.ResourceList{}
	for i := range pod.Spec.Containers {
		addResourceList(total, list(&pod.Spec.Containers[i]))
	}
	sidecars := corev1.ResourceList{}
	initPeak := corev1.ResourceList{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		var running corev1.ResourceList
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			addResourceList(total, list(c))
			addResourceList(sidecars, list(c))
			running = sidecars
		} else {
			running = corev1.ResourceList{}
			addResourceList(running, list(c))
			addResourceList(running, sidecars)
		}
		maxResourceList(initPeak, running)
	}
	maxResourceList(total, initPeak)
	return total
}

// addResourceList adds every quantity of add to sum.
func addResourceList(sum, add corev1.ResourceList) {
	for name, q := range add {
		if v, ok := sum[name]; ok {
			v.Add(q)
			sum[name] = v
		} else {
			sum[name] = q.DeepCopy()
		}
	}
}

// maxResourceList raises every quantity of peak to at least other's.
func maxResourceList(peak, other corev1.ResourceList) {
	for name, q := range other {
		if v, ok := peak[name]; !ok || q.Cmp(v) > 0 {
			peak[name] = q.DeepCopy()
		}
	}
}

// isSupportedPodLevelResource reports whether name may be set at pod
// level: cpu, memory and hugepages of any size.
func isSupportedPodLevelResource(name corev1.ResourceName) bool {
	return name == corev1.ResourceCPU || name == corev1.ResourceMemory || isHugePages(name)
}

func isHugePages(name corev1.ResourceName) bool {
	return strings.HasPrefix(string(name), hugePagesResourcePrefix)
}

// isOvercommitAllowed reports whether requests of name may be below its
// limits: native resources other than hugepages.
func isOvercommitAllowed(name corev1.ResourceName) bool {
	native := !strings.Contains(string(name), "/") || strings.HasPrefix(string(name), nativeResourceDomainPrefix)
	return native && !isHugePages(name)
}
