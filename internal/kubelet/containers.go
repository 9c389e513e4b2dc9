package kubelet

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	grpcstatus "google.golang.org/grpc/status"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// minimumGrace is upstream's minimumGracePeriodInSeconds: a container
// always gets this long between SIGTERM and SIGKILL.
const minimumGrace = 2

func isNotFound(err error) bool {
	return apierrors.IsNotFound(err) || grpcstatus.Code(err) == codes.NotFound
}

func errMessage(err error) string {
	if s, ok := grpcstatus.FromError(err); ok {
		return s.Message()
	}
	return err.Error()
}

// containerRef is the object reference of a container's events.
func containerRef(pod *v1.Pod, name string) *v1.ObjectReference {
	ref := &v1.ObjectReference{
		APIVersion: "v1", Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name,
		UID: pod.UID, ResourceVersion: pod.ResourceVersion,
	}
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			ref.FieldPath = fmt.Sprintf("spec.containers{%s}", name)
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			ref.FieldPath = fmt.Sprintf("spec.initContainers{%s}", name)
		}
	}
	return ref
}

func podRef(pod *v1.Pod) *v1.ObjectReference {
	return &v1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, ResourceVersion: pod.ResourceVersion}
}

func findSpec(pod *v1.Pod, name string) *v1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	return nil
}

// execute carries out a plan and reports whether it changed anything in
// the runtime.
func (k *Kubelet) execute(ctx context.Context, w *podWorker, pod *v1.Pod, rt *runtimePod, a podActions) bool {
	changed := false
	if a.KillPod {
		if len(rt.running()) > 0 || len(rt.readySandboxes()) > 0 {
			k.stopPod(ctx, pod, rt, terminationGrace(pod))
			changed = true
		}
	} else if len(a.ContainersToKill) > 0 {
		var wg sync.WaitGroup
		for _, c := range a.ContainersToKill {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k.killContainer(ctx, pod, c.ID, c.Name, c.Message, c.Reason, terminationGrace(pod))
			}()
		}
		wg.Wait()
		changed = true
	}
	if a.KillPod && !a.CreateSandbox {
		return changed
	}

	sandboxID := a.SandboxID
	sbConfig := k.sandboxConfig(pod, a.Attempt)
	var podIPs []string
	if a.CreateSandbox {
		if a.Attempt > 0 {
			k.recorder.Eventf(podRef(pod), v1.EventTypeNormal, "SandboxChanged", "Pod sandbox changed, it will be killed and re-created.")
		}
		id, err := k.cfg.Runtime.RunPodSandbox(ctx, sbConfig, "")
		if err != nil {
			k.recorder.Eventf(podRef(pod), v1.EventTypeWarning, "FailedCreatePodSandBox", "Failed to create pod sandbox: %v", err)
			k.log.Warn("creating the pod sandbox failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			return true
		}
		changed = true
		sandboxID = id
		st, err := k.cfg.Runtime.PodSandboxStatus(ctx, id, false)
		if err != nil {
			k.recorder.Eventf(podRef(pod), v1.EventTypeWarning, "FailedPodSandBoxStatus", "Unable to get pod sandbox status: %v", err)
			return true
		}
		if ip := st.GetStatus().GetNetwork().GetIp(); ip != "" && !pod.Spec.HostNetwork {
			podIPs = append(podIPs, ip)
		}
	} else if len(rt.Sandboxes) > 0 {
		podIPs = rt.Sandboxes[0].IPs
	}
	if pod.Spec.HostNetwork {
		podIPs = []string{k.cfg.NodeIP}
	}

	for _, b := range a.BackOff {
		w.waiting[b.Name] = waitingReason{Reason: reasonCrashLoopBackOff, Message: b.Message}
		k.recorder.Eventf(containerRef(pod, b.Name), v1.EventTypeWarning, "BackOff",
			"Back-off restarting failed container %s in pod %s", b.Name, podFullName(pod))
	}
	for _, i := range a.InitContainersToStart {
		c := &pod.Spec.InitContainers[i]
		changed = true
		if !k.startContainer(ctx, w, pod, c, rt, sandboxID, sbConfig, podIPs) {
			return changed
		}
		if !isSidecar(c) {
			break // one init container at a time
		}
	}
	for _, i := range a.ContainersToStart {
		changed = true
		k.startContainer(ctx, w, pod, &pod.Spec.Containers[i], rt, sandboxID, sbConfig, podIPs)
	}
	return changed
}

// stopPod stops every container of the pod (in parallel, each with the
// grace period) and then its sandboxes.
func (k *Kubelet) stopPod(ctx context.Context, pod *v1.Pod, rt *runtimePod, grace int64) {
	var wg sync.WaitGroup
	for _, c := range rt.running() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k.killContainer(ctx, pod, c.ID, c.Name, "", "", grace)
		}()
	}
	wg.Wait()
	for _, s := range rt.readySandboxes() {
		if err := k.cfg.Runtime.StopPodSandbox(ctx, s.ID); err != nil && !isNotFound(err) {
			k.recorder.Eventf(podRef(pod), v1.EventTypeWarning, "FailedKillPod", "error killing pod: %v", err)
		}
	}
}

// killContainer runs the container's preStop hook, then stops it with
// what is left of the grace period (at least 2 s), after a Killing event.
func (k *Kubelet) killContainer(ctx context.Context, pod *v1.Pod, id, name, message string, reason killReason, grace int64) {
	spec := findSpec(pod, name)
	if message == "" {
		message = fmt.Sprintf("Stopping container %s", name)
	}
	if spec != nil {
		var probe *v1.Probe
		switch reason {
		case killLiveness:
			probe = spec.LivenessProbe
		case killStartup:
			probe = spec.StartupProbe
		}
		if probe != nil && probe.TerminationGracePeriodSeconds != nil && pod.DeletionTimestamp == nil {
			grace = *probe.TerminationGracePeriodSeconds
		}
	}
	k.recorder.Eventf(containerRef(pod, name), v1.EventTypeNormal, "Killing", "%s", message)
	if spec != nil && spec.Lifecycle != nil && spec.Lifecycle.PreStop != nil && grace > 0 {
		start := k.clock.Now()
		k.runPreStop(ctx, pod, spec, id, grace)
		grace -= int64(k.clock.Since(start).Seconds())
	}
	if grace < minimumGrace {
		grace = minimumGrace
	}
	if err := k.cfg.Runtime.StopContainer(ctx, id, grace); err != nil && !isNotFound(err) {
		k.log.Warn("stopping a container failed", "pod", pod.Namespace+"/"+pod.Name, "container", name, "err", err)
	}
}

// runPreStop runs a preStop hook (exec, httpGet or sleep) within the grace
// period.
func (k *Kubelet) runPreStop(ctx context.Context, pod *v1.Pod, c *v1.Container, id string, grace int64) {
	ctx, cancel := context.WithTimeout(ctx, time.Duration(grace)*time.Second)
	defer cancel()
	h := c.Lifecycle.PreStop
	var err error
	switch {
	case h.Exec != nil:
		_, err = k.prober.exec(ctx, id, h.Exec.Command, time.Duration(grace)*time.Second)
	case h.HTTPGet != nil:
		ip := ""
		if s := pod.Status.PodIP; s != "" {
			ip = s
		}
		out := k.prober.httpGet(ctx, h.HTTPGet, c, ip)
		if out.Result != probeSuccess {
			err = fmt.Errorf("%s", out.Output)
		}
	case h.Sleep != nil:
		select {
		case <-ctx.Done():
		case <-k.clock.After(time.Duration(h.Sleep.Seconds) * time.Second):
		}
	}
	if err != nil {
		k.recorder.Eventf(containerRef(pod, c.Name), v1.EventTypeWarning, "FailedPreStopHook", "PreStopHook failed")
	}
}

// startContainer pulls the image, creates and starts one container, with
// upstream's events; a failure is kept as the container's waiting reason.
func (k *Kubelet) startContainer(ctx context.Context, w *podWorker, pod *v1.Pod, c *v1.Container, rt *runtimePod, sandboxID string, sbConfig *runtimeapi.PodSandboxConfig, podIPs []string) bool {
	ref := containerRef(pod, c.Name)
	fail := func(reason, msg string) bool {
		w.waiting[c.Name] = waitingReason{Reason: reason, Message: msg}
		k.recorder.Eventf(ref, v1.EventTypeWarning, "Failed", "Error: %s", eventError(reason, msg))
		return false
	}
	restartCount := int32(0)
	if prev := rt.latest(c.Name); prev != nil {
		restartCount = prev.RestartCount + 1
	}
	if prev := rt.latestExited(c.Name); prev != nil {
		k.crashBackoff.Next(backoffKey(pod, c.Name), prev.FinishedAt, k.clock.Now())
	}
	imageRef, reason, msg := k.ensureImage(ctx, pod, c, ref, sbConfig)
	if reason != "" {
		w.waiting[c.Name] = waitingReason{Reason: reason, Message: msg}
		k.recorder.Eventf(ref, v1.EventTypeWarning, "Failed", "Error: %s", reason)
		return false
	}
	svcEnv, err := k.serviceEnv(pod)
	if err != nil {
		return fail(reasonCreateContainerConfig, err.Error())
	}
	env, err := makeEnvironment(ctx, envContext{
		Pod: pod, PodIPs: podIPs, HostIPs: []string{k.cfg.NodeIP}, Allocatable: k.allocatable(), ServiceEnv: svcEnv,
	}, c, k)
	if err != nil {
		return fail(reasonCreateContainerConfig, err.Error())
	}
	config := k.containerConfig(pod, c, restartCount, imageRef, env)
	if config.Mounts, err = k.containerMounts(pod, c, podIPs, env); err != nil {
		return fail(reasonCreateContainerConfig, err.Error())
	}
	id, err := k.cfg.Runtime.CreateContainer(ctx, sandboxID, config, sbConfig)
	if err != nil {
		return fail(reasonCreateContainerError, errMessage(err))
	}
	k.recorder.Eventf(ref, v1.EventTypeNormal, "Created", "Container created")
	if err := k.cfg.Runtime.StartContainer(ctx, id); err != nil {
		return fail(reasonRunContainerError, errMessage(err))
	}
	k.recorder.Eventf(ref, v1.EventTypeNormal, "Started", "Container started")
	delete(w.waiting, c.Name)
	return true
}

// eventError is what follows "Error: " in a Failed event: the reason for
// config errors, as upstream shows the message there.
func eventError(reason, msg string) string {
	if msg != "" {
		return msg
	}
	return reason
}

func (k *Kubelet) allocatable() v1.ResourceList {
	if n := k.currentNode(); n != nil {
		return n.Status.Allocatable
	}
	return nil
}

// ConfigMap and Secret make the kubelet the envSources of its pods.
func (k *Kubelet) ConfigMap(ctx context.Context, ns, name string) (*v1.ConfigMap, error) {
	return k.client.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
}

func (k *Kubelet) Secret(ctx context.Context, ns, name string) (*v1.Secret, error) {
	return k.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
}

// pullPolicy is the container's policy, defaulted as the API server does.
func pullPolicy(c *v1.Container) v1.PullPolicy {
	if c.ImagePullPolicy != "" {
		return c.ImagePullPolicy
	}
	name := c.Image
	if i := strings.LastIndex(name, "@"); i >= 0 {
		return v1.PullIfNotPresent
	}
	if i := strings.LastIndex(name, ":"); i < 0 || strings.Contains(name[i:], "/") || name[i+1:] == "latest" {
		return v1.PullAlways
	}
	return v1.PullIfNotPresent
}

// ensureImage makes the container's image present per its pull policy,
// with upstream's events. A non-empty reason (ErrImagePull,
// ImagePullBackOff, ErrImageNeverPull) means it is not.
func (k *Kubelet) ensureImage(ctx context.Context, pod *v1.Pod, c *v1.Container, ref *v1.ObjectReference, sb *runtimeapi.PodSandboxConfig) (imageRef, reason, message string) {
	spec := &runtimeapi.ImageSpec{Image: c.Image, UserSpecifiedImage: c.Image, Annotations: sb.GetAnnotations()}
	policy := pullPolicy(c)
	st, err := k.cfg.Images.ImageStatus(ctx, spec, false)
	if err != nil {
		msg := fmt.Sprintf("Failed to inspect image %q: %v", c.Image, err)
		k.recorder.Eventf(ref, v1.EventTypeWarning, "InspectFailed", "%s", msg)
		return "", "ImageInspectError", msg
	}
	if img := st.GetImage(); img != nil && policy != v1.PullAlways {
		k.recorder.Eventf(ref, v1.EventTypeNormal, "Pulled", "Container image %q already present on machine and can be accessed by the pod", c.Image)
		return img.Id, "", ""
	}
	if policy == v1.PullNever {
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", c.Image)
		k.recorder.Eventf(ref, v1.EventTypeWarning, reasonErrImageNeverPull, "%s", msg)
		return "", reasonErrImageNeverPull, msg
	}
	key := string(pod.UID) + "_" + c.Image
	now := k.clock.Now()
	if in, _ := k.imageBackoff.InBackOffSinceUpdate(key, now); in {
		msg := fmt.Sprintf("Back-off pulling image %q", c.Image)
		k.recorder.Eventf(ref, v1.EventTypeNormal, "BackOff", "%s", msg)
		if prev, ok := k.pullErrors.Load(key); ok {
			msg = fmt.Sprintf("%s: %s", msg, prev)
		}
		return "", reasonImagePullBackOff, msg
	}
	k.pullErrors.Delete(key)
	k.recorder.Eventf(ref, v1.EventTypeNormal, "Pulling", "Pulling image %q", c.Image)
	start := k.clock.Now()
	imageRef, err = k.pullImage(ctx, pod, spec, sb)
	if err != nil {
		k.recorder.Eventf(ref, v1.EventTypeWarning, "Failed", "Failed to pull image %q: %v", c.Image, err)
		k.imageBackoff.Next(key, now, now)
		msg := err.Error()
		k.pullErrors.Store(key, reasonErrImagePull+": "+msg)
		return "", reasonErrImagePull, msg
	}
	d := k.clock.Since(start).Truncate(time.Millisecond)
	var size uint64
	if st, err := k.cfg.Images.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: imageRef}, false); err == nil {
		size = st.GetImage().GetSize()
	}
	k.recorder.Eventf(ref, v1.EventTypeNormal, "Pulled", "Successfully pulled image %q in %v (%v including waiting). Image size: %v bytes.", c.Image, d, d, size)
	return imageRef, "", ""
}

// sandboxConfig is the CRI sandbox of a pod: metadata, hostname, DNS,
// ports, labels, namespaces and cgroup parent.
func (k *Kubelet) sandboxConfig(pod *v1.Pod, attempt uint32) *runtimeapi.PodSandboxConfig {
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	if len(hostname) > 63 {
		hostname = strings.TrimRight(hostname[:63], "-.")
	}
	if pod.Spec.HostNetwork {
		// As upstream: the node's UTS namespace keeps its own name (runc
		// refuses a hostname without a private UTS namespace).
		hostname = ""
	}
	netMode := runtimeapi.NamespaceMode_POD
	if pod.Spec.HostNetwork {
		netMode = runtimeapi.NamespaceMode_NODE
	}
	pidMode := runtimeapi.NamespaceMode_CONTAINER
	if pod.Spec.HostPID {
		pidMode = runtimeapi.NamespaceMode_NODE
	} else if pod.Spec.ShareProcessNamespace != nil && *pod.Spec.ShareProcessNamespace {
		pidMode = runtimeapi.NamespaceMode_POD
	}
	ipcMode := runtimeapi.NamespaceMode_POD
	if pod.Spec.HostIPC {
		ipcMode = runtimeapi.NamespaceMode_NODE
	}
	var ports []*runtimeapi.PortMapping
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort <= 0 {
				continue
			}
			proto := runtimeapi.Protocol_TCP
			switch p.Protocol {
			case v1.ProtocolUDP:
				proto = runtimeapi.Protocol_UDP
			case v1.ProtocolSCTP:
				proto = runtimeapi.Protocol_SCTP
			}
			ports = append(ports, &runtimeapi.PortMapping{Protocol: proto, ContainerPort: p.ContainerPort, HostPort: p.HostPort, HostIp: p.HostIP})
		}
	}
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: pod.Name, Namespace: pod.Namespace, Uid: string(pod.UID), Attempt: attempt},
		Hostname:     hostname,
		LogDirectory: k.podLogDir(pod),
		DnsConfig:    k.dnsConfig(pod),
		PortMappings: ports,
		Labels:       sandboxLabels(pod),
		Annotations:  pod.Annotations,
		Linux: &runtimeapi.LinuxPodSandboxConfig{
			CgroupParent: cgroupParent(pod, k.cfg.CgroupDriver),
			SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
				NamespaceOptions: &runtimeapi.NamespaceOption{Network: netMode, Pid: pidMode, Ipc: ipcMode},
			},
		},
	}
}

// cgroupParent is the pod's cgroup under the kubepods hierarchy, by QoS
// class, named as the runtime's cgroup driver expects: a path for
// cgroupfs ("/kubepods/burstable/pod<uid>"), a slice for systemd
// ("kubepods-burstable-pod<uid_with_underscores>.slice").
func cgroupParent(pod *v1.Pod, driver string) string {
	qos := ""
	switch qosClass(pod) {
	case v1.PodQOSBestEffort:
		qos = "besteffort"
	case v1.PodQOSBurstable:
		qos = "burstable"
	}
	if driver == CgroupDriverSystemd {
		uid := strings.ReplaceAll(string(pod.UID), "-", "_")
		if qos == "" {
			return fmt.Sprintf("kubepods-pod%s.slice", uid)
		}
		return fmt.Sprintf("kubepods-%s-pod%s.slice", qos, uid)
	}
	return path.Join("/kubepods", qos, "pod"+string(pod.UID))
}

// dnsConfig is the pod's resolv.conf, per its dnsPolicy.
func (k *Kubelet) dnsConfig(pod *v1.Pod) *runtimeapi.DNSConfig {
	policy := pod.Spec.DNSPolicy
	if policy == "" {
		policy = v1.DNSClusterFirst
	}
	cluster := (policy == v1.DNSClusterFirst && !pod.Spec.HostNetwork) || policy == v1.DNSClusterFirstWithHostNet
	cfg := &runtimeapi.DNSConfig{}
	switch {
	case policy == v1.DNSNone:
	case cluster && len(k.cfg.ClusterDNS) > 0:
		d := k.cfg.ClusterDomain
		cfg.Servers = append(cfg.Servers, k.cfg.ClusterDNS...)
		cfg.Searches = []string{pod.Namespace + ".svc." + d, "svc." + d, d}
		cfg.Options = []string{"ndots:5"}
	default:
		cfg.Servers, cfg.Searches, cfg.Options = hostResolvConf()
	}
	if dc := pod.Spec.DNSConfig; dc != nil {
		cfg.Servers = append(cfg.Servers, dc.Nameservers...)
		cfg.Searches = append(cfg.Searches, dc.Searches...)
		for _, o := range dc.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			cfg.Options = append(cfg.Options, opt)
		}
	}
	return cfg
}

func hostResolvConf() (servers, searches, options []string) {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil, nil, nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "nameserver":
			servers = append(servers, f[1])
		case "search":
			searches = append(searches[:0], f[1:]...)
		case "options":
			options = append(options, f[1:]...)
		}
	}
	return servers, searches, options
}

// containerConfig is the CRI container of a pod's container.
func (k *Kubelet) containerConfig(pod *v1.Pod, c *v1.Container, restartCount int32, imageRef string, env []*runtimeapi.KeyValue) *runtimeapi.ContainerConfig {
	cfg := &runtimeapi.ContainerConfig{
		Metadata:    &runtimeapi.ContainerMetadata{Name: c.Name, Attempt: uint32(restartCount)},
		Image:       &runtimeapi.ImageSpec{Image: imageRef, UserSpecifiedImage: c.Image},
		Command:     expandArgs(c.Command, env),
		Args:        expandArgs(c.Args, env),
		WorkingDir:  c.WorkingDir,
		Envs:        env,
		Labels:      containerLabels(pod, c),
		Annotations: containerAnnotations(pod, c, restartCount),
		LogPath:     filepath.Join(c.Name, strconv.Itoa(int(restartCount))+".log"),
		Stdin:       c.Stdin,
		StdinOnce:   c.StdinOnce,
		Tty:         c.TTY,
		Linux: &runtimeapi.LinuxContainerConfig{
			Resources: linuxResources(c),
			SecurityContext: &runtimeapi.LinuxContainerSecurityContext{
				NamespaceOptions: k.sandboxConfig(pod, 0).Linux.SecurityContext.NamespaceOptions,
			},
		},
	}
	if sc := c.SecurityContext; sc != nil {
		lsc := cfg.Linux.SecurityContext
		if sc.Privileged != nil {
			lsc.Privileged = *sc.Privileged
		}
		if sc.RunAsUser != nil {
			lsc.RunAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
		}
		if sc.RunAsGroup != nil {
			lsc.RunAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
		}
		if sc.ReadOnlyRootFilesystem != nil {
			lsc.ReadonlyRootfs = *sc.ReadOnlyRootFilesystem
		}
	}
	return cfg
}

// linuxResources maps a container's requests and limits to the CRI's
// cgroup settings, as upstream: shares from the CPU request, quota over a
// 100 ms period from the CPU limit, the memory limit in bytes.
func linuxResources(c *v1.Container) *runtimeapi.LinuxContainerResources {
	const period = 100000
	r := &runtimeapi.LinuxContainerResources{CpuPeriod: period}
	cpuReq, hasReq := c.Resources.Requests[v1.ResourceCPU]
	cpuLim, hasLim := c.Resources.Limits[v1.ResourceCPU]
	switch {
	case hasReq:
		r.CpuShares = max(cpuReq.MilliValue()*1024/1000, 2)
	case hasLim:
		r.CpuShares = max(cpuLim.MilliValue()*1024/1000, 2)
	default:
		r.CpuShares = 2
	}
	if hasLim {
		r.CpuQuota = max(cpuLim.MilliValue()*period/1000, 1000)
	}
	if mem, ok := c.Resources.Limits[v1.ResourceMemory]; ok {
		r.MemoryLimitInBytes = mem.Value()
	}
	return r
}

// ensureProbes starts a probe worker for every probe of the pod's
// containers that has none yet.
func (k *Kubelet) ensureProbes(ctx context.Context, w *podWorker, pod *v1.Pod) {
	add := func(c *v1.Container) {
		for _, kind := range []probeKind{liveness, readiness, startup} {
			if probeSpec(c, kind) == nil {
				continue
			}
			key := probeKey{kind, c.Name}
			if _, ok := w.probes[key]; ok {
				continue
			}
			pctx, cancel := context.WithCancel(ctx)
			w.probes[key] = cancel
			go k.probeLoop(pctx, w, pod, c, kind)
		}
	}
	for i := range pod.Spec.InitContainers {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			add(&pod.Spec.InitContainers[i])
		}
	}
	for i := range pod.Spec.Containers {
		add(&pod.Spec.Containers[i])
	}
}

func (k *Kubelet) stopProbes(w *podWorker) {
	for key, cancel := range w.probes {
		cancel()
		delete(w.probes, key)
	}
}

// probeLoop is one probe worker: every periodSeconds it decides with
// nextProbeStep, probes, and publishes verdicts to the pod's worker.
func (k *Kubelet) probeLoop(ctx context.Context, w *podWorker, pod *v1.Pod, c *v1.Container, kind probeKind) {
	spec := probeSpec(c, kind)
	period := time.Duration(spec.PeriodSeconds) * time.Second
	if period <= 0 {
		period = 10 * time.Second
	}
	// Spread the first probes of many pods over a period, as upstream, but
	// no longer than a second so that a new pod is probed promptly.
	first := time.Duration(uint64(k.clock.Now().UnixNano()) % uint64(min(period, time.Second)))
	select {
	case <-ctx.Done():
		return
	case <-k.clock.After(first):
	}
	t := k.clock.NewTicker(period)
	defer t.Stop()
	state := &proberState{}
	for {
		target, podIP := probeTargetOf(w, pod, c)
		step := nextProbeStep(kind, spec, target, state, k.startTime, k.clock.Now())
		if step.HasSet {
			w.setResult(kind, c.Name, target.ContainerID, step.Set)
		}
		if step.Stop {
			return
		}
		if step.Probe {
			out := k.prober.run(ctx, spec, pod, c, podIP, target.ContainerID)
			ref := containerRef(pod, c.Name)
			switch {
			case ctx.Err() != nil:
				return
			case out.Err != nil:
				k.recorder.Eventf(ref, v1.EventTypeWarning, "Unhealthy", "%s probe errored and resulted in %s state: %s", kind, probeUnknown, out.Err)
			default:
				if out.Result == probeFailure {
					k.recorder.Eventf(ref, v1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", kind, out.Output)
				}
				if r, ok := recordProbe(kind, spec, state, out.Result); ok {
					w.setResult(kind, c.Name, target.ContainerID, r)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

// probeTargetOf reads a container's state from the pod's last computed
// status.
func probeTargetOf(w *podWorker, pod *v1.Pod, c *v1.Container) (probeTarget, string) {
	s := w.status.Load()
	if s == nil {
		return probeTarget{}, ""
	}
	cur, _ := w.snapshot()
	if cur == nil {
		cur = pod
	}
	var st *v1.ContainerStatus
	for _, list := range [][]v1.ContainerStatus{s.ContainerStatuses, s.InitContainerStatuses} {
		for i := range list {
			if list[i].Name == c.Name {
				st = &list[i]
			}
		}
	}
	if st == nil || st.ContainerID == "" {
		return probeTarget{}, s.PodIP
	}
	_, id, _ := strings.Cut(st.ContainerID, "://")
	t := probeTarget{
		ContainerID:  id,
		Running:      st.State.Running != nil,
		Started:      st.Started != nil && *st.Started,
		Terminated:   st.State.Terminated != nil,
		NeverRestart: pod.Spec.RestartPolicy == v1.RestartPolicyNever && !isSidecar(c),
		Deleting:     cur.DeletionTimestamp != nil,
	}
	if st.State.Running != nil {
		t.StartedAt = st.State.Running.StartedAt.Time
	}
	return t, s.PodIP
}
