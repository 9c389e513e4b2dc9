package defaults

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"
)

// Defaults of pod and container fields, as upstream's core/v1 defaults.
const (
	defaultProbeTimeoutSeconds           int32 = 1
	defaultProbePeriodSeconds            int32 = 10
	defaultProbeSuccessThreshold         int32 = 1
	defaultProbeFailureThreshold         int32 = 3
	defaultTokenExpirationSeconds              = int64(time.Hour / time.Second)
	defaultHTTPGetPath                         = "/"
	defaultISCSIInterface                      = "default"
	defaultRBDPool                             = "rbd"
	defaultRBDUser                             = "admin"
	defaultRBDKeyring                          = "/etc/ceph/keyring"
	defaultAzureDiskFSType                     = "ext4"
	defaultScaleIOStorageMode                  = "ThinProvisioned"
	defaultScaleIOFSType                       = "xfs"
	defaultFieldSelectorAPIVersion             = "v1"
	resourceListRoundingScale                  = resource.Milli
	hugePagesResourcePrefix                    = corev1.ResourceHugePagesPrefix
	nativeResourceDomainPrefix                 = "kubernetes.io/"
	defaultTerminationGracePeriodSeconds       = int64(corev1.DefaultTerminationGracePeriodSeconds)
)

// defaultPod applies upstream's Pod defaults: those only a Pod gets
// (requests copied from limits, pod-level resource defaults, service links,
// host-network host ports), then the PodSpec defaults every pod template
// also gets, then the rounding of status resource lists.
func defaultPod(pod *corev1.Pod) {
	spec := &pod.Spec
	// Requests default to limits only on a Pod, never on a template, so a
	// template's requests keep following LimitRange defaults.
	for i := range spec.Containers {
		requestsFromLimits(&spec.Containers[i].Resources)
	}
	for i := range spec.InitContainers {
		requestsFromLimits(&spec.InitContainers[i].Resources)
	}
	// Pod-level resources (PodLevelResources, on by default) are defaulted
	// after the container-level requests above.
	defaultHugePagePodLimits(pod)
	defaultPodRequests(pod)
	if spec.EnableServiceLinks == nil {
		spec.EnableServiceLinks = ptrTo(corev1.DefaultEnableServiceLinks)
	}
	if spec.HostNetwork {
		hostPortsFromContainerPorts(spec.Containers)
		hostPortsFromContainerPorts(spec.InitContainers)
	}

	defaultPodSpec(spec)

	status := &pod.Status
	roundResourceList(status.AllocatedResources)
	roundResourceRequirements(status.Resources)
	for _, statuses := range [][]corev1.ContainerStatus{status.InitContainerStatuses, status.ContainerStatuses, status.EphemeralContainerStatuses} {
		for i := range statuses {
			roundResourceList(statuses[i].AllocatedResources)
			roundResourceRequirements(statuses[i].Resources)
		}
	}
}

// requestsFromLimits gives every resource that has a limit but no request
// a request equal to its limit.
func requestsFromLimits(r *corev1.ResourceRequirements) {
	if r.Limits == nil {
		return
	}
	if r.Requests == nil {
		r.Requests = corev1.ResourceList{}
	}
	for name, limit := range r.Limits {
		if _, ok := r.Requests[name]; !ok {
			r.Requests[name] = limit.DeepCopy()
		}
	}
}

// hostPortsFromContainerPorts sets hostPort to containerPort on every port
// that has none, as a host-network pod exposes them there anyway.
func hostPortsFromContainerPorts(containers []corev1.Container) {
	for i := range containers {
		for j := range containers[i].Ports {
			p := &containers[i].Ports[j]
			if p.HostPort == 0 {
				p.HostPort = p.ContainerPort
			}
		}
	}
}

// defaultPodSpec applies the defaults upstream gives every PodSpec, in a
// Pod and in every pod template (Deployment, Job, PodTemplate, ...):
// scheduling and DNS settings, then volumes, containers and overhead.
func defaultPodSpec(spec *corev1.PodSpec) {
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if spec.TerminationGracePeriodSeconds == nil {
		spec.TerminationGracePeriodSeconds = ptrTo(defaultTerminationGracePeriodSeconds)
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = corev1.DefaultSchedulerName
	}
	for i := range spec.Volumes {
		defaultVolume(&spec.Volumes[i])
	}
	for i := range spec.InitContainers {
		defaultContainer(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		defaultContainer(&spec.Containers[i])
	}
	for i := range spec.EphemeralContainers {
		defaultContainer((*corev1.Container)(&spec.EphemeralContainers[i].EphemeralContainerCommon))
	}
	roundResourceList(spec.Overhead)
	roundResourceRequirements(spec.Resources)
}

// defaultContainer applies upstream's container defaults: pull policy,
// termination message settings, port protocols, downward-API and env-file
// references, resource rounding, probes and lifecycle hooks.
func defaultContainer(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = defaultPullPolicy(c.Image)
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	for i := range c.Env {
		if from := c.Env[i].ValueFrom; from != nil {
			defaultFieldSelector(from.FieldRef)
			if from.FileKeyRef != nil && from.FileKeyRef.Optional == nil {
				from.FileKeyRef.Optional = ptrTo(false)
			}
		}
	}
	roundResourceRequirements(&c.Resources)
	defaultProbe(c.LivenessProbe)
	defaultProbe(c.ReadinessProbe)
	defaultProbe(c.StartupProbe)
	if c.Lifecycle != nil {
		if c.Lifecycle.PostStart != nil {
			defaultHTTPGet(c.Lifecycle.PostStart.HTTPGet)
		}
		if c.Lifecycle.PreStop != nil {
			defaultHTTPGet(c.Lifecycle.PreStop.HTTPGet)
		}
	}
}

// defaultProbe fills a probe's timing thresholds and its handler's
// defaults. A nil probe is left nil.
func defaultProbe(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = defaultProbeTimeoutSeconds
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = defaultProbePeriodSeconds
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = defaultProbeSuccessThreshold
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = defaultProbeFailureThreshold
	}
	defaultHTTPGet(p.HTTPGet)
	if p.GRPC != nil && p.GRPC.Service == nil {
		p.GRPC.Service = ptrTo("")
	}
}

// defaultHTTPGet gives an HTTP GET action path "/" and scheme HTTP when
// unset. A nil action is left nil.
func defaultHTTPGet(a *corev1.HTTPGetAction) {
	if a == nil {
		return
	}
	if a.Path == "" {
		a.Path = defaultHTTPGetPath
	}
	if a.Scheme == "" {
		a.Scheme = corev1.URISchemeHTTP
	}
}

// defaultFieldSelector gives a downward-API field reference apiVersion v1
// when unset. A nil selector is left nil.
func defaultFieldSelector(s *corev1.ObjectFieldSelector) {
	if s != nil && s.APIVersion == "" {
		s.APIVersion = defaultFieldSelectorAPIVersion
	}
}

// defaultVolume applies upstream's volume defaults: a volume naming no
// source becomes an emptyDir, and each source gets its own defaults (file
// modes 0644, hostPath type "", token expiry one hour, ...).
func defaultVolume(v *corev1.Volume) {
	src := &v.VolumeSource
	if ptr.AllPtrFieldsNil(src) {
		src.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
	if src.Image != nil && src.Image.PullPolicy == "" {
		src.Image.PullPolicy = defaultPullPolicy(src.Image.Reference)
	}
	defaultHostPath(src.HostPath)
	if src.Secret != nil && src.Secret.DefaultMode == nil {
		src.Secret.DefaultMode = ptrTo(corev1.SecretVolumeSourceDefaultMode)
	}
	if src.ConfigMap != nil && src.ConfigMap.DefaultMode == nil {
		src.ConfigMap.DefaultMode = ptrTo(corev1.ConfigMapVolumeSourceDefaultMode)
	}
	if d := src.DownwardAPI; d != nil {
		if d.DefaultMode == nil {
			d.DefaultMode = ptrTo(corev1.DownwardAPIVolumeSourceDefaultMode)
		}
		for i := range d.Items {
			defaultFieldSelector(d.Items[i].FieldRef)
		}
	}
	if p := src.Projected; p != nil {
		if p.DefaultMode == nil {
			p.DefaultMode = ptrTo(corev1.ProjectedVolumeSourceDefaultMode)
		}
		for i := range p.Sources {
			s := &p.Sources[i]
			if s.DownwardAPI != nil {
				for j := range s.DownwardAPI.Items {
					defaultFieldSelector(s.DownwardAPI.Items[j].FieldRef)
				}
			}
			if s.ServiceAccountToken != nil && s.ServiceAccountToken.ExpirationSeconds == nil {
				s.ServiceAccountToken.ExpirationSeconds = ptrTo(defaultTokenExpirationSeconds)
			}
		}
	}
	if src.ISCSI != nil && src.ISCSI.ISCSIInterface == "" {
		src.ISCSI.ISCSIInterface = defaultISCSIInterface
	}
	if r := src.RBD; r != nil {
		defaultRBD(&r.RBDPool, &r.RadosUser, &r.Keyring)
	}
	defaultAzureDisk(src.AzureDisk)
	if s := src.ScaleIO; s != nil {
		defaultScaleIO(&s.StorageMode, &s.FSType)
	}
	if e := src.Ephemeral; e != nil && e.VolumeClaimTemplate != nil {
		defaultPersistentVolumeClaimSpec(&e.VolumeClaimTemplate.Spec)
	}
}

// defaultHostPath gives a hostPath source type "" (no check) when unset.
func defaultHostPath(h *corev1.HostPathVolumeSource) {
	if h != nil && h.Type == nil {
		h.Type = ptrTo(corev1.HostPathUnset)
	}
}

// defaultRBD fills an RBD source's pool, user and keyring.
func defaultRBD(pool, user, keyring *string) {
	setIfEmpty(pool, defaultRBDPool)
	setIfEmpty(user, defaultRBDUser)
	setIfEmpty(keyring, defaultRBDKeyring)
}

// defaultScaleIO fills a ScaleIO source's storage mode and filesystem.
func defaultScaleIO(storageMode, fsType *string) {
	setIfEmpty(storageMode, defaultScaleIOStorageMode)
	setIfEmpty(fsType, defaultScaleIOFSType)
}

// defaultAzureDisk fills an Azure disk source's caching mode, kind,
// filesystem and read-only flag. A nil source is left nil.
func defaultAzureDisk(a *corev1.AzureDiskVolumeSource) {
	if a == nil {
		return
	}
	if a.CachingMode == nil {
		a.CachingMode = ptrTo(corev1.AzureDataDiskCachingReadWrite)
	}
	if a.Kind == nil {
		a.Kind = ptrTo(corev1.AzureSharedBlobDisk)
	}
	if a.FSType == nil {
		a.FSType = ptrTo(defaultAzureDiskFSType)
	}
	if a.ReadOnly == nil {
		a.ReadOnly = ptrTo(false)
	}
}

func setIfEmpty(field *string, value string) {
	if *field == "" {
		*field = value
	}
}

// roundResourceList rounds every quantity in l up to milli precision in
// place, as upstream does for every ResourceList it decodes. A nil list is
// left nil.
func roundResourceList(l corev1.ResourceList) {
	for name, q := range l {
		q.RoundUp(resourceListRoundingScale)
		l[name] = q
	}
}

// roundResourceRequirements rounds both lists of r. A nil r is left nil.
func roundResourceRequirements(r *corev1.ResourceRequirements) {
	if r == nil {
		return
	}
	roundResourceList(r.Limits)
	roundResourceList(r.Requests)
}
