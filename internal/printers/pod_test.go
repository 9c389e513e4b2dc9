package printers

import (
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Container states and statuses, to keep the pod table short.

func running() corev1.ContainerState {
	return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: ago(time.Hour)}}
}

func waiting(reason string) corev1.ContainerState {
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}
}

func terminated(reason string, exitCode, signal int32) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: exitCode, Signal: signal}}
}

// ended is a last state: a run that ended d before now.
func ended(d time.Duration) corev1.ContainerState {
	return corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1, FinishedAt: ago(d)}}
}

func status(name string, state corev1.ContainerState, ready bool, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: state, Ready: ready, RestartCount: restarts}
}

func condition(t corev1.PodConditionType, s corev1.ConditionStatus) corev1.PodCondition {
	return corev1.PodCondition{Type: t, Status: s}
}

var always = corev1.ContainerRestartPolicyAlways

func sidecarSpec(name string) corev1.Container {
	return corev1.Container{Name: name, RestartPolicy: &always}
}

func started(b bool) *bool { return &b }

// podWith is a pod with the given containers (and init containers) in its
// spec and the given status.
func podWith(containers, initContainers []corev1.Container, st corev1.PodStatus) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", CreationTimestamp: ago(3*24*time.Hour + 4*time.Hour)},
		Spec:       corev1.PodSpec{Containers: containers, InitContainers: initContainers},
		Status:     st,
	}
}

func names(ns ...string) []corev1.Container {
	cs := make([]corev1.Container, len(ns))
	for i, n := range ns {
		cs[i] = corev1.Container{Name: n}
	}
	return cs
}

// TestPodStatus is a table of pod states and the READY, STATUS and RESTARTS
// cells upstream's printPod gives them.
func TestPodStatus(t *testing.T) {
	deleted := func(p *corev1.Pod) *corev1.Pod { p.DeletionTimestamp = agoPtr(time.Second); return p }
	withLastState := func(cs corev1.ContainerStatus, last corev1.ContainerState) corev1.ContainerStatus {
		cs.LastTerminationState = last
		return cs
	}
	withStarted := func(cs corev1.ContainerStatus, s bool) corev1.ContainerStatus {
		cs.Started = started(s)
		return cs
	}

	tests := []struct {
		name                    string
		pod                     *corev1.Pod
		ready, status, restarts string
	}{
		{"pending, unscheduled", podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodPending}),
			"0/1", "Pending", "0"},
		{"scheduling gated", podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonSchedulingGated},
		}}), "0/1", "SchedulingGated", "0"},
		{"creating", podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
			status("app", waiting("ContainerCreating"), false, 0),
		}}), "0/1", "ContainerCreating", "0"},
		{"running", podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			status("app", running(), true, 0),
		}}), "1/1", "Running", "0"},
		{"running, not ready", podWith(names("app", "db"), nil, corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			status("app", running(), true, 0), status("db", running(), false, 0),
		}}), "1/2", "Running", "0"},
		{"crash loop", podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			withLastState(status("app", waiting("CrashLoopBackOff"), false, 3), ended(5*time.Minute)),
		}}), "0/1", "CrashLoopBackOff", "3 (5m ago)"},
		{"restarts without an end time", podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			status("app", running(), true, 3),
		}}), "1/1", "Running", "3"},
		{"restarts summed, latest end", podWith(names("a", "b"), nil, corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			withLastState(status("a", running(), true, 1), ended(10*time.Minute)),
			withLastState(status("b", running(), true, 2), ended(time.Minute)),
		}}), "2/2", "Running", "3 (60s ago)"},
		{"image pull error", podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
			status("app", waiting("ErrImagePull"), false, 0),
		}}), "0/1", "ErrImagePull", "0"},
		{"image pull back-off", podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
			status("app", waiting("ImagePullBackOff"), false, 0),
		}}), "0/1", "ImagePullBackOff", "0"},
		{"the first container's reason wins", podWith(names("a", "b"), nil, corev1.PodStatus{Phase: corev1.PodPending, ContainerStatuses: []corev1.ContainerStatus{
			status("a", waiting("ImagePullBackOff"), false, 0), status("b", waiting("ContainerCreating"), false, 0),
		}}), "0/2", "ImagePullBackOff", "0"},
		{"completed", podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
			status("app", terminated("Completed", 0, 0), false, 0),
		}}), "0/1", "Completed", "0"},
		{"error", podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
			status("app", terminated("Error", 1, 0), false, 0),
		}}), "0/1", "Error", "0"},
		{"OOM killed", podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			status("app", terminated("OOMKilled", 137, 0), false, 1),
		}}), "0/1", "OOMKilled", "1"},
		{"exit code without a reason", podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
			status("app", terminated("", 2, 0), false, 0),
		}}), "0/1", "ExitCode:2", "0"},
		{"signal without a reason", podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{
			status("app", terminated("", 137, 9), false, 0),
		}}), "0/1", "Signal:9", "0"},
		{"completed with one still running, ready", podWith(names("a", "b"), nil, corev1.PodStatus{
			Phase:      corev1.PodRunning,
			Conditions: []corev1.PodCondition{condition(corev1.PodReady, corev1.ConditionTrue)},
			ContainerStatuses: []corev1.ContainerStatus{
				status("a", running(), true, 0), status("b", terminated("Completed", 0, 0), false, 0),
			},
		}), "1/2", "Running", "0"},
		{"completed with one still running, not ready", podWith(names("a", "b"), nil, corev1.PodStatus{
			Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{
				status("a", running(), true, 0), status("b", terminated("Completed", 0, 0), false, 0),
			},
		}), "1/2", "NotReady", "0"},
		{"evicted", podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodFailed, Reason: "Evicted"}),
			"0/1", "Evicted", "0"},
		{"terminating", deleted(podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			status("app", running(), true, 0),
		}})), "1/1", "Terminating", "0"},
		{"deleted after completing", deleted(podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodSucceeded, ContainerStatuses: []corev1.ContainerStatus{
			status("app", terminated("Completed", 0, 0), false, 0),
		}})), "0/1", "Completed", "0"},
		{"node lost", podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodRunning, Reason: "NodeLost", ContainerStatuses: []corev1.ContainerStatus{
			status("app", running(), true, 0),
		}}), "1/1", "NodeLost", "0"},
		{"node lost, deleted", deleted(podWith(names("app"), nil, corev1.PodStatus{Phase: corev1.PodRunning, Reason: "NodeLost", ContainerStatuses: []corev1.ContainerStatus{
			status("app", running(), true, 0),
		}})), "1/1", "Unknown", "0"},

		// Init containers.
		{"init running", podWith(names("app"), names("init"), corev1.PodStatus{
			Phase:                 corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{status("init", running(), false, 0)},
			ContainerStatuses:     []corev1.ContainerStatus{status("app", waiting("PodInitializing"), false, 0)},
		}), "0/1", "Init:0/1", "0"},
		{"init waiting to initialize", podWith(names("app"), names("init"), corev1.PodStatus{
			Phase:                 corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{status("init", waiting("PodInitializing"), false, 0)},
		}), "0/1", "Init:0/1", "0"},
		{"second init running", podWith(names("app"), names("one", "two"), corev1.PodStatus{
			Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{
				status("one", terminated("Completed", 0, 0), false, 0), status("two", running(), false, 0),
			},
		}), "0/1", "Init:1/2", "0"},
		{"init crash loop", podWith(names("app"), names("init"), corev1.PodStatus{
			Phase:                 corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{withLastState(status("init", waiting("CrashLoopBackOff"), false, 4), ended(2*time.Hour))},
			ContainerStatuses:     []corev1.ContainerStatus{status("app", waiting("PodInitializing"), false, 0)},
		}), "0/1", "Init:CrashLoopBackOff", "4 (120m ago)"},
		{"init error", podWith(names("app"), names("init"), corev1.PodStatus{
			Phase:                 corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{status("init", terminated("Error", 1, 0), false, 1)},
		}), "0/1", "Init:Error", "1"},
		{"init exit code", podWith(names("app"), names("init"), corev1.PodStatus{
			Phase:                 corev1.PodFailed,
			InitContainerStatuses: []corev1.ContainerStatus{status("init", terminated("", 3, 0), false, 0)},
		}), "0/1", "Init:ExitCode:3", "0"},
		{"init signal", podWith(names("app"), names("init"), corev1.PodStatus{
			Phase:                 corev1.PodFailed,
			InitContainerStatuses: []corev1.ContainerStatus{status("init", terminated("", 137, 9), false, 0)},
		}), "0/1", "Init:Signal:9", "0"},
		{"initialized, app starting", podWith(names("app"), names("init"), corev1.PodStatus{
			Phase:                 corev1.PodPending,
			Conditions:            []corev1.PodCondition{condition(corev1.PodInitialized, corev1.ConditionTrue)},
			InitContainerStatuses: []corev1.ContainerStatus{status("init", terminated("Completed", 0, 0), false, 2)},
			ContainerStatuses:     []corev1.ContainerStatus{status("app", waiting("PodInitializing"), false, 0)},
		}), "0/1", "PodInitializing", "0"},
		{"init restarts stop counting once initialized", podWith(names("app"), names("init"), corev1.PodStatus{
			Phase:                 corev1.PodRunning,
			Conditions:            []corev1.PodCondition{condition(corev1.PodInitialized, corev1.ConditionTrue)},
			InitContainerStatuses: []corev1.ContainerStatus{withLastState(status("init", terminated("Completed", 0, 0), false, 2), ended(time.Hour))},
			ContainerStatuses:     []corev1.ContainerStatus{status("app", running(), true, 0)},
		}), "1/1", "Running", "0"},
		{"initialized condition with a failed init container", podWith(names("app"), names("init"), corev1.PodStatus{
			Phase:                 corev1.PodRunning,
			Conditions:            []corev1.PodCondition{condition(corev1.PodInitialized, corev1.ConditionTrue)},
			InitContainerStatuses: []corev1.ContainerStatus{status("init", terminated("Error", 1, 0), false, 0)},
			ContainerStatuses:     []corev1.ContainerStatus{status("app", running(), true, 0)},
		}), "1/1", "Init:Error", "0"},
		{"terminating while initializing", deleted(podWith(names("app"), names("init"), corev1.PodStatus{
			Phase:                 corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{status("init", running(), false, 0)},
		})), "0/1", "Terminating", "0"},

		// Sidecars: restartable init containers.
		{"sidecar and app ready", podWith(names("app"), []corev1.Container{sidecarSpec("proxy")}, corev1.PodStatus{
			Phase:                 corev1.PodRunning,
			Conditions:            []corev1.PodCondition{condition(corev1.PodInitialized, corev1.ConditionTrue), condition(corev1.PodReady, corev1.ConditionTrue)},
			InitContainerStatuses: []corev1.ContainerStatus{withLastState(withStarted(status("proxy", running(), true, 1), true), ended(2*time.Hour))},
			ContainerStatuses:     []corev1.ContainerStatus{status("app", running(), true, 0)},
		}), "2/2", "Running", "1 (120m ago)"},
		{"sidecar started, not ready", podWith(names("app"), []corev1.Container{sidecarSpec("proxy")}, corev1.PodStatus{
			Phase:                 corev1.PodRunning,
			Conditions:            []corev1.PodCondition{condition(corev1.PodInitialized, corev1.ConditionTrue)},
			InitContainerStatuses: []corev1.ContainerStatus{withStarted(status("proxy", running(), false, 0), true)},
			ContainerStatuses:     []corev1.ContainerStatus{status("app", running(), true, 0)},
		}), "1/2", "Running", "0"},
		{"sidecar not started yet", podWith(names("app"), []corev1.Container{sidecarSpec("proxy")}, corev1.PodStatus{
			Phase:                 corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{withStarted(status("proxy", running(), false, 0), false)},
			ContainerStatuses:     []corev1.ContainerStatus{status("app", waiting("PodInitializing"), false, 0)},
		}), "0/2", "Init:0/1", "0"},
		{"sidecar then a plain init container", podWith(names("app"), []corev1.Container{sidecarSpec("proxy"), {Name: "migrate"}}, corev1.PodStatus{
			Phase: corev1.PodPending,
			InitContainerStatuses: []corev1.ContainerStatus{
				withStarted(status("proxy", running(), true, 0), true),
				status("migrate", running(), false, 0),
			},
			ContainerStatuses: []corev1.ContainerStatus{status("app", waiting("PodInitializing"), false, 0)},
		}), "1/2", "Init:1/2", "0"},
		{"sidecar crash loop counts after initialization", podWith(names("app"), []corev1.Container{sidecarSpec("proxy")}, corev1.PodStatus{
			Phase:                 corev1.PodRunning,
			Conditions:            []corev1.PodCondition{condition(corev1.PodInitialized, corev1.ConditionTrue)},
			InitContainerStatuses: []corev1.ContainerStatus{withLastState(withStarted(status("proxy", waiting("CrashLoopBackOff"), false, 5), false), ended(3*time.Minute))},
			ContainerStatuses:     []corev1.ContainerStatus{withLastState(status("app", running(), true, 1), ended(time.Hour))},
		}), "1/2", "Init:CrashLoopBackOff", "6 (3m ago)"},
	}
	p := New().Lookup(gr("", "pods"))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cells, err := p.Cells(tt.pod, now)
			if err != nil {
				t.Fatal(err)
			}
			if got := [3]interface{}{cells[1], cells[2], cells[3]}; got != [3]interface{}{tt.ready, tt.status, tt.restarts} {
				t.Errorf("READY, STATUS, RESTARTS = %q, want %q", got, [3]string{tt.ready, tt.status, tt.restarts})
			}
		})
	}
}

// TestPodCells checks whole pod rows, wide cells included.
func TestPodCells(t *testing.T) {
	base := func() *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "web-7d4b9c6f5-x2x9z", CreationTimestamp: ago(3*24*time.Hour + 4*time.Hour)},
			Spec:       corev1.PodSpec{Containers: names("nginx"), NodeName: "node-1"},
			Status: corev1.PodStatus{
				Phase:             corev1.PodRunning,
				PodIP:             "10.244.1.7",
				PodIPs:            []corev1.PodIP{{IP: "10.244.1.7"}, {IP: "fd00::7"}},
				ContainerStatuses: []corev1.ContainerStatus{status("nginx", running(), true, 0)},
			},
		}
	}
	gated := base()
	gated.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/lb"}, {ConditionType: "example.com/dns"}}
	gated.Status.Conditions = []corev1.PodCondition{
		condition("example.com/lb", corev1.ConditionTrue), condition("example.com/dns", corev1.ConditionFalse),
	}
	nominated := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "big"},
		Spec:       corev1.PodSpec{Containers: names("app")},
		Status:     corev1.PodStatus{Phase: corev1.PodPending, NominatedNodeName: "node-2"},
	}
	ipsOnly := base()
	ipsOnly.Status.PodIP = ""

	checkCells(t, gr("", "pods"), []cellsCase{
		{"running", base(), []interface{}{"web-7d4b9c6f5-x2x9z", "1/1", "Running", "0", "3d4h", "10.244.1.7", "node-1", "<none>", "<none>"}},
		{"readiness gates", gated, []interface{}{"web-7d4b9c6f5-x2x9z", "1/1", "Running", "0", "3d4h", "10.244.1.7", "node-1", "<none>", "1/2"}},
		{"nominated, unscheduled, no creation time", nominated, []interface{}{"big", "0/1", "Pending", "0", "<unknown>", "<none>", "<none>", "node-2", "<none>"}},
		{"pod IPs without pod IP", ipsOnly, []interface{}{"web-7d4b9c6f5-x2x9z", "1/1", "Running", "0", "3d4h", "10.244.1.7", "node-1", "<none>", "<none>"}},
	})
}

// TestPodCellsDoNotChangeThePod checks that printing leaves the pod as it was.
func TestPodCellsDoNotChangeThePod(t *testing.T) {
	pod := podWith(names("app"), []corev1.Container{sidecarSpec("proxy")}, corev1.PodStatus{
		Phase:                 corev1.PodRunning,
		InitContainerStatuses: []corev1.ContainerStatus{{Name: "proxy", Started: started(true), Ready: true, State: running()}},
		ContainerStatuses:     []corev1.ContainerStatus{status("app", running(), true, 0)},
	})
	before := pod.DeepCopy()
	if _, err := New().Lookup(gr("", "pods")).Cells(pod, now); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, pod) {
		t.Fatal("printing changed the pod")
	}
}
