package framework

import (
	"errors"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"
)

// PodInfo is a pod with everything the rules need precomputed once: its
// requests, host ports and parsed affinity terms. It is immutable once
// built and shared between snapshots; replace it to change the pod.
type PodInfo struct {
	Pod *v1.Pod

	// Requests is PodRequests(Pod) as integers.
	Requests Resource
	// NonZeroMilliCPU and NonZeroMemory are the cpu and memory requests
	// with the scoring defaults for containers that set none.
	NonZeroMilliCPU int64
	NonZeroMemory   int64
	// HostPorts are the ports with hostPort > 0 of the containers and of
	// the sidecars (restartable init containers).
	HostPorts []v1.ContainerPort

	RequiredAffinityTerms      []AffinityTerm
	RequiredAntiAffinityTerms  []AffinityTerm
	PreferredAffinityTerms     []WeightedAffinityTerm
	PreferredAntiAffinityTerms []WeightedAffinityTerm
	// ParseError reports label selectors in the affinity terms that could
	// not be parsed; the offending term list is left empty, as upstream
	// does for pods the API server let through.
	ParseError error

	key string
}

// NewPodInfo precomputes pod's scheduling view.
func NewPodInfo(pod *v1.Pod) *PodInfo {
	pi := &PodInfo{Pod: pod, key: podKey(pod)}

	reqs := PodRequests(pod)
	pi.Requests = NewResource(reqs)
	non0 := nonZeroPodRequests(pod, reqs)
	cpu, mem := non0[v1.ResourceCPU], non0[v1.ResourceMemory]
	pi.NonZeroMilliCPU, pi.NonZeroMemory = cpu.MilliValue(), mem.Value()
	pi.HostPorts = hostPorts(pod)

	var errs []error
	var err error
	if a := pod.Spec.Affinity; a != nil {
		if pa := a.PodAffinity; pa != nil {
			if pi.RequiredAffinityTerms, err = newAffinityTerms(pod, pa.RequiredDuringSchedulingIgnoredDuringExecution); err != nil {
				errs = append(errs, fmt.Errorf("requiredAffinityTerms: %w", err))
			}
			if pi.PreferredAffinityTerms, err = newWeightedAffinityTerms(pod, pa.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
				errs = append(errs, fmt.Errorf("preferredAffinityTerms: %w", err))
			}
		}
		if paa := a.PodAntiAffinity; paa != nil {
			if pi.RequiredAntiAffinityTerms, err = newAffinityTerms(pod, paa.RequiredDuringSchedulingIgnoredDuringExecution); err != nil {
				errs = append(errs, fmt.Errorf("requiredAntiAffinityTerms: %w", err))
			}
			if pi.PreferredAntiAffinityTerms, err = newWeightedAffinityTerms(pod, paa.PreferredDuringSchedulingIgnoredDuringExecution); err != nil {
				errs = append(errs, fmt.Errorf("preferredAntiAffinityTerms: %w", err))
			}
		}
	}
	pi.ParseError = errors.Join(errs...)
	return pi
}

// Key identifies the pod: its UID, or namespace/name when it has none.
func (pi *PodInfo) Key() string { return pi.key }

// Priority is the pod's spec.priority, 0 when unset.
func (pi *PodInfo) Priority() int32 { return PodPriority(pi.Pod) }

// HasAffinity reports whether the pod has any pod affinity or anti-affinity.
func (pi *PodInfo) HasAffinity() bool {
	a := pi.Pod.Spec.Affinity
	return a != nil && (a.PodAffinity != nil || a.PodAntiAffinity != nil)
}

// HasRequiredAntiAffinity reports whether the pod has required
// anti-affinity terms, which constrain where other pods may go.
func (pi *PodInfo) HasRequiredAntiAffinity() bool {
	a := pi.Pod.Spec.Affinity
	return a != nil && a.PodAntiAffinity != nil && len(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) > 0
}

// PodPriority returns spec.priority, 0 when unset.
func PodPriority(pod *v1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

// PodStartTime is status.startTime, or now for a pod that has not started:
// preemption treats an unstarted pod as the youngest.
func PodStartTime(pod *v1.Pod, now time.Time) time.Time {
	if pod.Status.StartTime != nil {
		return pod.Status.StartTime.Time
	}
	return now
}

func podKey(pod *v1.Pod) string {
	if pod.UID != "" {
		return string(pod.UID)
	}
	return pod.Namespace + "/" + pod.Name
}

// PodKey identifies a pod as PodInfo.Key does.
func PodKey(pod *v1.Pod) string { return podKey(pod) }

func hostPorts(pod *v1.Pod) []v1.ContainerPort {
	var ports []v1.ContainerPort
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy == nil || *c.RestartPolicy != v1.ContainerRestartPolicyAlways {
			continue
		}
		for _, p := range c.Ports {
			if p.HostPort > 0 {
				ports = append(ports, p)
			}
		}
	}
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort > 0 {
				ports = append(ports, p)
			}
		}
	}
	return ports
}

// AffinityTerm is a parsed v1.PodAffinityTerm.
type AffinityTerm struct {
	// Namespaces the term selects pods in: the listed ones, or the owning
	// pod's namespace when neither namespaces nor a namespace selector is set.
	Namespaces sets.Set[string]
	// Selector selects the pods by label.
	Selector labels.Selector
	// TopologyKey names the node label that defines a domain.
	TopologyKey string
	// NamespaceSelector selects further namespaces by their labels
	// (labels.Nothing() when unset).
	NamespaceSelector labels.Selector
}

// Matches reports whether pod, whose namespace carries nsLabels, is selected
// by the term.
func (t *AffinityTerm) Matches(pod *v1.Pod, nsLabels labels.Set) bool {
	if t.Namespaces.Has(pod.Namespace) || t.NamespaceSelector.Matches(nsLabels) {
		return t.Selector.Matches(labels.Set(pod.Labels))
	}
	return false
}

// WeightedAffinityTerm is a parsed v1.WeightedPodAffinityTerm.
type WeightedAffinityTerm struct {
	AffinityTerm
	Weight int32
}

func newAffinityTerm(pod *v1.Pod, term *v1.PodAffinityTerm) (AffinityTerm, error) {
	sel, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
	if err != nil {
		return AffinityTerm{}, err
	}
	nsSel, err := metav1.LabelSelectorAsSelector(term.NamespaceSelector)
	if err != nil {
		return AffinityTerm{}, err
	}
	ns := sets.New[string]()
	if len(term.Namespaces) == 0 && term.NamespaceSelector == nil {
		ns.Insert(pod.Namespace)
	} else {
		ns.Insert(term.Namespaces...)
	}
	return AffinityTerm{Namespaces: ns, Selector: sel, TopologyKey: term.TopologyKey, NamespaceSelector: nsSel}, nil
}

func newAffinityTerms(pod *v1.Pod, terms []v1.PodAffinityTerm) ([]AffinityTerm, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	out := make([]AffinityTerm, 0, len(terms))
	for i := range terms {
		t, err := newAffinityTerm(pod, &terms[i])
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func newWeightedAffinityTerms(pod *v1.Pod, terms []v1.WeightedPodAffinityTerm) ([]WeightedAffinityTerm, error) {
	if len(terms) == 0 {
		return nil, nil
	}
	out := make([]WeightedAffinityTerm, 0, len(terms))
	for i := range terms {
		t, err := newAffinityTerm(pod, &terms[i].PodAffinityTerm)
		if err != nil {
			return nil, err
		}
		out = append(out, WeightedAffinityTerm{AffinityTerm: t, Weight: terms[i].Weight})
	}
	return out, nil
}
