package defaults

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Values set on create by upstream's admission plugins and registry
// strategies.
const (
	// defaultTolerationSeconds is how long a pod stays bound to a node
	// that became not-ready or unreachable (the DefaultTolerationSeconds
	// plugin's flags default to 300s).
	defaultTolerationSeconds int64 = 300
	// defaultPriorityWithoutClass is a pod's priority when it names no
	// class and no class is the global default.
	defaultPriorityWithoutClass int32 = 0
	// schedulingGatedMessage explains the PodScheduled=False condition of
	// a pod created with scheduling gates.
	schedulingGatedMessage = "Scheduling is blocked due to non-empty scheduling gates"
	// maxAppArmorLocalhostProfileLength is PATH_MAX - 1.
	maxAppArmorLocalhostProfileLength = 4095
)

// PodStatusOnCreate does to a new pod what upstream's pod registry does
// before validating a create (the pod strategy's PrepareForCreate); Skiff's
// pod create path calls it once, after Default and the mutating admission
// steps (AdmitPodTolerations, AdmitPodPriority), never on update:
//   - metadata.generation becomes 1;
//   - status is replaced by phase Pending and the pod's QoS class (the
//     class already in status, if the caller put one there, else the one
//     computed from the pod's resources);
//   - a pod with scheduling gates gets the condition PodScheduled=False,
//     reason SchedulingGated, with last transition time now;
//   - pod (anti-)affinity terms and topology spread constraints with
//     matchLabelKeys / mismatchLabelKeys get those keys' label values
//     merged into their label selectors;
//   - a container's deprecated AppArmor annotation is copied into its
//     securityContext.appArmorProfile when that is unset, valid and
//     different from the pod's profile (not for Windows pods).
//
// A nil pod is left alone.
func PodStatusOnCreate(pod *corev1.Pod, now metav1.Time) {
	if pod == nil {
		return
	}
	pod.Generation = 1
	qosClass := pod.Status.QOSClass
	if qosClass == "" {
		qosClass = podQOSClass(pod)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: qosClass}
	if len(pod.Spec.SchedulingGates) > 0 {
		pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{
			Type:               corev1.PodScheduled,
			Status:             corev1.ConditionFalse,
			LastTransitionTime: now,
			Reason:             corev1.PodReasonSchedulingGated,
			Message:            schedulingGatedMessage,
		})
	}
	mergeAffinityLabelKeys(pod)
	mergeTopologySpreadLabelKeys(pod)
	syncAppArmorAnnotations(pod)
}

// NamespaceOnCreate does to a new namespace what upstream's namespace
// registry does on create: status becomes phase Active, and the
// "kubernetes" finalizer is appended to spec.finalizers unless present.
// It is not a default: the finalizer is removed over the namespace's life
// (when its content is deleted), and must not come back on later writes.
// A nil namespace is left alone.
func NamespaceOnCreate(ns *corev1.Namespace) {
	if ns == nil {
		return
	}
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			return
		}
	}
	ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
}

// AdmitPodTolerations does what upstream's DefaultTolerationSeconds
// admission plugin does to a pod on create and update: unless a toleration
// already covers the NoExecute taint node.kubernetes.io/not-ready (a
// toleration with that key or no key, and effect NoExecute or none), it
// appends one tolerating it for 300s with operator Exists; likewise, after
// it, for node.kubernetes.io/unreachable. A nil pod is left alone.
func AdmitPodTolerations(pod *corev1.Pod) {
	if pod == nil {
		return
	}
	for _, key := range []string{corev1.TaintNodeNotReady, corev1.TaintNodeUnreachable} {
		if toleratesNoExecute(pod.Spec.Tolerations, key) {
			continue
		}
		pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
			Key:               key,
			Operator:          corev1.TolerationOpExists,
			Effect:            corev1.TaintEffectNoExecute,
			TolerationSeconds: ptrTo(defaultTolerationSeconds),
		})
	}
}

// toleratesNoExecute reports whether tolerations hold one matching the
// NoExecute taint key by key and effect (an empty key or effect matches
// any).
func toleratesNoExecute(tolerations []corev1.Toleration, key string) bool {
	for _, t := range tolerations {
		if (t.Key == key || t.Key == "") && (t.Effect == corev1.TaintEffectNoExecute || t.Effect == "") {
			return true
		}
	}
	return false
}

// AdmitPodPriority does what upstream's Priority admission plugin does to
// a new pod that names no priorityClassName, assuming no PriorityClass is
// marked globalDefault: it sets priority 0 and preemptionPolicy
// PreemptLowerPriority. It returns an error, and changes nothing, when the
// pod already sets a different priority or preemption policy (upstream
// forbids the create). A pod that names a class is left alone: resolving
// the class is the caller's job. A nil pod is left alone.
func AdmitPodPriority(pod *corev1.Pod) error {
	if pod == nil || pod.Spec.PriorityClassName != "" {
		return nil
	}
	priority := defaultPriorityWithoutClass
	policy := corev1.PreemptLowerPriority
	if p := pod.Spec.Priority; p != nil && *p != priority {
		return fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *p, priority)
	}
	if p := pod.Spec.PreemptionPolicy; p != nil && *p != policy {
		return fmt.Errorf("the string value of PreemptionPolicy (%s) must not be provided in pod spec; priority admission controller computed %s from the given PriorityClass name", *p, policy)
	}
	pod.Spec.Priority = &priority
	pod.Spec.PreemptionPolicy = &policy
	return nil
}

// podQOSClass computes a pod's QoS class from its cpu and memory: from its
// pod-level resources when it sets any supported pod-level resource, else
// from its regular and init containers. BestEffort when nothing is
// requested or limited; Guaranteed when every container (or the pod
// level) limits both cpu and memory and requests equal limits; Burstable
// otherwise.
func podQOSClass(pod *corev1.Pod) corev1.PodQOSClass {
	requests := corev1.ResourceList{}
	limits := corev1.ResourceList{}
	guaranteed := true
	if podLevelResourcesSet(pod) {
		addQOSQuantities(requests, pod.Spec.Resources.Requests)
		if len(pod.Spec.Resources.Limits) > 0 {
			if !limitsCPUAndMemory(addQOSQuantities(limits, pod.Spec.Resources.Limits)) {
				guaranteed = false
			}
		}
	} else {
		for _, cs := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
			for i := range cs {
				addQOSQuantities(requests, cs[i].Resources.Requests)
				if !limitsCPUAndMemory(addQOSQuantities(limits, cs[i].Resources.Limits)) {
					guaranteed = false
				}
			}
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

// addQOSQuantities adds into sum the positive cpu and memory quantities of
// list, and returns which of the two list had positive.
func addQOSQuantities(sum, list corev1.ResourceList) map[corev1.ResourceName]bool {
	found := map[corev1.ResourceName]bool{}
	var zero resource.Quantity
	for name, q := range list {
		if name != corev1.ResourceCPU && name != corev1.ResourceMemory {
			continue
		}
		if q.Cmp(zero) <= 0 {
			continue
		}
		found[name] = true
		if v, ok := sum[name]; ok {
			v.Add(q)
			sum[name] = v
		} else {
			sum[name] = q.DeepCopy()
		}
	}
	return found
}

func limitsCPUAndMemory(found map[corev1.ResourceName]bool) bool {
	return found[corev1.ResourceCPU] && found[corev1.ResourceMemory]
}

// podLevelResourcesSet reports whether the pod sets a supported resource
// (cpu, memory, hugepages) in its pod-level requests or limits.
func podLevelResourcesSet(pod *corev1.Pod) bool {
	res := pod.Spec.Resources
	if res == nil {
		return false
	}
	for _, list := range []corev1.ResourceList{res.Requests, res.Limits} {
		for name := range list {
			if isSupportedPodLevelResource(name) {
				return true
			}
		}
	}
	return false
}

// mergeAffinityLabelKeys merges, into the label selector of every pod
// (anti-)affinity term that has one, "key In (value)" for each of its
// matchLabelKeys and "key NotIn (value)" for each of its mismatchLabelKeys
// that the pod carries as a label.
func mergeAffinityLabelKeys(pod *corev1.Pod) {
	a := pod.Spec.Affinity
	if a == nil {
		return
	}
	var required [][]corev1.PodAffinityTerm
	var preferred [][]corev1.WeightedPodAffinityTerm
	if a.PodAffinity != nil {
		required = append(required, a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
		preferred = append(preferred, a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	if a.PodAntiAffinity != nil {
		required = append(required, a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution)
		preferred = append(preferred, a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	// Upstream visits preferred terms before required ones, per kind.
	for k := range required {
		for i := range preferred[k] {
			mergeTermLabelKeys(&preferred[k][i].PodAffinityTerm, pod.Labels)
		}
		for i := range required[k] {
			mergeTermLabelKeys(&required[k][i], pod.Labels)
		}
	}
}

func mergeTermLabelKeys(term *corev1.PodAffinityTerm, labels map[string]string) {
	if term.LabelSelector == nil {
		// A nil selector matches nothing; keys cannot change that.
		return
	}
	appendLabelRequirements(term.LabelSelector, term.MatchLabelKeys, metav1.LabelSelectorOpIn, labels)
	appendLabelRequirements(term.LabelSelector, term.MismatchLabelKeys, metav1.LabelSelectorOpNotIn, labels)
}

// mergeTopologySpreadLabelKeys merges "key In (value)" into the label
// selector of every topology spread constraint that has one, for each of
// its matchLabelKeys the pod carries as a label.
func mergeTopologySpreadLabelKeys(pod *corev1.Pod) {
	for i := range pod.Spec.TopologySpreadConstraints {
		c := &pod.Spec.TopologySpreadConstraints[i]
		if c.LabelSelector != nil {
			appendLabelRequirements(c.LabelSelector, c.MatchLabelKeys, metav1.LabelSelectorOpIn, pod.Labels)
		}
	}
}

func appendLabelRequirements(sel *metav1.LabelSelector, keys []string, op metav1.LabelSelectorOperator, labels map[string]string) {
	for _, key := range keys {
		if value, ok := labels[key]; ok {
			sel.MatchExpressions = append(sel.MatchExpressions, metav1.LabelSelectorRequirement{
				Key:      key,
				Operator: op,
				Values:   []string{value},
			})
		}
	}
}

// syncAppArmorAnnotations copies each container's deprecated AppArmor
// annotation into its securityContext.appArmorProfile, when the container
// sets no profile, the annotation names a valid profile, and that profile
// differs from the pod-level one. Windows pods are skipped.
func syncAppArmorAnnotations(pod *corev1.Pod) {
	if pod.Spec.OS != nil && pod.Spec.OS.Name == corev1.Windows {
		return
	}
	var podProfile *corev1.AppArmorProfile
	if pod.Spec.SecurityContext != nil {
		podProfile = pod.Spec.SecurityContext.AppArmorProfile
	}
	sync := func(c *corev1.Container) {
		annotation, ok := pod.Annotations[corev1.DeprecatedAppArmorBetaContainerAnnotationKeyPrefix+c.Name]
		if !ok || (c.SecurityContext != nil && c.SecurityContext.AppArmorProfile != nil) {
			return
		}
		profile := appArmorProfileForAnnotation(annotation)
		if profile == nil || sameAppArmorProfile(profile, podProfile) {
			return
		}
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		c.SecurityContext.AppArmorProfile = profile
	}
	for i := range pod.Spec.InitContainers {
		sync(&pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		sync(&pod.Spec.Containers[i])
	}
	for i := range pod.Spec.EphemeralContainers {
		sync((*corev1.Container)(&pod.Spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
}

// appArmorProfileForAnnotation returns the valid profile a deprecated
// AppArmor annotation value names, or nil.
func appArmorProfileForAnnotation(value string) *corev1.AppArmorProfile {
	switch {
	case value == corev1.DeprecatedAppArmorBetaProfileNameUnconfined:
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
	case value == corev1.DeprecatedAppArmorBetaProfileRuntimeDefault:
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
	case strings.HasPrefix(value, corev1.DeprecatedAppArmorBetaProfileNamePrefix):
		name := strings.TrimPrefix(value, corev1.DeprecatedAppArmorBetaProfileNamePrefix)
		if name == "" || strings.TrimSpace(name) != name || len(name) > maxAppArmorLocalhostProfileLength {
			return nil
		}
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: &name}
	}
	return nil
}

func sameAppArmorProfile(a, b *corev1.AppArmorProfile) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Type != b.Type {
		return false
	}
	if a.LocalhostProfile == nil || b.LocalhostProfile == nil {
		return a.LocalhostProfile == b.LocalhostProfile
	}
	return *a.LocalhostProfile == *b.LocalhostProfile
}
