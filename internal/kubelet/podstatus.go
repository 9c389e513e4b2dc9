package kubelet

import (
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Upstream's reasons in pod conditions and container states.
const (
	reasonContainerCreating       = "ContainerCreating"
	reasonPodInitializing         = "PodInitializing"
	reasonCrashLoopBackOff        = "CrashLoopBackOff"
	reasonErrImagePull            = "ErrImagePull"
	reasonImagePullBackOff        = "ImagePullBackOff"
	reasonErrImageNeverPull       = "ErrImageNeverPull"
	reasonCreateContainerConfig   = "CreateContainerConfigError"
	reasonCreateContainerError    = "CreateContainerError"
	reasonRunContainerError       = "RunContainerError"
	reasonContainerStatusUnknown  = "ContainerStatusUnknown"
	reasonUnknownContainerStatus  = "UnknownContainerStatuses"
	reasonPodCompleted            = "PodCompleted"
	reasonPodFailed               = "PodFailed"
	reasonContainersNotReady      = "ContainersNotReady"
	reasonContainersNotInit       = "ContainersNotInitialized"
	reasonReadinessGatesNotReady  = "ReadinessGatesNotReady"
	reasonPodSandboxNotReady      = "PodSandboxNotReady"
	msgContainerNotFoundOnDeleted = "The container could not be located when the pod was deleted.  The container used to be Running"
	msgContainerNotFound          = "The container could not be located when the pod was terminated"
)

// waitingReason is why a container could not be started in the last
// sync (CrashLoopBackOff, ErrImagePull...): its waiting state.
type waitingReason struct {
	Reason  string
	Message string
}

// statusInput is everything the pod status is computed from.
type statusInput struct {
	// Pod is the pod as the API server has it; its status is the old one.
	Pod     *v1.Pod
	Runtime *runtimePod
	// RuntimeName prefixes container IDs ("containerd://...").
	RuntimeName string
	// Waiting holds, by container name, why the last start failed.
	Waiting map[string]waitingReason
	// Readiness and Startup hold probe verdicts by CRI container ID.
	Readiness map[string]probeResult
	Startup   map[string]probeResult
	// Unready names containers that are not ready whatever their probes
	// say (a static pod's component that reports itself unhealthy).
	Unready map[string]bool
	HostIPs []string
	// Terminal says the pod runs nothing and never will again (its
	// containers are stopped because it is deleted or done), so its phase
	// must be Succeeded or Failed.
	Terminal bool
	Now      time.Time
}

// generatePodStatus computes the pod's status from the CRI's view, as
// upstream's kubelet does (generateAPIPodStatus and the status manager's
// conditions). It is pure.
func generatePodStatus(in statusInput) v1.PodStatus {
	pod := in.Pod
	old := &pod.Status
	now := metav1.NewTime(in.Now)
	s := v1.PodStatus{
		QOSClass:           old.QOSClass,
		ObservedGeneration: pod.Generation,
		NominatedNodeName:  old.NominatedNodeName,
		// A rejection's or an eviction's reason and message stay.
		Reason:  old.Reason,
		Message: old.Message,
	}
	if s.QOSClass == "" {
		s.QOSClass = qosClass(pod)
	}
	if old.StartTime != nil {
		s.StartTime = old.StartTime.DeepCopy()
	} else {
		s.StartTime = &now
	}
	for _, ip := range in.HostIPs {
		s.HostIPs = append(s.HostIPs, v1.HostIP{IP: ip})
	}
	if len(in.HostIPs) > 0 {
		s.HostIP = in.HostIPs[0]
	}
	if rt := in.Runtime; rt != nil && len(rt.Sandboxes) > 0 && rt.Sandboxes[0].Ready {
		ips := rt.Sandboxes[0].IPs
		if pod.Spec.HostNetwork {
			// The runtime gives a host-network sandbox no IP of its own;
			// its IPs are the node's, as upstream reports them.
			ips = in.HostIPs
		}
		for _, ip := range ips {
			s.PodIPs = append(s.PodIPs, v1.PodIP{IP: ip})
		}
	}
	if len(s.PodIPs) == 0 && len(old.PodIPs) > 0 {
		// A stopped sandbox has no network; the pod keeps its last IPs.
		s.PodIPs = append([]v1.PodIP(nil), old.PodIPs...)
	}
	if len(s.PodIPs) > 0 {
		s.PodIP = s.PodIPs[0].IP
	}

	s.InitContainerStatuses = containerStatuses(in, pod.Spec.InitContainers, old.InitContainerStatuses, true)
	s.ContainerStatuses = containerStatuses(in, pod.Spec.Containers, old.ContainerStatuses, false)
	sort.Slice(s.ContainerStatuses, func(i, j int) bool { return s.ContainerStatuses[i].Name < s.ContainerStatuses[j].Name })

	allStatuses := append(append([]v1.ContainerStatus(nil), s.InitContainerStatuses...), s.ContainerStatuses...)
	initialized := anyActiveRegularContainer(pod, in.Runtime)
	s.Phase = podPhase(pod, allStatuses, in.Terminal, initialized)
	if old.Phase == v1.PodSucceeded || old.Phase == v1.PodFailed {
		s.Phase = old.Phase // a terminal phase never changes
	}
	if s.Phase == v1.PodSucceeded || s.Phase == v1.PodFailed {
		for i := range s.ContainerStatuses {
			s.ContainerStatuses[i].Ready = false
		}
	}

	needSandbox, _, _, why := sandboxChanged(pod, in.Runtime)
	ready2start := v1.PodCondition{Type: v1.PodReadyToStartContainers, Status: v1.ConditionTrue}
	if needSandbox {
		ready2start = v1.PodCondition{Type: v1.PodReadyToStartContainers, Status: v1.ConditionFalse, Reason: reasonPodSandboxNotReady, Message: why}
	}
	initCond := initializedCondition(pod, s.InitContainerStatuses, s.ContainerStatuses, s.Phase)
	containersReady := containersReadyCondition(pod, allStatuses, s.Phase)
	readyCond := podReadyCondition(pod, old.Conditions, containersReady)
	owned := []v1.PodCondition{ready2start, initCond, readyCond, containersReady}
	for _, c := range owned {
		c.ObservedGeneration = pod.Generation
		c.LastTransitionTime = now
		if prev := findCondition(old.Conditions, c.Type); prev != nil && prev.Status == c.Status {
			c.LastTransitionTime = prev.LastTransitionTime
		}
		s.Conditions = append(s.Conditions, c)
	}
	for _, c := range old.Conditions {
		if !kubeletOwned(c.Type) {
			s.Conditions = append(s.Conditions, c)
		}
	}
	if findCondition(s.Conditions, v1.PodScheduled) == nil {
		s.Conditions = append(s.Conditions, v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionTrue, LastTransitionTime: now})
	}
	return s
}

func kubeletOwned(t v1.PodConditionType) bool {
	switch t {
	case v1.PodReadyToStartContainers, v1.PodInitialized, v1.PodReady, v1.ContainersReady:
		return true
	}
	return false
}

func findCondition(cs []v1.PodCondition, t v1.PodConditionType) *v1.PodCondition {
	for i := range cs {
		if cs[i].Type == t {
			return &cs[i]
		}
	}
	return nil
}

// containerStatuses builds the API statuses of one list of containers.
func containerStatuses(in statusInput, specs []v1.Container, old []v1.ContainerStatus, isInit bool) []v1.ContainerStatus {
	if len(specs) == 0 {
		return nil
	}
	pod, rt := in.Pod, in.Runtime
	oldByName := make(map[string]*v1.ContainerStatus, len(old))
	for i := range old {
		oldByName[old[i].Name] = &old[i]
	}
	defaultWaiting := reasonContainerCreating
	if len(pod.Spec.InitContainers) > 0 {
		defaultWaiting = reasonPodInitializing
	}
	out := make([]v1.ContainerStatus, 0, len(specs))
	for i := range specs {
		c := &specs[i]
		prev := oldByName[c.Name]
		var instances []*containerStatus
		if rt != nil {
			for j := range rt.Containers {
				if rt.Containers[j].Name == c.Name {
					instances = append(instances, &rt.Containers[j])
				}
			}
		}
		st := v1.ContainerStatus{Name: c.Name, Image: c.Image, State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: defaultWaiting}}}
		switch {
		case len(instances) > 0:
			latest := instances[0]
			st = apiContainerStatus(in, latest, prev)
			st.Name = c.Name
			if len(instances) > 1 {
				if t := apiContainerStatus(in, instances[1], nil).State.Terminated; t != nil {
					st.LastTerminationState = v1.ContainerState{Terminated: t}
				}
			} else if prev != nil && prev.ContainerID != st.ContainerID && prev.State.Terminated != nil {
				st.LastTerminationState = v1.ContainerState{Terminated: prev.State.Terminated.DeepCopy()}
			} else if prev != nil && prev.LastTerminationState.Terminated != nil && latest.RestartCount > 0 {
				st.LastTerminationState = *prev.LastTerminationState.DeepCopy()
			}
		case prev != nil && prev.State.Terminated != nil:
			// The runtime forgot a finished container; its end stands.
			st = *prev.DeepCopy()
		case prev != nil && prev.State.Running != nil:
			// The runtime lost a container that ran.
			st.RestartCount = prev.RestartCount
			st.LastTerminationState = v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
				Reason: reasonContainerStatusUnknown, Message: msgContainerNotFoundOnDeleted, ExitCode: 137,
			}}
			if pod.DeletionTimestamp == nil {
				st.RestartCount++
			}
		case prev != nil:
			st.RestartCount = prev.RestartCount
			st.LastTerminationState = *prev.LastTerminationState.DeepCopy()
		}
		// A container the plan wants running again shows why it is not.
		if w, ok := in.Waiting[c.Name]; ok && shouldRestart(c, pod, rt) && !(isInit && succeeded(c, rt)) {
			if st.State.Terminated != nil {
				st.LastTerminationState = v1.ContainerState{Terminated: st.State.Terminated}
			}
			st.State = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: w.Reason, Message: w.Message}}
		}
		ready, started := containerReadiness(in, c, st, prev, isInit)
		st.Ready = ready
		st.Started = &started
		if st.State.Running == nil && st.State.Terminated == nil && !isInit {
			st.Started = ptrFalse()
		}
		out = append(out, st)
	}
	return out
}

func ptrFalse() *bool { f := false; return &f }

// apiContainerStatus converts one CRI container.
func apiContainerStatus(in statusInput, cs *containerStatus, prev *v1.ContainerStatus) v1.ContainerStatus {
	id := in.RuntimeName + "://" + cs.ID
	st := v1.ContainerStatus{
		Name: cs.Name, Image: cs.Image, ImageID: cs.ImageRef, ContainerID: id, RestartCount: cs.RestartCount,
	}
	if prev != nil && prev.RestartCount > st.RestartCount && prev.ContainerID == id {
		st.RestartCount = prev.RestartCount
	}
	switch cs.State {
	case stateRunning:
		st.State.Running = &v1.ContainerStateRunning{StartedAt: metav1.NewTime(cs.StartedAt)}
	case stateCreated:
		st.State.Waiting = &v1.ContainerStateWaiting{}
	case stateExited:
		st.State.Terminated = &v1.ContainerStateTerminated{
			ExitCode: cs.ExitCode, Reason: cs.Reason, Message: cs.Message,
			StartedAt: metav1.NewTime(cs.StartedAt), FinishedAt: metav1.NewTime(cs.FinishedAt), ContainerID: id,
		}
	default:
		if prev != nil && prev.State.Running != nil {
			st.State.Terminated = &v1.ContainerStateTerminated{Reason: reasonContainerStatusUnknown, Message: msgContainerNotFound, ExitCode: 137}
			st.RestartCount = prev.RestartCount + 1
		} else {
			st.State.Waiting = &v1.ContainerStateWaiting{}
		}
	}
	return st
}

// containerReadiness applies the probes' verdicts: a running container
// has started once its startup probe succeeded (or it has none), and is
// ready once started and its readiness probe succeeded (or it has none).
// An init container that is not a sidecar is ready once it succeeded. A
// container a restarted kubelet has not probed yet keeps what the API
// server last showed for it.
func containerReadiness(in statusInput, c *v1.Container, st v1.ContainerStatus, prev *v1.ContainerStatus, isInit bool) (ready, started bool) {
	if isInit && !isSidecar(c) {
		t := st.State.Terminated
		return t != nil && t.ExitCode == 0, st.State.Running != nil
	}
	if st.State.Running == nil {
		return false, false
	}
	id := strings.TrimPrefix(st.ContainerID, in.RuntimeName+"://")
	same := prev != nil && prev.ContainerID == st.ContainerID && prev.State.Running != nil
	started = c.StartupProbe == nil || in.Startup[id] == probeSuccess
	if _, known := in.Startup[id]; !known && c.StartupProbe != nil && same {
		started = prev.Started != nil && *prev.Started
	}
	if !started {
		return false, false
	}
	ready = (c.ReadinessProbe == nil || in.Readiness[id] == probeSuccess) && !in.Unready[c.Name]
	if _, known := in.Readiness[id]; !known && c.ReadinessProbe != nil && same {
		ready = prev.Ready
	}
	return ready, true
}

// podPhase is upstream's getPhase for pod-level restart policies.
func podPhase(pod *v1.Pod, statuses []v1.ContainerStatus, terminal, initialized bool) v1.PodPhase {
	byName := make(map[string]*v1.ContainerStatus, len(statuses))
	for i := range statuses {
		byName[statuses[i].Name] = &statuses[i]
	}
	policy := pod.Spec.RestartPolicy
	pendingInit, pendingSidecars, failedInit := 0, 0, 0
	var unknown, running, waiting, stopped, succeededN int
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		st, ok := byName[c.Name]
		if isSidecar(c) {
			switch {
			case !ok:
				unknown++
			case st.State.Running != nil:
				if st.Started == nil || !*st.Started {
					pendingSidecars++
				}
				running++
			case st.State.Terminated != nil:
			case st.State.Waiting != nil && st.LastTerminationState.Terminated != nil:
			case st.State.Waiting != nil:
				pendingSidecars++
				waiting++
			default:
				pendingSidecars++
				unknown++
			}
			continue
		}
		switch {
		case !ok:
			pendingInit++
		case st.State.Running != nil:
			pendingInit++
		case st.State.Terminated != nil:
			if st.State.Terminated.ExitCode != 0 {
				failedInit++
			}
		case st.State.Waiting != nil && st.LastTerminationState.Terminated != nil:
			if st.LastTerminationState.Terminated.ExitCode != 0 {
				failedInit++
			}
		default:
			pendingInit++
		}
	}
	for i := range pod.Spec.Containers {
		st, ok := byName[pod.Spec.Containers[i].Name]
		switch {
		case !ok:
			unknown++
		case st.State.Running != nil:
			running++
		case st.State.Terminated != nil:
			stopped++
			if st.State.Terminated.ExitCode == 0 {
				succeededN++
			}
		case st.State.Waiting != nil && st.LastTerminationState.Terminated != nil:
			stopped++
		case st.State.Waiting != nil:
			waiting++
		default:
			unknown++
		}
	}
	if failedInit > 0 && policy == v1.RestartPolicyNever {
		return v1.PodFailed
	}
	switch {
	case pendingInit > 0 || (pendingSidecars > 0 && !initialized) || waiting > 0:
		return v1.PodPending
	case running > 0 && unknown == 0:
		return v1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if terminal {
			if stopped == succeededN {
				return v1.PodSucceeded
			}
			return v1.PodFailed
		}
		if policy == v1.RestartPolicyAlways {
			return v1.PodRunning
		}
		if stopped == succeededN {
			return v1.PodSucceeded
		}
		if policy == v1.RestartPolicyNever {
			return v1.PodFailed
		}
		return v1.PodRunning
	}
	return v1.PodPending
}

func initializedCondition(pod *v1.Pod, inits, regular []v1.ContainerStatus, phase v1.PodPhase) v1.PodCondition {
	cond := v1.PodCondition{Type: v1.PodInitialized, Status: v1.ConditionTrue}
	var unknown, incomplete []string
	byName := map[string]*v1.ContainerStatus{}
	for i := range inits {
		byName[inits[i].Name] = &inits[i]
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		st, ok := byName[c.Name]
		switch {
		case !ok:
			unknown = append(unknown, c.Name)
		case isSidecar(c) && (st.Started == nil || !*st.Started):
			incomplete = append(incomplete, c.Name)
		case !isSidecar(c) && !st.Ready:
			incomplete = append(incomplete, c.Name)
		}
	}
	if phase == v1.PodSucceeded && len(unknown) == 0 {
		cond.Reason = reasonPodCompleted
		return cond
	}
	for _, st := range regular {
		if st.State.Running != nil || st.State.Terminated != nil || st.LastTerminationState.Terminated != nil {
			return cond // regular containers ran: initialized before
		}
	}
	if msg := unreadyMessage(unknown, "incomplete", incomplete); msg != "" {
		return v1.PodCondition{Type: v1.PodInitialized, Status: v1.ConditionFalse, Reason: reasonContainersNotInit, Message: msg}
	}
	return cond
}

func unreadyMessage(unknown []string, what string, others []string) string {
	var parts []string
	if len(unknown) > 0 {
		parts = append(parts, fmt.Sprintf("containers with unknown status: %s", unknown))
	}
	if len(others) > 0 {
		parts = append(parts, fmt.Sprintf("containers with %s status: %s", what, others))
	}
	return strings.Join(parts, ", ")
}

func containersReadyCondition(pod *v1.Pod, statuses []v1.ContainerStatus, phase v1.PodPhase) v1.PodCondition {
	switch phase {
	case v1.PodFailed:
		return v1.PodCondition{Type: v1.ContainersReady, Status: v1.ConditionFalse, Reason: reasonPodFailed}
	}
	byName := map[string]*v1.ContainerStatus{}
	for i := range statuses {
		byName[statuses[i].Name] = &statuses[i]
	}
	var unknown, unready []string
	check := func(c *v1.Container) {
		st, ok := byName[c.Name]
		if !ok {
			unknown = append(unknown, c.Name)
		} else if !st.Ready {
			unready = append(unready, c.Name)
		}
	}
	for i := range pod.Spec.InitContainers {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			check(&pod.Spec.InitContainers[i])
		}
	}
	for i := range pod.Spec.Containers {
		check(&pod.Spec.Containers[i])
	}
	if phase == v1.PodSucceeded && len(unknown) == 0 {
		return v1.PodCondition{Type: v1.ContainersReady, Status: v1.ConditionFalse, Reason: reasonPodCompleted}
	}
	if msg := unreadyMessage(unknown, "unready", unready); msg != "" {
		return v1.PodCondition{Type: v1.ContainersReady, Status: v1.ConditionFalse, Reason: reasonContainersNotReady, Message: msg}
	}
	return v1.PodCondition{Type: v1.ContainersReady, Status: v1.ConditionTrue}
}

func podReadyCondition(pod *v1.Pod, conditions []v1.PodCondition, containersReady v1.PodCondition) v1.PodCondition {
	if containersReady.Status != v1.ConditionTrue {
		return v1.PodCondition{Type: v1.PodReady, Status: containersReady.Status, Reason: containersReady.Reason, Message: containersReady.Message}
	}
	var unready []string
	for _, g := range pod.Spec.ReadinessGates {
		c := findCondition(conditions, g.ConditionType)
		if c == nil {
			unready = append(unready, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", string(g.ConditionType)))
		} else if c.Status != v1.ConditionTrue {
			unready = append(unready, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", string(g.ConditionType), c.Status))
		}
	}
	if len(unready) > 0 {
		return v1.PodCondition{Type: v1.PodReady, Status: v1.ConditionFalse, Reason: reasonReadinessGatesNotReady, Message: strings.Join(unready, ", ")}
	}
	return v1.PodCondition{Type: v1.PodReady, Status: v1.ConditionTrue}
}

// qosClass is the pod's QoS class, for a pod whose status has none yet.
func qosClass(pod *v1.Pod) v1.PodQOSClass {
	anySet, guaranteed := false, true
	all := append(append([]v1.Container(nil), pod.Spec.InitContainers...), pod.Spec.Containers...)
	for _, c := range all {
		for _, r := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[r]
			lim, hasLim := c.Resources.Limits[r]
			if hasReq || hasLim {
				anySet = true
			}
			if !hasLim || (hasReq && req.Cmp(lim) != 0) {
				guaranteed = false
			}
		}
	}
	switch {
	case !anySet:
		return v1.PodQOSBestEffort
	case guaranteed:
		return v1.PodQOSGuaranteed
	}
	return v1.PodQOSBurstable
}

// statusEqual compares two statuses as the API server would store them,
// ignoring probe times.
func statusEqual(a, b *v1.PodStatus) bool {
	return apiequality.Semantic.DeepEqual(a, b)
}
