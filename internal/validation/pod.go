package validation

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	unversionedvalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// Well-known pod annotations with validation rules.
const (
	mirrorPodAnnotationKey         = "kubernetes.io/config.mirror"
	podDeletionCostAnnotationKey   = "controller.kubernetes.io/pod-deletion-cost"
	tolerationsAnnotationKey       = "scheduler.alpha.kubernetes.io/tolerations"
	seccompPodAnnotationKey        = "seccomp.security.alpha.kubernetes.io/pod"
	seccompContainerAnnotationPfx  = "container.seccomp.security.alpha.kubernetes.io/"
	appArmorContainerAnnotationPfx = "container.apparmor.security.beta.kubernetes.io/"
)

// ValidatePodTemplateSpec validates a pod template as embedded in workload
// objects: its metadata labels and annotations (including pod-specific
// annotations) and the full pod spec. Ephemeral containers are forbidden in
// templates. Errors are rooted at fldPath (e.g. field.NewPath("spec",
// "template")); metadata errors are under fldPath.metadata and spec errors
// under fldPath.spec.
func ValidatePodTemplateSpec(spec *corev1.PodTemplateSpec, fldPath *field.Path) field.ErrorList {
	if spec == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	metaPath := fldPath.Child("metadata")
	allErrs := unversionedvalidation.ValidateLabels(spec.Labels, metaPath.Child("labels"))
	allErrs = append(allErrs, apimachineryvalidation.ValidateAnnotations(spec.Annotations, metaPath.Child("annotations"))...)
	allErrs = append(allErrs, validatePodSpecificAnnotations(spec.Annotations, &spec.Spec, metaPath.Child("annotations"))...)
	allErrs = append(allErrs, validatePodSpec(&spec.Spec, nil, fldPath.Child("spec"), podOpts{})...)
	if len(spec.Spec.EphemeralContainers) > 0 {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("spec", "ephemeralContainers"), "ephemeral containers not allowed in pod template"))
	}
	return allErrs
}

// ValidatePodSpec validates a (defaulted) pod spec: volumes, containers,
// init and ephemeral containers, policies, scheduling constraints, DNS,
// security context and so on. podMeta may be nil; when given (a real pod) it
// is used for checks that need the pod name (generic ephemeral volumes).
// Errors are rooted at fldPath (e.g. field.NewPath("spec")).
func ValidatePodSpec(spec *corev1.PodSpec, podMeta *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	if spec == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	return validatePodSpec(spec, podMeta, fldPath, podOpts{})
}

func validatePodSpec(spec *corev1.PodSpec, podMeta *metav1.ObjectMeta, fldPath *field.Path, opts podOpts) field.ErrorList {
	var allErrs field.ErrorList
	if spec.TerminationGracePeriodSeconds == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("terminationGracePeriodSeconds"), ""))
	}
	hostUsers := spec.HostUsers == nil || *spec.HostUsers

	vols, vErrs := validateVolumes(spec.Volumes, podMeta, fldPath.Child("volumes"), opts)
	allErrs = append(allErrs, vErrs...)
	claimNames, claimErrs := validatePodResourceClaims(spec.ResourceClaims, fldPath.Child("resourceClaims"))
	allErrs = append(allErrs, claimErrs...)
	cc := containerCtx{
		volumes:       vols,
		podClaimNames: claimNames,
		gracePeriod:   spec.TerminationGracePeriodSeconds,
		restartPolicy: spec.RestartPolicy,
		hostUsers:     hostUsers,
	}
	allErrs = append(allErrs, validateContainers(spec.Containers, cc, fldPath.Child("containers"))...)
	allErrs = append(allErrs, validateInitContainers(spec.InitContainers, spec.Containers, cc, fldPath.Child("initContainers"))...)
	allErrs = append(allErrs, validateEphemeralContainers(spec, cc, fldPath.Child("ephemeralContainers"))...)
	allErrs = append(allErrs, validatePodResources(spec, claimNames, fldPath.Child("resources"))...)
	allErrs = append(allErrs, validatePodHostNetworkDeps(spec, fldPath, opts)...)
	allErrs = append(allErrs, validateRestartPolicy(spec.RestartPolicy, fldPath.Child("restartPolicy"))...)
	allErrs = append(allErrs, validateDNSPolicy(spec.DNSPolicy, fldPath.Child("dnsPolicy"))...)
	allErrs = append(allErrs, unversionedvalidation.ValidateLabels(spec.NodeSelector, fldPath.Child("nodeSelector"))...)
	allErrs = append(allErrs, validatePodSecurityContext(spec, fldPath.Child("securityContext"))...)
	allErrs = append(allErrs, validateAffinity(spec.Affinity, fldPath.Child("affinity"))...)
	allErrs = append(allErrs, validatePodDNSConfig(spec.DNSConfig, spec.DNSPolicy, fldPath.Child("dnsConfig"))...)
	for i, g := range spec.ReadinessGates {
		allErrs = append(allErrs, validateQualifiedName(string(g.ConditionType), fldPath.Child("readinessGates").Index(i).Child("conditionType"))...)
	}
	seenGates := sets.New[string]()
	for i, g := range spec.SchedulingGates {
		p := fldPath.Child("schedulingGates").Index(i)
		allErrs = append(allErrs, validateQualifiedName(g.Name, p)...)
		if seenGates.Has(g.Name) {
			allErrs = append(allErrs, field.Duplicate(p, g.Name))
		}
		seenGates.Insert(g.Name)
	}
	allErrs = append(allErrs, validateTopologySpreadConstraints(spec.TopologySpreadConstraints, fldPath.Child("topologySpreadConstraints"))...)
	if !hostUsers {
		const msg = "when `pod.Spec.HostUsers` is false"
		if spec.HostNetwork {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("hostNetwork"), msg))
		}
		if spec.HostPID {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("HostPID"), msg))
		}
		if spec.HostIPC {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("HostIPC"), msg))
		}
	}
	if len(spec.ServiceAccountName) > 0 {
		allErrs = append(allErrs, validateNameWith(apimachineryvalidation.ValidateServiceAccountName, spec.ServiceAccountName, fldPath.Child("serviceAccountName"))...)
	}
	if len(spec.NodeName) > 0 {
		allErrs = append(allErrs, validateNameWith(apimachineryvalidation.NameIsDNSSubdomain, spec.NodeName, fldPath.Child("nodeName"))...)
	}
	if spec.ActiveDeadlineSeconds != nil {
		if v := *spec.ActiveDeadlineSeconds; v < 1 || v > math.MaxInt32 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), v, validation.InclusiveRangeError(1, math.MaxInt32)))
		}
	}
	if len(spec.Hostname) > 0 {
		allErrs = append(allErrs, validateDNS1123Label(spec.Hostname, fldPath.Child("hostname"))...)
	}
	if len(spec.Subdomain) > 0 {
		allErrs = append(allErrs, validateDNS1123Label(spec.Subdomain, fldPath.Child("subdomain"))...)
	}
	if spec.HostnameOverride != nil {
		allErrs = append(allErrs, validateDNS1123Subdomain(*spec.HostnameOverride, fldPath.Child("hostnameOverride"))...)
	}
	allErrs = append(allErrs, validateTolerations(spec.Tolerations, fldPath.Child("tolerations"))...)
	for i, ha := range spec.HostAliases {
		p := fldPath.Child("hostAliases").Index(i)
		allErrs = append(allErrs, validation.IsValidIP(p.Child("ip"), ha.IP)...)
		for j, hn := range ha.Hostnames {
			allErrs = append(allErrs, validateDNS1123Subdomain(hn, p.Child("hostnames").Index(j))...)
		}
	}
	if len(spec.PriorityClassName) > 0 {
		allErrs = append(allErrs, validateNameWith(apimachineryvalidation.NameIsDNSSubdomain, spec.PriorityClassName, fldPath.Child("priorityClassName"))...)
	}
	if spec.RuntimeClassName != nil {
		allErrs = append(allErrs, validateNameWith(apimachineryvalidation.NameIsDNSSubdomain, *spec.RuntimeClassName, fldPath.Child("runtimeClassName"))...)
	}
	if spec.PreemptionPolicy != nil {
		switch *spec.PreemptionPolicy {
		case corev1.PreemptLowerPriority, corev1.PreemptNever:
		case "":
			allErrs = append(allErrs, field.Required(fldPath.Child("preemptionPolicy"), ""))
		default:
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("preemptionPolicy"), *spec.PreemptionPolicy,
				[]corev1.PreemptionPolicy{corev1.PreemptLowerPriority, corev1.PreemptNever}))
		}
	}
	if spec.Overhead != nil {
		allErrs = append(allErrs, validateResourceRequirements(&corev1.ResourceRequirements{Limits: spec.Overhead}, validateContainerResourceName, nil, fldPath.Child("overhead"))...)
	}
	allErrs = append(allErrs, validatePodOS(spec, fldPath)...)
	return allErrs
}

func validateRestartPolicy(p corev1.RestartPolicy, fldPath *field.Path) field.ErrorList {
	switch p {
	case corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever:
		return nil
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	default:
		return field.ErrorList{field.NotSupported(fldPath, p, []corev1.RestartPolicy{
			corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever})}
	}
}

func validateDNSPolicy(p corev1.DNSPolicy, fldPath *field.Path) field.ErrorList {
	switch p {
	case corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone:
		return nil
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	default:
		return field.ErrorList{field.NotSupported(fldPath, p, []corev1.DNSPolicy{
			corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone})}
	}
}

// validatePodResourceClaims checks spec.resourceClaims and returns the set
// of claim names containers may reference.
func validatePodResourceClaims(claims []corev1.PodResourceClaim, fldPath *field.Path) (sets.Set[string], field.ErrorList) {
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i, c := range claims {
		p := fldPath.Index(i)
		switch {
		case c.Name == "":
			allErrs = append(allErrs, field.Required(p.Child("name"), ""))
		case names.Has(c.Name):
			allErrs = append(allErrs, field.Duplicate(p.Child("name"), c.Name))
		default:
			allErrs = append(allErrs, validateDNS1123Label(c.Name, p.Child("name"))...)
			names.Insert(c.Name)
		}
		if c.ResourceClaimName != nil && c.ResourceClaimTemplateName != nil {
			allErrs = append(allErrs, field.Invalid(p, c, "at most one of `resourceClaimName` or `resourceClaimTemplateName` may be specified"))
		}
		if c.ResourceClaimName == nil && c.ResourceClaimTemplateName == nil {
			allErrs = append(allErrs, field.Invalid(p, c, "must specify one of: `resourceClaimName`, `resourceClaimTemplateName`"))
		}
		if c.ResourceClaimName != nil {
			allErrs = append(allErrs, validateNameWith(apimachineryvalidation.NameIsDNSSubdomain, *c.ResourceClaimName, p.Child("resourceClaimName"))...)
		}
		if c.ResourceClaimTemplateName != nil {
			allErrs = append(allErrs, validateNameWith(apimachineryvalidation.NameIsDNSSubdomain, *c.ResourceClaimTemplateName, p.Child("resourceClaimTemplateName"))...)
		}
	}
	return names, allErrs
}

// allowedEphemeralContainerFields lists the EphemeralContainerCommon fields
// (by JSON name) an ephemeral container may set.
func allowedEphemeralContainerFields() sets.Set[string] {
	return sets.New("name", "image", "command", "args", "workingDir", "envFrom", "env", "volumeMounts",
		"volumeDevices", "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy",
		"securityContext", "stdin", "stdinOnce", "tty")
}

func validateEphemeralContainers(spec *corev1.PodSpec, cc containerCtx, fldPath *field.Path) field.ErrorList {
	if len(spec.EphemeralContainers) == 0 {
		return nil
	}
	var allErrs field.ErrorList
	other := sets.New[string]()
	for _, c := range spec.Containers {
		other.Insert(c.Name)
	}
	for _, c := range spec.InitContainers {
		other.Insert(c.Name)
	}
	all := other.Clone()
	allowed := allowedEphemeralContainerFields()
	for i := range spec.EphemeralContainers {
		ec := &spec.EphemeralContainers[i]
		p := fldPath.Index(i)
		c := corev1.Container(ec.EphemeralContainerCommon)
		allErrs = append(allErrs, validateContainerCommon(&c, cc, p)...)
		allErrs = append(allErrs, validateImageWhitespace(c.Image, p.Child("image"))...)
		if all.Has(ec.Name) {
			allErrs = append(allErrs, field.Duplicate(p.Child("name"), ec.Name))
		} else {
			all.Insert(ec.Name)
		}
		if ec.TargetContainerName != "" && !other.Has(ec.TargetContainerName) {
			allErrs = append(allErrs, field.NotFound(p.Child("targetContainerName"), ec.TargetContainerName))
		}
		for _, name := range setContainerFields(&c) {
			if !allowed.Has(name) {
				allErrs = append(allErrs, field.Forbidden(p.Child(name), "cannot be set for an Ephemeral Container"))
			}
		}
		for j, vm := range ec.VolumeMounts {
			if vm.SubPath != "" {
				allErrs = append(allErrs, field.Forbidden(p.Child("volumeMounts").Index(j).Child("subPath"), "cannot be set for an Ephemeral Container"))
			}
			if vm.SubPathExpr != "" {
				allErrs = append(allErrs, field.Forbidden(p.Child("volumeMounts").Index(j).Child("subPathExpr"), "cannot be set for an Ephemeral Container"))
			}
		}
	}
	return allErrs
}

// setContainerFields returns the JSON names of the non-zero fields of c.
func setContainerFields(c *corev1.Container) []string {
	var names []string
	add := func(set bool, name string) {
		if set {
			names = append(names, name)
		}
	}
	add(len(c.Ports) > 0, "ports")
	add(len(c.Resources.Limits) > 0 || len(c.Resources.Requests) > 0 || len(c.Resources.Claims) > 0, "resources")
	add(len(c.ResizePolicy) > 0, "resizePolicy")
	add(c.RestartPolicy != nil, "restartPolicy")
	add(len(c.RestartPolicyRules) > 0, "restartPolicyRules")
	add(c.LivenessProbe != nil, "livenessProbe")
	add(c.ReadinessProbe != nil, "readinessProbe")
	add(c.StartupProbe != nil, "startupProbe")
	add(c.Lifecycle != nil, "lifecycle")
	return names
}

// validatePodResources checks pod-level spec.resources: only cpu, memory and
// hugepages, requests within limits, and that it bounds the containers.
func validatePodResources(spec *corev1.PodSpec, claimNames sets.Set[string], fldPath *field.Path) field.ErrorList {
	if spec.Resources == nil {
		return nil
	}
	var allErrs field.ErrorList
	if spec.Resources.Claims != nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("claims"), "claims cannot be set for Resources at pod-level"))
	}
	nameFn := func(name corev1.ResourceName, p *field.Path) field.ErrorList {
		if errs := validateResourceName(name, p); len(errs) != 0 {
			return errs
		}
		if name != corev1.ResourceCPU && name != corev1.ResourceMemory && !isHugePageResourceName(name) {
			return field.ErrorList{field.NotSupported(p, name, []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory})}
		}
		return nil
	}
	allErrs = append(allErrs, validateResourceRequirements(&corev1.ResourceRequirements{Limits: spec.Resources.Limits, Requests: spec.Resources.Requests}, nameFn, claimNames, fldPath)...)
	for _, name := range sortedResourceNames(spec.Resources.Requests) {
		podReq := spec.Resources.Requests[name]
		sum := podReq.DeepCopy()
		sum.Set(0)
		for _, c := range spec.Containers {
			if q, ok := c.Resources.Requests[name]; ok {
				sum.Add(q)
			}
		}
		if sum.Cmp(podReq) > 0 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("requests").Key(string(name)), podReq.String(),
				fmt.Sprintf("must be greater than or equal to aggregate container requests of %s", sum.String())))
		}
	}
	for i, c := range spec.Containers {
		for _, name := range sortedResourceNames(c.Resources.Limits) {
			podLim, ok := spec.Resources.Limits[name]
			lim := c.Resources.Limits[name]
			if ok && lim.Cmp(podLim) > 0 {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("containers").Index(i).Key(string(name)).Child("limits"), lim.String(),
					fmt.Sprintf("must be less than or equal to pod limits of %s", podLim.String())))
			}
		}
	}
	return allErrs
}

// validatePodHostNetworkDeps requires hostPort == containerPort for
// host-network pods (0 is tolerated in templates, where it is defaulted
// later).
func validatePodHostNetworkDeps(spec *corev1.PodSpec, fldPath *field.Path, opts podOpts) field.ErrorList {
	if !spec.HostNetwork {
		return nil
	}
	var allErrs field.ErrorList
	for i, c := range spec.Containers {
		for j, port := range c.Ports {
			if (opts.resourceIsPod || port.HostPort != 0) && port.HostPort != port.ContainerPort {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("containers").Index(i).Child("ports").Index(j).Child("hostPort"),
					port.HostPort, "must match `containerPort` when `hostNetwork` is true"))
			}
		}
	}
	return allErrs
}

// visitContainers calls fn for every container (init, regular, ephemeral)
// with its field path.
func visitContainers(spec *corev1.PodSpec, fldPath *field.Path, fn func(c *corev1.Container, p *field.Path)) {
	for i := range spec.InitContainers {
		fn(&spec.InitContainers[i], fldPath.Child("initContainers").Index(i))
	}
	for i := range spec.Containers {
		fn(&spec.Containers[i], fldPath.Child("containers").Index(i))
	}
	for i := range spec.EphemeralContainers {
		c := corev1.Container(spec.EphemeralContainers[i].EphemeralContainerCommon)
		fn(&c, fldPath.Child("ephemeralContainers").Index(i))
	}
}

// validatePodOS checks spec.os and the OS-specific restrictions.
func validatePodOS(spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	if spec.OS == nil {
		return nil
	}
	osPath := fldPath.Child("os")
	if len(spec.OS.Name) == 0 {
		return field.ErrorList{field.Required(osPath.Child("name"), "cannot be empty")}
	}
	var allErrs field.ErrorList
	switch spec.OS.Name {
	case corev1.Linux:
		if spec.SecurityContext != nil && spec.SecurityContext.WindowsOptions != nil {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("securityContext", "windowsOptions"), "windows options cannot be set for a linux pod"))
		}
		visitContainers(spec, fldPath, func(c *corev1.Container, p *field.Path) {
			if c.SecurityContext != nil && c.SecurityContext.WindowsOptions != nil {
				allErrs = append(allErrs, field.Forbidden(p.Child("securityContext", "windowsOptions"), "windows options cannot be set for a linux pod"))
			}
		})
	case corev1.Windows:
		const msg = "cannot be set for a windows pod"
		scPath := fldPath.Child("securityContext")
		if sc := spec.SecurityContext; sc != nil {
			forbid := func(set bool, p *field.Path) {
				if set {
					allErrs = append(allErrs, field.Forbidden(p, msg))
				}
			}
			forbid(sc.AppArmorProfile != nil, scPath.Child("appArmorProfile"))
			forbid(sc.SELinuxOptions != nil, scPath.Child("seLinuxOptions"))
			forbid(sc.SeccompProfile != nil, scPath.Child("seccompProfile"))
			forbid(sc.FSGroup != nil, scPath.Child("fsGroup"))
			forbid(sc.FSGroupChangePolicy != nil, scPath.Child("fsGroupChangePolicy"))
			forbid(len(sc.Sysctls) > 0, scPath.Child("sysctls"))
			forbid(sc.RunAsUser != nil, scPath.Child("runAsUser"))
			forbid(sc.RunAsGroup != nil, scPath.Child("runAsGroup"))
			forbid(sc.SupplementalGroups != nil, scPath.Child("supplementalGroups"))
			forbid(sc.SupplementalGroupsPolicy != nil, scPath.Child("supplementalGroupsPolicy"))
			forbid(sc.SELinuxChangePolicy != nil, scPath.Child("seLinuxChangePolicy"))
		}
		if spec.HostUsers != nil {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("hostUsers"), msg))
		}
		if spec.HostPID {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("hostPID"), msg))
		}
		if spec.HostIPC {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("hostIPC"), msg))
		}
		if spec.ShareProcessNamespace != nil {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("shareProcessNamespace"), msg))
		}
		visitContainers(spec, fldPath, func(c *corev1.Container, p *field.Path) {
			sc := c.SecurityContext
			if sc == nil {
				return
			}
			sp := p.Child("securityContext")
			for _, f := range []struct {
				set  bool
				name string
			}{
				{sc.AppArmorProfile != nil, "appArmorProfile"}, {sc.SELinuxOptions != nil, "seLinuxOptions"},
				{sc.SeccompProfile != nil, "seccompProfile"}, {sc.Capabilities != nil, "capabilities"},
				{sc.ReadOnlyRootFilesystem != nil, "readOnlyRootFilesystem"}, {sc.Privileged != nil, "privileged"},
				{sc.AllowPrivilegeEscalation != nil, "allowPrivilegeEscalation"}, {sc.ProcMount != nil, "procMount"},
				{sc.RunAsUser != nil, "runAsUser"}, {sc.RunAsGroup != nil, "runAsGroup"},
			} {
				if f.set {
					allErrs = append(allErrs, field.Forbidden(sp.Child(f.name), msg))
				}
			}
		})
	default:
		allErrs = append(allErrs, field.NotSupported(osPath, spec.OS.Name, []corev1.OSName{corev1.Linux, corev1.Windows}))
	}
	return allErrs
}

// validatePodSpecificAnnotations checks annotations with pod semantics:
// mirror pods need a node, deletion cost is an int32, serialized
// tolerations, seccomp and AppArmor annotations are well formed.
func validatePodSpecificAnnotations(annotations map[string]string, spec *corev1.PodSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if v, ok := annotations[mirrorPodAnnotationKey]; ok && len(spec.NodeName) == 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Key(mirrorPodAnnotationKey), v, "must set spec.nodeName if mirror pod annotation is set"))
	}
	if v := annotations[tolerationsAnnotationKey]; v != "" {
		var tolerations []corev1.Toleration
		if err := json.Unmarshal([]byte(v), &tolerations); err != nil {
			allErrs = append(allErrs, field.Invalid(fldPath, tolerationsAnnotationKey, err.Error()))
		} else {
			allErrs = append(allErrs, validateTolerations(tolerations, fldPath.Child(tolerationsAnnotationKey))...)
		}
	}
	if v, ok := annotations[podDeletionCostAnnotationKey]; ok {
		if _, err := strconv.ParseInt(v, 10, 32); err != nil || strings.HasPrefix(v, "+") {
			allErrs = append(allErrs, field.Invalid(fldPath.Key(podDeletionCostAnnotationKey), v, "must be a 32bit integer"))
		}
	}
	for _, k := range sets.List(sets.KeySet(annotations)) {
		v := annotations[k]
		switch {
		case k == seccompPodAnnotationKey || strings.HasPrefix(k, seccompContainerAnnotationPfx):
			allErrs = append(allErrs, validateSeccompAnnotationValue(v, fldPath.Child(k))...)
		case strings.HasPrefix(k, appArmorContainerAnnotationPfx):
			name := strings.TrimPrefix(k, appArmorContainerAnnotationPfx)
			found := false
			visitContainers(spec, field.NewPath("spec"), func(c *corev1.Container, _ *field.Path) {
				found = found || c.Name == name
			})
			if !found {
				allErrs = append(allErrs, field.Invalid(fldPath.Key(k), name, "container not found"))
			}
			if v != "" && v != "runtime/default" && v != "unconfined" && !strings.HasPrefix(v, "localhost/") {
				allErrs = append(allErrs, field.Invalid(fldPath.Key(k), v, fmt.Sprintf("invalid AppArmor profile name: %q", v)))
			}
		}
	}
	return allErrs
}

func validateSeccompAnnotationValue(p string, fldPath *field.Path) field.ErrorList {
	switch {
	case p == "runtime/default", p == "docker/default", p == "unconfined":
		return nil
	case strings.HasPrefix(p, "localhost/"):
		return validateLocalDescendingPath(strings.TrimPrefix(p, "localhost/"), fldPath)
	}
	return field.ErrorList{field.Invalid(fldPath, p, "must be a valid seccomp profile")}
}

func validateImageWhitespace(image string, fldPath *field.Path) field.ErrorList {
	if len(image) != len(strings.TrimSpace(image)) {
		return field.ErrorList{field.Invalid(fldPath, image, "must not have leading or trailing whitespace")}
	}
	return nil
}

// validatePodMetadataAndSpec runs the checks shared by pod create and
// update: metadata, pod annotations, the spec, and pod-only rules.
func validatePodMetadataAndSpec(pod *corev1.Pod) field.ErrorList {
	metaPath := field.NewPath("metadata")
	specPath := field.NewPath("spec")
	allErrs := ValidateObjectMeta(&pod.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, metaPath)
	allErrs = append(allErrs, validatePodSpecificAnnotations(pod.Annotations, &pod.Spec, metaPath.Child("annotations"))...)
	allErrs = append(allErrs, validatePodSpec(&pod.Spec, &pod.ObjectMeta, specPath, podOpts{resourceIsPod: true})...)
	if pod.Spec.ServiceAccountName == "" {
		for vi, v := range pod.Spec.Volumes {
			if v.Projected == nil {
				continue
			}
			for si, s := range v.Projected.Sources {
				if s.ServiceAccountToken != nil {
					allErrs = append(allErrs, field.Forbidden(specPath.Child("volumes").Index(vi).Child("projected", "sources").Index(si).Child("serviceAccountToken"),
						"must not be specified when serviceAccountName is not set"))
				}
			}
		}
	}
	for i, c := range pod.Spec.Containers {
		allErrs = append(allErrs, validateImageWhitespace(c.Image, specPath.Child("containers").Index(i).Child("image"))...)
	}
	for i, c := range pod.Spec.InitContainers {
		allErrs = append(allErrs, validateImageWhitespace(c.Image, specPath.Child("initContainers").Index(i).Child("image"))...)
	}
	return allErrs
}

// ValidatePod validates a Pod on creation: metadata (name a DNS subdomain,
// namespace required), pod annotations, the full spec, and create-only rules
// (no ephemeral containers; no nodeName while scheduling gates remain).
func ValidatePod(pod *corev1.Pod) field.ErrorList {
	if pod == nil {
		return nilObjectErrors()
	}
	allErrs := validatePodMetadataAndSpec(pod)
	specPath := field.NewPath("spec")
	if len(pod.Spec.EphemeralContainers) > 0 {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("ephemeralContainers"), "cannot be set on create"))
	}
	if pod.Spec.NodeName != "" && len(pod.Spec.SchedulingGates) != 0 {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("nodeName"), "cannot be set until all schedulingGates have been cleared"))
	}
	return allErrs
}

// updatablePodSpecFields names the spec fields a pod update may change, as
// quoted in the Forbidden error.
func updatablePodSpecFields() []string {
	return []string{
		"`spec.containers[*].image`",
		"`spec.initContainers[*].image`",
		"`spec.activeDeadlineSeconds`",
		"`spec.tolerations` (only additions to existing tolerations)",
		"`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
	}
}

// specDiff renders a human-readable diff of two pod specs; it never panics
// (an empty string is returned if the diff cannot be computed).
func specDiff(oldSpec, newSpec interface{}) (out string) {
	defer func() {
		if recover() != nil {
			out = ""
		}
	}()
	return cmp.Diff(oldSpec, newSpec)
}

// ValidatePodUpdate validates newPod fully and checks that only mutable
// fields changed relative to oldPod: container images, activeDeadlineSeconds
// (set, or lowered), added tolerations (or changed tolerationSeconds),
// removed scheduling gates, terminationGracePeriodSeconds from negative to 1,
// and, while the pod is still gated, additions to nodeSelector and
// required node affinity. Any other spec change is Forbidden at "spec" with
// upstream's "pod updates may not change fields other than ..." message.
func ValidatePodUpdate(newPod, oldPod *corev1.Pod) field.ErrorList {
	if newPod == nil || oldPod == nil {
		return nilObjectErrors()
	}
	metaPath := field.NewPath("metadata")
	specPath := field.NewPath("spec")
	allErrs := ValidateObjectMetaUpdate(&newPod.ObjectMeta, &oldPod.ObjectMeta, metaPath)
	allErrs = append(allErrs, validatePodMetadataAndSpec(newPod)...)
	allErrs = append(allErrs, validatePodAnnotationUpdates(newPod, oldPod, metaPath.Child("annotations"))...)

	for _, cs := range []struct {
		name     string
		new, old []corev1.Container
	}{{"containers", newPod.Spec.Containers, oldPod.Spec.Containers}, {"initContainers", newPod.Spec.InitContainers, oldPod.Spec.InitContainers}} {
		p := specPath.Child(cs.name)
		if len(cs.new) != len(cs.old) {
			return append(allErrs, field.Forbidden(p, "pod updates may not add or remove containers"))
		}
		for i, c := range cs.new {
			if len(c.Image) == 0 {
				allErrs = append(allErrs, field.Required(p.Index(i).Child("image"), ""))
			}
		}
	}

	if newPod.Spec.ActiveDeadlineSeconds != nil {
		v := *newPod.Spec.ActiveDeadlineSeconds
		if v < 0 || v > math.MaxInt32 {
			return append(allErrs, field.Invalid(specPath.Child("activeDeadlineSeconds"), v, validation.InclusiveRangeError(0, math.MaxInt32)))
		}
		if oldPod.Spec.ActiveDeadlineSeconds != nil && *oldPod.Spec.ActiveDeadlineSeconds < v {
			return append(allErrs, field.Invalid(specPath.Child("activeDeadlineSeconds"), v, "must be less than or equal to previous value"))
		}
	} else if oldPod.Spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Invalid(specPath.Child("activeDeadlineSeconds"), newPod.Spec.ActiveDeadlineSeconds, "must not update from a positive integer to nil value"))
	}

	allErrs = append(allErrs, validateOnlyAddedTolerations(newPod.Spec.Tolerations, oldPod.Spec.Tolerations, specPath.Child("tolerations"))...)
	allErrs = append(allErrs, validateOnlyDeletedSchedulingGates(newPod.Spec.SchedulingGates, oldPod.Spec.SchedulingGates, specPath.Child("schedulingGates"))...)

	if apiequality.Semantic.DeepEqual(newPod.Spec, oldPod.Spec) {
		return allErrs
	}
	munged := *newPod.Spec.DeepCopy()
	for i := range munged.Containers {
		munged.Containers[i].Image = oldPod.Spec.Containers[i].Image
	}
	for i := range munged.InitContainers {
		munged.InitContainers[i].Image = oldPod.Spec.InitContainers[i].Image
	}
	munged.ActiveDeadlineSeconds = nil
	if oldPod.Spec.ActiveDeadlineSeconds != nil {
		v := *oldPod.Spec.ActiveDeadlineSeconds
		munged.ActiveDeadlineSeconds = &v
	}
	munged.SchedulingGates = oldPod.Spec.SchedulingGates
	munged.Tolerations = oldPod.Spec.Tolerations
	if oldPod.Spec.TerminationGracePeriodSeconds != nil && *oldPod.Spec.TerminationGracePeriodSeconds < 0 &&
		munged.TerminationGracePeriodSeconds != nil && *munged.TerminationGracePeriodSeconds == 1 {
		munged.TerminationGracePeriodSeconds = oldPod.Spec.TerminationGracePeriodSeconds
	}
	if len(oldPod.Spec.SchedulingGates) > 0 {
		if !apiequality.Semantic.DeepEqual(munged.NodeSelector, oldPod.Spec.NodeSelector) {
			for k, v := range oldPod.Spec.NodeSelector {
				if nv, ok := munged.NodeSelector[k]; !ok || nv != v {
					allErrs = append(allErrs, field.Invalid(specPath.Child("nodeSelector"), munged.NodeSelector, "only additions to spec.nodeSelector are allowed (no mutations or deletions)"))
					break
				}
			}
			munged.NodeSelector = oldPod.Spec.NodeSelector
		}
		var oldNA, newNA *corev1.NodeAffinity
		if oldPod.Spec.Affinity != nil {
			oldNA = oldPod.Spec.Affinity.NodeAffinity
		}
		if munged.Affinity != nil {
			newNA = munged.Affinity.NodeAffinity
		}
		if !apiequality.Semantic.DeepEqual(oldNA, newNA) {
			allErrs = append(allErrs, validateNodeAffinityMutation(specPath.Child("affinity", "nodeAffinity"), newNA, oldNA)...)
			switch {
			case munged.Affinity == nil:
				munged.Affinity = &corev1.Affinity{NodeAffinity: oldNA}
			case oldPod.Spec.Affinity == nil && munged.Affinity.PodAffinity == nil && munged.Affinity.PodAntiAffinity == nil:
				munged.Affinity = nil
			default:
				munged.Affinity.NodeAffinity = oldNA
			}
		}
	}
	if !apiequality.Semantic.DeepEqual(munged, oldPod.Spec) {
		allErrs = append(allErrs, field.Forbidden(specPath, fmt.Sprintf("pod updates may not change fields other than %s\n%v",
			strings.Join(updatablePodSpecFields(), ","), specDiff(oldPod.Spec, munged))))
	}
	return allErrs
}

func validatePodAnnotationUpdates(newPod, oldPod *corev1.Pod, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, k := range sets.List(sets.KeySet(oldPod.Annotations)) {
		if nv, ok := newPod.Annotations[k]; ok && nv == oldPod.Annotations[k] {
			continue
		}
		if strings.HasPrefix(k, appArmorContainerAnnotationPfx) {
			allErrs = append(allErrs, field.Forbidden(fldPath.Key(k), "may not remove or update AppArmor annotations"))
		}
		if k == mirrorPodAnnotationKey {
			allErrs = append(allErrs, field.Forbidden(fldPath.Key(k), "may not remove or update mirror pod annotation"))
		}
	}
	for _, k := range sets.List(sets.KeySet(newPod.Annotations)) {
		if _, ok := oldPod.Annotations[k]; ok {
			continue
		}
		if strings.HasPrefix(k, appArmorContainerAnnotationPfx) {
			allErrs = append(allErrs, field.Forbidden(fldPath.Key(k), "may not add AppArmor annotations"))
		}
		if k == mirrorPodAnnotationKey {
			allErrs = append(allErrs, field.Forbidden(fldPath.Key(k), "may not add mirror pod annotation"))
		}
	}
	return allErrs
}

// validateOnlyAddedTolerations allows existing tolerations to remain (with
// possibly changed tolerationSeconds) and new ones to be appended.
func validateOnlyAddedTolerations(newT, oldT []corev1.Toleration, fldPath *field.Path) field.ErrorList {
	for _, old := range oldT {
		found := false
		for _, nt := range newT {
			o := old
			o.TolerationSeconds = nt.TolerationSeconds
			if apiequality.Semantic.DeepEqual(o, nt) {
				found = true
				break
			}
		}
		if !found {
			return field.ErrorList{field.Forbidden(fldPath, "existing toleration can not be modified except its tolerationSeconds")}
		}
	}
	return validateTolerations(newT, fldPath)
}

func validateOnlyDeletedSchedulingGates(newGates, oldGates []corev1.PodSchedulingGate, fldPath *field.Path) field.ErrorList {
	old := sets.New[string]()
	for _, g := range oldGates {
		old.Insert(g.Name)
	}
	var allErrs field.ErrorList
	for i, g := range newGates {
		if !old.Has(g.Name) {
			allErrs = append(allErrs, field.Forbidden(fldPath.Index(i).Child("name"), fmt.Sprintf("only deletion is allowed, but found new scheduling gate '%s'", g.Name)))
		}
	}
	return allErrs
}

func validateNodeAffinityMutation(p *field.Path, newNA, oldNA *corev1.NodeAffinity) field.ErrorList {
	if oldNA == nil || oldNA.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return nil
	}
	oldTerms := oldNA.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	var newTerms []corev1.NodeSelectorTerm
	if newNA != nil && newNA.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		newTerms = newNA.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
	}
	tp := p.Child("requiredDuringSchedulingIgnoredDuringExecution", "nodeSelectorTerms")
	if len(oldTerms) > 0 && len(oldTerms) != len(newTerms) {
		return field.ErrorList{field.Invalid(tp, newTerms, "no additions/deletions to non-empty NodeSelectorTerms list are allowed")}
	}
	var allErrs field.ErrorList
	for i := range oldTerms {
		if !termHasOnlyAdditions(newTerms[i], oldTerms[i]) {
			allErrs = append(allErrs, field.Invalid(tp.Index(i), newTerms[i], "only additions are allowed (no mutations or deletions)"))
		}
	}
	return allErrs
}

func termHasOnlyAdditions(newTerm, oldTerm corev1.NodeSelectorTerm) bool {
	if len(oldTerm.MatchExpressions) == 0 && len(oldTerm.MatchFields) == 0 {
		return len(newTerm.MatchExpressions) == 0 && len(newTerm.MatchFields) == 0
	}
	if l := len(oldTerm.MatchExpressions); l > 0 {
		if len(newTerm.MatchExpressions) < l || !apiequality.Semantic.DeepEqual(newTerm.MatchExpressions[:l], oldTerm.MatchExpressions) {
			return false
		}
	}
	if l := len(oldTerm.MatchFields); l > 0 {
		if len(newTerm.MatchFields) < l || !apiequality.Semantic.DeepEqual(newTerm.MatchFields[:l], oldTerm.MatchFields) {
			return false
		}
	}
	return true
}

// ValidatePodStatusUpdate validates an update through the status
// subresource: metadata rules, condition types, nodeName unchanged, a valid
// nominatedNodeName, immutable qosClass, no restarts of terminated
// containers that may not restart, and pod/host IPs (valid, at most one per
// family, no duplicates).
func ValidatePodStatusUpdate(newPod, oldPod *corev1.Pod) field.ErrorList {
	if newPod == nil || oldPod == nil {
		return nilObjectErrors()
	}
	metaPath := field.NewPath("metadata")
	statusPath := field.NewPath("status")
	allErrs := ValidateObjectMetaUpdate(&newPod.ObjectMeta, &oldPod.ObjectMeta, metaPath)
	allErrs = append(allErrs, validatePodAnnotationUpdates(newPod, oldPod, metaPath.Child("annotations"))...)
	for i, c := range newPod.Status.Conditions {
		switch c.Type {
		case corev1.PodScheduled, corev1.PodReady, corev1.PodInitialized:
			continue
		}
		allErrs = append(allErrs, validateQualifiedName(string(c.Type), statusPath.Child("conditions").Index(i).Child("type"))...)
	}
	if newPod.Spec.NodeName != oldPod.Spec.NodeName {
		allErrs = append(allErrs, field.Forbidden(statusPath.Child("nodeName"), "may not be changed directly"))
	}
	if nn := newPod.Status.NominatedNodeName; nn != oldPod.Status.NominatedNodeName && len(nn) > 0 {
		allErrs = append(allErrs, validateNameWith(apimachineryvalidation.NameIsDNSSubdomain, nn, statusPath.Child("nominatedNodeName"))...)
	}
	allErrs = append(allErrs, validateImmutableField(newPod.Status.QOSClass, oldPod.Status.QOSClass, statusPath.Child("qosClass"))...)
	allErrs = append(allErrs, validateContainerStateTransition(newPod.Status.ContainerStatuses, oldPod.Status.ContainerStatuses, statusPath.Child("containerStatuses"), oldPod.Spec.RestartPolicy, nil)...)
	allErrs = append(allErrs, validateContainerStateTransition(newPod.Status.InitContainerStatuses, oldPod.Status.InitContainerStatuses, statusPath.Child("initContainerStatuses"), oldPod.Spec.RestartPolicy, oldPod.Spec.InitContainers)...)
	allErrs = append(allErrs, validateContainerStateTransition(newPod.Status.EphemeralContainerStatuses, oldPod.Status.EphemeralContainerStatuses, statusPath.Child("ephemeralContainerStatuses"), corev1.RestartPolicyNever, nil)...)

	podIPs := make([]string, 0, len(newPod.Status.PodIPs))
	for _, ip := range newPod.Status.PodIPs {
		podIPs = append(podIPs, ip.IP)
	}
	allErrs = append(allErrs, validateIPList(podIPs, newPod.Status.PodIPs, statusPath.Child("podIPs"))...)
	if len(newPod.Status.HostIPs) > 0 {
		hostIPs := make([]string, 0, len(newPod.Status.HostIPs))
		for _, ip := range newPod.Status.HostIPs {
			hostIPs = append(hostIPs, ip.IP)
		}
		if newPod.Status.HostIP != hostIPs[0] {
			allErrs = append(allErrs, field.Invalid(statusPath.Child("hostIPs").Index(0).Child("ip"), hostIPs[0], "must be equal to `hostIP`"))
		}
		allErrs = append(allErrs, validateIPList(hostIPs, newPod.Status.HostIPs, statusPath.Child("hostIPs"))...)
	}
	return allErrs
}

// validateIPList requires valid IPs, at most one per family, no duplicates.
// raw is the original list, reported as the value of list-level errors.
func validateIPList(ips []string, raw interface{}, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	valid := true
	for i, ip := range ips {
		errs := validation.IsValidIP(fldPath.Index(i), ip)
		valid = valid && len(errs) == 0
		allErrs = append(allErrs, errs...)
	}
	if len(ips) > 1 {
		seen := sets.New[string]()
		for i, ip := range ips {
			if seen.Has(ip) {
				allErrs = append(allErrs, field.Duplicate(fldPath.Index(i), ip))
			}
			seen.Insert(ip)
		}
		if valid {
			dual, err := netutils.IsDualStackIPStrings(ips)
			if err != nil || !dual || len(ips) > 2 {
				allErrs = append(allErrs, field.Invalid(fldPath, raw, "may specify no more than one IP for each IP family"))
			}
		}
	}
	return allErrs
}

// validateContainerStateTransition forbids terminated containers from
// becoming non-terminated unless the restart policy (or, for init
// containers, restartPolicy=Always sidecars) allows it.
func validateContainerStateTransition(newStatuses, oldStatuses []corev1.ContainerStatus, fldPath *field.Path, restartPolicy corev1.RestartPolicy, initContainers []corev1.Container) field.ErrorList {
	if restartPolicy == corev1.RestartPolicyAlways {
		return nil
	}
	var allErrs field.ErrorList
	for i, old := range oldStatuses {
		if old.State.Terminated == nil {
			continue
		}
		if old.State.Terminated.ExitCode != 0 && restartPolicy == corev1.RestartPolicyOnFailure {
			continue
		}
		restartable := false
		for _, c := range initContainers {
			if c.Name == old.Name && c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
				restartable = true
			}
		}
		if restartable {
			continue
		}
		for _, ns := range newStatuses {
			if ns.Name == old.Name && ns.State.Terminated == nil {
				allErrs = append(allErrs, field.Forbidden(fldPath.Index(i).Child("state"), "may not be transitioned to non-terminated state"))
			}
		}
	}
	return allErrs
}

// ValidatePodBinding validates a pods/binding request: target.kind must be
// empty or "Node" and target.name is required.
func ValidatePodBinding(b *corev1.Binding) field.ErrorList {
	if b == nil {
		return nilObjectErrors()
	}
	var allErrs field.ErrorList
	if len(b.Target.Kind) != 0 && b.Target.Kind != "Node" {
		allErrs = append(allErrs, field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node", "<empty>"}))
	}
	if len(b.Target.Name) == 0 {
		allErrs = append(allErrs, field.Required(field.NewPath("target", "name"), ""))
	}
	return allErrs
}
