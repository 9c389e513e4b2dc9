package kubelet

import (
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
)

// killReason says why the plan stops a container; it decides what the
// container's terminated state and events say.
type killReason string

const (
	killUnknown  killReason = "Unknown"
	killLiveness killReason = "LivenessProbe"
	killStartup  killReason = "StartupProbe"
)

// containerToKill is one container the plan stops.
type containerToKill struct {
	ID      string
	Name    string
	Message string // the Killing event's message; "" means "Stopping container <name>"
	Reason  killReason
}

// backOffWait is a container the plan would start but whose crash-loop
// back-off has not run out.
type backOffWait struct {
	Name  string
	Init  bool
	Until time.Time
	// Message is the container's waiting message:
	// "back-off 10s restarting failed container=app pod=web_default(uid)".
	Message string
}

// podActions is the plan for one sync of a running (not terminating) pod,
// in the order the executor carries it out: kill, sandbox, init container,
// containers.
type podActions struct {
	// KillPod stops every container and the sandbox (before a new sandbox,
	// or because nothing is left to run).
	KillPod bool
	// CreateSandbox starts a new sandbox with Attempt.
	CreateSandbox bool
	// SandboxID is the sandbox the containers start in (when not created).
	SandboxID string
	Attempt   uint32
	// InitContainersToStart and ContainersToStart are indexes into the
	// pod spec's lists, in start order.
	InitContainersToStart []int
	ContainersToStart     []int
	// ContainersToKill are stopped (with their reason) before anything is
	// started.
	ContainersToKill []containerToKill
	// BackOff are the starts the crash-loop back-off holds back; they are
	// not in the start lists.
	BackOff []backOffWait
}

// probeResult is a probe's verdict on one container.
type probeResult int

const (
	probeUnknown probeResult = iota
	probeSuccess
	probeFailure
)

func (r probeResult) String() string { return [...]string{"unknown", "success", "failure"}[r] }

// planHints is the rest of what the plan reads: probe verdicts (by CRI
// container ID; absent means not probed yet) and the crash-loop back-off.
type planHints struct {
	Liveness map[string]probeResult
	Startup  map[string]probeResult
	// BackOff answers whether a container that ended at some time must
	// still wait at now; nil means no back-off.
	BackOff interface {
		InBackOffSince(key string, eventTime, now time.Time) (bool, time.Duration)
	}
}

// backoffKey identifies a container across its restarts.
func backoffKey(pod *v1.Pod, name string) string { return string(pod.UID) + "/" + name }

// podFullName is upstream's format.Pod: name_namespace(uid).
func podFullName(pod *v1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}

// Sandbox-not-ready messages, upstream's, shown in the pod's
// PodReadyToStartContainers condition.
const (
	msgNoSandbox        = "no pod sandbox exists"
	msgMultipleReady    = "multiple pod sandboxes are ready and need to be reconciled"
	msgSandboxNotReady  = "pod sandbox is not ready"
	msgNetworkNSChanged = "network namespace mode changed and sandbox needs to be recreated"
	msgNoIP             = "pod sandbox has no IP address"
)

// sandboxChanged decides whether the pod needs a new sandbox, with the
// attempt number it gets, the current sandbox's ID and why.
func sandboxChanged(pod *v1.Pod, rt *runtimePod) (bool, uint32, string, string) {
	if rt == nil || len(rt.Sandboxes) == 0 {
		return true, 0, "", msgNoSandbox
	}
	newest := rt.Sandboxes[0]
	if len(rt.readySandboxes()) > 1 {
		return true, newest.Attempt + 1, newest.ID, msgMultipleReady
	}
	if !newest.Ready {
		return true, newest.Attempt + 1, newest.ID, msgSandboxNotReady
	}
	if newest.HostNetwork != pod.Spec.HostNetwork {
		return true, newest.Attempt + 1, "", msgNetworkNSChanged
	}
	if !pod.Spec.HostNetwork && len(newest.IPs) == 0 {
		return true, newest.Attempt + 1, newest.ID, msgNoIP
	}
	return false, newest.Attempt, newest.ID, ""
}

func isSidecar(c *v1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways
}

// shouldRestart says whether a container that is not running must be
// started (again).
func shouldRestart(c *v1.Container, pod *v1.Pod, rt *runtimePod) bool {
	if pod.DeletionTimestamp != nil {
		return false
	}
	st := rt.latest(c.Name)
	switch {
	case st == nil:
		return true
	case st.State == stateRunning:
		return false
	case st.State == stateUnknown || st.State == stateCreated:
		return true
	case pod.Spec.RestartPolicy == v1.RestartPolicyNever:
		return false
	case pod.Spec.RestartPolicy == v1.RestartPolicyOnFailure:
		return st.ExitCode != 0
	}
	return true
}

func succeeded(c *v1.Container, rt *runtimePod) bool {
	st := rt.latest(c.Name)
	return st != nil && st.State == stateExited && st.ExitCode == 0
}

func anyRegularContainerCreated(pod *v1.Pod, rt *runtimePod) bool {
	for i := range pod.Spec.Containers {
		if st := rt.latest(pod.Spec.Containers[i].Name); st != nil && st.State != stateUnknown {
			return true
		}
	}
	return false
}

func anyActiveRegularContainer(pod *v1.Pod, rt *runtimePod) bool {
	for i := range pod.Spec.Containers {
		if rt.latestActive(pod.Spec.Containers[i].Name) != nil {
			return true
		}
	}
	return false
}

// computePodActions is the pod-sync decision: given the pod as the API
// server has it, what the CRI runs for it, probe verdicts and the
// back-off, what to kill, create and start now. It is pure. A pod being
// deleted is not planned here: the caller stops it.
func computePodActions(pod *v1.Pod, rt *runtimePod, now time.Time, h planHints) podActions {
	create, attempt, sandboxID, _ := sandboxChanged(pod, rt)
	a := podActions{KillPod: create, CreateSandbox: create, SandboxID: sandboxID, Attempt: attempt}

	if create {
		if pod.Spec.RestartPolicy == v1.RestartPolicyNever && attempt != 0 && len(rt.Containers) > 0 {
			// Everything ran once already; a Never pod gets no second sandbox.
			a.CreateSandbox = false
			return a
		}
		var start []int
		for i := range pod.Spec.Containers {
			c := &pod.Spec.Containers[i]
			if pod.Spec.RestartPolicy == v1.RestartPolicyOnFailure && succeeded(c, rt) {
				continue
			}
			start = append(start, i)
		}
		if len(start) == 0 && anyRegularContainerCreated(pod, rt) {
			a.CreateSandbox = false
			return a
		}
		if len(pod.Spec.InitContainers) > 0 {
			a.InitContainersToStart = []int{0}
		} else {
			a.ContainersToStart = start
		}
		// A new sandbox starts from scratch: no back-off is due yet for
		// containers that never ran in it, but crashed ones keep theirs.
		applyBackOff(pod, rt, now, h, &a)
		return a
	}

	initialized := initContainerActions(pod, rt, h, &a)
	if a.KillPod || !initialized {
		applyBackOff(pod, rt, now, h, &a)
		return a
	}

	keep := 0
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		st := rt.latest(c.Name)
		if st == nil || st.State != stateRunning {
			if shouldRestart(c, pod, rt) {
				a.ContainersToStart = append(a.ContainersToStart, i)
				if st != nil && st.State == stateUnknown {
					a.ContainersToKill = append(a.ContainersToKill, containerToKill{
						ID: st.ID, Name: c.Name, Reason: killUnknown,
						Message: fmt.Sprintf("Container is in %q state, try killing it before restart", st.State),
					})
				}
			}
			continue
		}
		restart := pod.Spec.RestartPolicy != v1.RestartPolicyNever
		var msg string
		var reason killReason
		switch {
		case st.Hash != "" && st.Hash != containerHash(c):
			msg = fmt.Sprintf("Container %s definition changed", c.Name)
			restart = true
		case h.Liveness[st.ID] == probeFailure:
			msg = fmt.Sprintf("Container %s failed liveness probe", c.Name)
			reason = killLiveness
		case h.Startup[st.ID] == probeFailure:
			msg = fmt.Sprintf("Container %s failed startup probe", c.Name)
			reason = killStartup
		default:
			keep++
			continue
		}
		if restart {
			msg += ", will be restarted"
			a.ContainersToStart = append(a.ContainersToStart, i)
		}
		a.ContainersToKill = append(a.ContainersToKill, containerToKill{ID: st.ID, Name: c.Name, Message: msg, Reason: reason})
	}
	if keep == 0 && len(a.ContainersToStart) == 0 {
		// Nothing runs and nothing will: the sandbox goes too (sidecars
		// must not keep the pod alive).
		a.KillPod = true
		a.InitContainersToStart = nil
	}
	applyBackOff(pod, rt, now, h, &a)
	return a
}

// initContainerActions plans the init containers and reports whether the
// pod is initialized. Init containers run one after another; the newest
// one with a status decides what comes next, since older ones may have
// been removed by the runtime. Sidecars (restartPolicy Always) are kept
// running once started.
func initContainerActions(pod *v1.Pod, rt *runtimePod, h planHints, a *podActions) bool {
	inits := pod.Spec.InitContainers
	if len(inits) == 0 {
		return true
	}
	initialized := anyActiveRegularContainer(pod, rt)
	seen := initialized // an init container after this point was done before
	var start []int     // collected newest first, reversed at the end
	for i := len(inits) - 1; i >= 0; i-- {
		c := &inits[i]
		st := rt.latestActive(c.Name)
		if st == nil {
			if seen && isSidecar(c) {
				start = append(start, i)
			}
			continue
		}
		if seen && !isSidecar(c) {
			continue
		}
		switch st.State {
		case stateCreated:
			start = append(start, i)
		case stateRunning:
			if !isSidecar(c) {
				break // wait for it to finish
			}
			if c.StartupProbe != nil {
				r, found := h.Startup[st.ID]
				if !found || r == probeUnknown {
					break
				}
				if r == probeFailure {
					a.ContainersToKill = append(a.ContainersToKill, containerToKill{ID: st.ID, Name: c.Name, Reason: killStartup,
						Message: fmt.Sprintf("Init container %s failed startup probe", c.Name)})
					start = append(start, i)
					break
				}
			}
			if i == len(inits)-1 {
				initialized = true
			} else if !seen {
				start = append(start, i+1)
			}
			if c.LivenessProbe != nil && h.Liveness[st.ID] == probeFailure {
				a.ContainersToKill = append(a.ContainersToKill, containerToKill{ID: st.ID, Name: c.Name, Reason: killLiveness,
					Message: fmt.Sprintf("Init container %s failed liveness probe", c.Name)})
				start = append(start, i)
			}
		case stateExited:
			if isSidecar(c) {
				start = append(start, i)
				break
			}
			if st.ExitCode != 0 {
				if pod.Spec.RestartPolicy == v1.RestartPolicyNever {
					a.KillPod = true
					a.InitContainersToStart = nil
					return false
				}
				start = append(start, i)
				break
			}
			if i == len(inits)-1 {
				initialized = true
			} else {
				start = append(start, i+1)
			}
		default:
			if !isSidecar(c) && pod.Spec.RestartPolicy == v1.RestartPolicyNever {
				a.KillPod = true
				a.InitContainersToStart = nil
				return false
			}
			a.ContainersToKill = append(a.ContainersToKill, containerToKill{ID: st.ID, Name: c.Name, Reason: killUnknown,
				Message: fmt.Sprintf("Init container is in %q state, try killing it before restart", st.State)})
			start = append(start, i)
		}
		seen = true
	}
	if !seen {
		start = append(start, 0)
	}
	for i := len(start) - 1; i >= 0; i-- {
		a.InitContainersToStart = append(a.InitContainersToStart, start[i])
	}
	return initialized
}

// applyBackOff moves the starts of containers whose last instance ended
// less than their back-off ago to a.BackOff.
func applyBackOff(pod *v1.Pod, rt *runtimePod, now time.Time, h planHints, a *podActions) {
	if h.BackOff == nil {
		return
	}
	filter := func(idx []int, specs []v1.Container, init bool) []int {
		var keep []int
		for _, i := range idx {
			c := &specs[i]
			if st := rt.latestExited(c.Name); st != nil {
				if in, d := h.BackOff.InBackOffSince(backoffKey(pod, c.Name), st.FinishedAt, now); in {
					a.BackOff = append(a.BackOff, backOffWait{
						Name: c.Name, Init: init, Until: st.FinishedAt.Add(d),
						Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", d, c.Name, podFullName(pod)),
					})
					continue
				}
			}
			keep = append(keep, i)
		}
		return keep
	}
	a.InitContainersToStart = filter(a.InitContainersToStart, pod.Spec.InitContainers, true)
	a.ContainersToStart = filter(a.ContainersToStart, pod.Spec.Containers, false)
}
