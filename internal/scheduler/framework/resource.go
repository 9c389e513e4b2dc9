package framework

import (
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The requests the scheduler assumes, for scoring only, for a container that
// requests no cpu or memory, so that many best-effort pods do not all land on
// one node. Filters always use the real requests.
const (
	DefaultMilliCPURequest int64 = 100               // 0.1 core
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024 // 200 MiB
)

// Resource is a set of compute quantities as plain integers: cpu in
// millicores, memory and storage in bytes, a pod count, and every other
// schedulable resource (extended resources, hugepages) by name.
type Resource struct {
	MilliCPU         int64
	Memory           int64
	EphemeralStorage int64
	// AllowedPodNumber is the node's allocatable "pods"; unused for pods.
	AllowedPodNumber int
	// ScalarResources holds extended resources, hugepages and other
	// prefixed resources; nil when there are none.
	ScalarResources map[v1.ResourceName]int64
}

// NewResource converts a ResourceList.
func NewResource(rl v1.ResourceList) Resource {
	var r Resource
	r.Add(rl)
	return r
}

// Add adds every quantity of rl to r, ignoring resources the scheduler does
// not account (such as "storage").
func (r *Resource) Add(rl v1.ResourceList) {
	for name, q := range rl {
		switch name {
		case v1.ResourceCPU:
			r.MilliCPU += q.MilliValue()
		case v1.ResourceMemory:
			r.Memory += q.Value()
		case v1.ResourcePods:
			r.AllowedPodNumber += int(q.Value())
		case v1.ResourceEphemeralStorage:
			r.EphemeralStorage += q.Value()
		default:
			if IsScalarResourceName(name) {
				if r.ScalarResources == nil {
					r.ScalarResources = map[v1.ResourceName]int64{}
				}
				r.ScalarResources[name] += q.Value()
			}
		}
	}
}

// Clone returns a deep copy.
func (r Resource) Clone() Resource {
	out := r
	if r.ScalarResources != nil {
		out.ScalarResources = make(map[v1.ResourceName]int64, len(r.ScalarResources))
		for k, v := range r.ScalarResources {
			out.ScalarResources[k] = v
		}
	}
	return out
}

// addScaled adds sign*o to r (pod counts are not touched).
func (r *Resource) addScaled(o *Resource, sign int64) {
	r.MilliCPU += sign * o.MilliCPU
	r.Memory += sign * o.Memory
	r.EphemeralStorage += sign * o.EphemeralStorage
	if len(o.ScalarResources) > 0 && r.ScalarResources == nil {
		r.ScalarResources = map[v1.ResourceName]int64{}
	}
	for k, v := range o.ScalarResources {
		r.ScalarResources[k] += sign * v
	}
}

// IsScalarResourceName reports whether the scheduler accounts name as a
// named scalar: extended resources, hugepages-*, *kubernetes.io/* and
// attachable-volumes-*.
func IsScalarResourceName(name v1.ResourceName) bool {
	s := string(name)
	return IsExtendedResourceName(name) || strings.HasPrefix(s, v1.ResourceHugePagesPrefix) ||
		strings.Contains(s, v1.ResourceDefaultNamespacePrefix) || strings.HasPrefix(s, v1.ResourceAttachableVolumesPrefix)
}

// IsExtendedResourceName reports whether name is a vendor resource such as
// "example.com/gpu": qualified, outside the kubernetes.io/ namespace.
func IsExtendedResourceName(name v1.ResourceName) bool {
	s := string(name)
	if !strings.Contains(s, "/") || strings.Contains(s, v1.ResourceDefaultNamespacePrefix) ||
		strings.HasPrefix(s, v1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(validation.IsQualifiedName(v1.DefaultResourceRequestsPrefix+s)) == 0
}

// PodRequests returns what the pod asks of a node, as upstream's scheduler
// counts it:
//
//   - containers are summed; restartable init containers (sidecars) run for
//     the pod's whole life and are summed with them;
//   - each ordinary init container runs alone, next to the sidecars started
//     before it, so the pod needs at least that much: the result is the
//     maximum of the sum and every init container's peak;
//   - for a running pod whose resources were resized in place, the larger of
//     spec, allocated and actuated requests counts;
//   - pod-level requests (spec.resources), when set, replace the container
//     aggregate for cpu, memory and hugepages;
//   - spec.overhead is added.
func PodRequests(pod *v1.Pod) v1.ResourceList {
	return podRequests(pod, nil)
}

// nonZeroPodRequests is PodRequests with the scoring defaults filled in for
// every container that leaves cpu or memory unset (unless pod-level requests
// set them).
func nonZeroPodRequests(pod *v1.Pod, reqs v1.ResourceList) v1.ResourceList {
	defaults := v1.ResourceList{}
	podLevel := podLevelRequestsSet(pod)
	if _, ok := reqs[v1.ResourceCPU]; !podLevel || !ok {
		defaults[v1.ResourceCPU] = *resource.NewMilliQuantity(DefaultMilliCPURequest, resource.DecimalSI)
	}
	if _, ok := reqs[v1.ResourceMemory]; !podLevel || !ok {
		defaults[v1.ResourceMemory] = *resource.NewQuantity(DefaultMemoryRequest, resource.DecimalSI)
	}
	return podRequests(pod, defaults)
}

func podRequests(pod *v1.Pod, defaults v1.ResourceList) v1.ResourceList {
	spec := aggregateContainers(pod, defaults, specRequests)
	reqs := spec
	if needsStatusResources(pod) {
		infeasible := resizeInfeasible(pod)
		allocated := aggregateContainers(pod, defaults, func(c *v1.Container, cs *v1.ContainerStatus) v1.ResourceList {
			if cs != nil && cs.AllocatedResources != nil {
				return cs.AllocatedResources
			}
			if infeasible {
				return nil
			}
			return c.Resources.Requests
		})
		actuated := aggregateContainers(pod, defaults, func(c *v1.Container, cs *v1.ContainerStatus) v1.ResourceList {
			if cs != nil && cs.Resources != nil && cs.Resources.Requests != nil {
				return cs.Resources.Requests
			}
			if cs != nil && cs.AllocatedResources != nil {
				return cs.AllocatedResources
			}
			if infeasible {
				return nil
			}
			return c.Resources.Requests
		})
		reqs = v1.ResourceList{}
		if !infeasible {
			maxInto(reqs, spec)
		}
		maxInto(reqs, actuated)
		maxInto(reqs, allocated)
	}
	if podLevelRequestsSet(pod) {
		for name, q := range pod.Spec.Resources.Requests {
			if podLevelResource(name) {
				reqs[name] = q.DeepCopy()
			}
		}
	}
	if pod.Spec.Overhead != nil {
		addInto(reqs, pod.Spec.Overhead)
	}
	return reqs
}

func specRequests(c *v1.Container, _ *v1.ContainerStatus) v1.ResourceList {
	return c.Resources.Requests
}

// aggregateContainers applies the sidecar-aware sum/max rule to the lists
// get returns for each container.
func aggregateContainers(pod *v1.Pod, defaults v1.ResourceList, get func(*v1.Container, *v1.ContainerStatus) v1.ResourceList) v1.ResourceList {
	withStatus := needsStatusResources(pod)
	status := func(name string) *v1.ContainerStatus {
		if !withStatus {
			return nil
		}
		return findContainerStatus(pod, name)
	}
	result := v1.ResourceList{}
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		addInto(result, withDefaults(get(c, status(c.Name)), defaults))
	}
	sidecars := v1.ResourceList{}
	initPeak := v1.ResourceList{}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		r := withDefaults(get(c, status(c.Name)), defaults)
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			addInto(result, r)
			addInto(sidecars, r)
			r = sidecars
		} else {
			combined := v1.ResourceList{}
			addInto(combined, r)
			addInto(combined, sidecars)
			r = combined
		}
		maxInto(initPeak, r)
	}
	maxInto(result, initPeak)
	return result
}

func withDefaults(reqs, defaults v1.ResourceList) v1.ResourceList {
	if len(defaults) == 0 {
		return reqs
	}
	missing := false
	for name := range defaults {
		if _, ok := reqs[name]; !ok {
			missing = true
			break
		}
	}
	if !missing {
		return reqs
	}
	out := make(v1.ResourceList, len(reqs)+len(defaults))
	for k, v := range reqs {
		out[k] = v
	}
	for k, v := range defaults {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out
}

func addInto(dst, src v1.ResourceList) {
	for name, q := range src {
		if cur, ok := dst[name]; ok {
			cur.Add(q)
			dst[name] = cur
		} else {
			dst[name] = q.DeepCopy()
		}
	}
}

func maxInto(dst, src v1.ResourceList) {
	for name, q := range src {
		if cur, ok := dst[name]; !ok || q.Cmp(cur) > 0 {
			dst[name] = q.DeepCopy()
		}
	}
}

// needsStatusResources reports whether the pod's status may raise its
// requests above the spec: a container status carries allocated or
// actuated resources, or a resize was found infeasible.
func needsStatusResources(pod *v1.Pod) bool {
	for _, list := range [][]v1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses} {
		for i := range list {
			if list[i].AllocatedResources != nil || (list[i].Resources != nil && list[i].Resources.Requests != nil) {
				return true
			}
		}
	}
	return resizeInfeasible(pod)
}

func resizeInfeasible(pod *v1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == v1.PodResizePending {
			return c.Reason == v1.PodReasonInfeasible
		}
	}
	return false
}

func findContainerStatus(pod *v1.Pod, name string) *v1.ContainerStatus {
	for i := range pod.Status.ContainerStatuses {
		if pod.Status.ContainerStatuses[i].Name == name {
			return &pod.Status.ContainerStatuses[i]
		}
	}
	for i := range pod.Status.InitContainerStatuses {
		if pod.Status.InitContainerStatuses[i].Name == name {
			return &pod.Status.InitContainerStatuses[i]
		}
	}
	return nil
}

func podLevelResource(name v1.ResourceName) bool {
	return name == v1.ResourceCPU || name == v1.ResourceMemory || strings.HasPrefix(string(name), v1.ResourceHugePagesPrefix)
}

func podLevelRequestsSet(pod *v1.Pod) bool {
	if pod.Spec.Resources == nil {
		return false
	}
	for name := range pod.Spec.Resources.Requests {
		if podLevelResource(name) {
			return true
		}
	}
	return false
}
