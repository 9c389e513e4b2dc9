package printers

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// nodeUnreachablePodReason is the pod status reason the node lifecycle
// controller sets on the pods of a node that stopped answering.
const nodeUnreachablePodReason = "NodeLost"

// podPrinter prints pods: NAME READY STATUS RESTARTS AGE, and with -o wide
// IP NODE NOMINATED NODE READINESS GATES.
func podPrinter() Printer {
	status, spec := corev1.PodStatus{}.SwaggerDoc(), corev1.PodSpec{}.SwaggerDoc()
	return typed[corev1.Pod, *corev1.Pod]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
			column("Status", "string", "The aggregate status of the containers in this pod."),
			column("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
			ageColumn(),
			wide(column("IP", "string", status["podIP"])),
			wide(column("Node", "string", spec["nodeName"])),
			wide(column("Nominated Node", "string", status["nominatedNodeName"])),
			wide(column("Readiness Gates", "string", spec["readinessGates"])),
		},
		cells: podCells,
	}
}

// podCells is one pod's row. READY counts the ready containers, restartable
// init containers (sidecars) included, against all of them; STATUS and
// RESTARTS are podSummary's.
func podCells(pod *corev1.Pod, now time.Time) ([]interface{}, error) {
	s := summarizePod(pod)
	restarts := strconv.Itoa(s.restarts)
	if s.restarts != 0 && !s.lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", s.restarts, since(metav1.Time{Time: s.lastRestart}, now))
	}

	// Upstream reads the internal pod, whose PodIPs come from v1's podIP
	// when that is set and from podIPs otherwise.
	ip := pod.Status.PodIP
	if ip == "" && len(pod.Status.PodIPs) > 0 {
		ip = pod.Status.PodIPs[0].IP
	}

	gates := "<none>"
	if n := len(pod.Spec.ReadinessGates); n > 0 {
		met := 0
		for _, gate := range pod.Spec.ReadinessGates {
			if podConditionStatus(pod, gate.ConditionType) == corev1.ConditionTrue {
				met++
			}
		}
		gates = fmt.Sprintf("%d/%d", met, n)
	}

	return []interface{}{
		pod.Name,
		fmt.Sprintf("%d/%d", s.ready, s.total),
		s.reason,
		restarts,
		since(pod.CreationTimestamp, now),
		orNone(ip),
		orNone(pod.Spec.NodeName),
		orNone(pod.Status.NominatedNodeName),
		gates,
	}, nil
}

// podSummary is what the READY, STATUS and RESTARTS cells are made of.
type podSummary struct {
	ready, total int
	reason       string
	restarts     int
	lastRestart  time.Time // when the latest counted restart's container last ended
}

// summarizePod computes a pod's STATUS the way upstream's printPod does.
//
// The status starts as the phase, or the pod's reason when it has one, and
// is SchedulingGated while the scheduler holds the pod back. Then the init
// containers are read in order: the first that has neither completed
// successfully nor (for a sidecar) started decides an "Init:" status — its
// terminated or waiting reason, Init:Signal:N or Init:ExitCode:N, or
// Init:i/n. While initialization has not failed or stalled (or the pod says
// it is initialized anyway), the app containers are read last to first and
// the first one's waiting or terminated reason (or Signal:N, ExitCode:N)
// wins; a pod whose containers completed but one still runs reads Running,
// or NotReady without the Ready condition. A pod being deleted reads
// Terminating, or Unknown when its node was lost.
//
// RESTARTS sums the restarts of the init containers while initializing, and
// otherwise those of the sidecars and the app containers.
func summarizePod(pod *corev1.Pod) podSummary {
	s := podSummary{total: len(pod.Spec.Containers), reason: string(pod.Status.Phase)}
	if pod.Status.Reason != "" {
		s.reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			s.reason = corev1.PodReasonSchedulingGated
		}
	}

	sidecar := make(map[string]bool, len(pod.Spec.InitContainers))
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		if isRestartableInitContainer(c) {
			sidecar[c.Name] = true
			s.total++
		}
	}

	var sidecarRestarts int
	var lastSidecarRestart time.Time
	initializing := false
	for i := range pod.Status.InitContainerStatuses {
		cs := &pod.Status.InitContainerStatuses[i]
		s.restarts += int(cs.RestartCount)
		s.lastRestart = laterTermination(s.lastRestart, cs)
		if sidecar[cs.Name] {
			sidecarRestarts += int(cs.RestartCount)
			lastSidecarRestart = laterTermination(lastSidecarRestart, cs)
		}

		terminated, waiting := cs.State.Terminated, cs.State.Waiting
		switch {
		case terminated != nil && terminated.ExitCode == 0:
			continue
		case sidecar[cs.Name] && cs.Started != nil && *cs.Started:
			if cs.Ready {
				s.ready++
			}
			continue
		case terminated != nil:
			switch {
			case terminated.Reason != "":
				s.reason = "Init:" + terminated.Reason
			case terminated.Signal != 0:
				s.reason = fmt.Sprintf("Init:Signal:%d", terminated.Signal)
			default:
				s.reason = fmt.Sprintf("Init:ExitCode:%d", terminated.ExitCode)
			}
		case waiting != nil && waiting.Reason != "" && waiting.Reason != "PodInitializing":
			s.reason = "Init:" + waiting.Reason
		default:
			s.reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		initializing = true
		break
	}

	if !initializing || podConditionStatus(pod, corev1.PodInitialized) == corev1.ConditionTrue {
		s.restarts, s.lastRestart = sidecarRestarts, lastSidecarRestart
		running := false
		for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := &pod.Status.ContainerStatuses[i]
			s.restarts += int(cs.RestartCount)
			s.lastRestart = laterTermination(s.lastRestart, cs)

			terminated, waiting := cs.State.Terminated, cs.State.Waiting
			switch {
			case waiting != nil && waiting.Reason != "":
				s.reason = waiting.Reason
			case terminated != nil && terminated.Reason != "":
				s.reason = terminated.Reason
			case terminated != nil && terminated.Signal != 0:
				s.reason = fmt.Sprintf("Signal:%d", terminated.Signal)
			case terminated != nil:
				s.reason = fmt.Sprintf("ExitCode:%d", terminated.ExitCode)
			case cs.Ready && cs.State.Running != nil:
				running = true
				s.ready++
			}
		}
		if s.reason == "Completed" && running {
			if hasTrueCondition(pod, corev1.PodReady) {
				s.reason = "Running"
			} else {
				s.reason = "NotReady"
			}
		}
	}

	if pod.DeletionTimestamp != nil {
		switch {
		case pod.Status.Reason == nodeUnreachablePodReason:
			s.reason = "Unknown"
		case pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed:
			s.reason = "Terminating"
		}
	}
	return s
}

// isRestartableInitContainer reports whether c is a sidecar: an init
// container that keeps running beside the app containers.
func isRestartableInitContainer(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

// laterTermination returns the later of latest and the time cs's previous
// run ended.
func laterTermination(latest time.Time, cs *corev1.ContainerStatus) time.Time {
	if t := cs.LastTerminationState.Terminated; t != nil && latest.Before(t.FinishedAt.Time) {
		return t.FinishedAt.Time
	}
	return latest
}

// podConditionStatus returns the status of pod's first condition of type t,
// or "" when it has none.
func podConditionStatus(pod *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range pod.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

// hasTrueCondition reports whether any of pod's conditions of type t is True.
func hasTrueCondition(pod *corev1.Pod, t corev1.PodConditionType) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
