package kubelet

import (
	"errors"
	"reflect"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestComputeNodeStatus(t *testing.T) {
	machine := MachineInfo{CPUs: 4, MemoryBytes: 8 << 30, EphemeralStorageBytes: 100 << 30, MemoryAvailableBytes: 4 << 30, DiskAvailableBytes: 50 << 30,
		KernelVersion: "6.1.0", OSImage: "Debian GNU/Linux 12 (bookworm)", OperatingSystem: "linux", Architecture: "amd64"}
	healthy := []*runtimeapi.RuntimeCondition{{Type: runtimeapi.RuntimeReady, Status: true}, {Type: runtimeapi.NetworkReady, Status: true}}
	base := nodeStatusInput{Machine: machine, MaxPods: 110, NodeIP: "192.0.2.7", Hostname: "h", RuntimeVersion: "containerd://2.1.4",
		KubeletVersion: "v1.37.2+skiff", RuntimeConditions: healthy, Now: t0}

	type cond struct {
		status v1.ConditionStatus
		reason string
	}
	cases := []struct {
		name       string
		old        v1.NodeStatus
		mutate     func(*nodeStatusInput)
		want       map[v1.NodeConditionType]cond
		readyMsg   string
		wantEvents []string
	}{
		{
			name: "first status of a healthy node",
			want: map[v1.NodeConditionType]cond{
				v1.NodeMemoryPressure: {v1.ConditionFalse, "KubeletHasSufficientMemory"}, v1.NodeDiskPressure: {v1.ConditionFalse, "KubeletHasNoDiskPressure"},
				v1.NodePIDPressure: {v1.ConditionFalse, "KubeletHasSufficientPID"}, v1.NodeReady: {v1.ConditionTrue, "KubeletReady"},
			},
			readyMsg:   "kubelet is posting ready status",
			wantEvents: []string{"NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID", "NodeReady"},
		},
		{
			name: "memory and disk pressure from the readings",
			mutate: func(in *nodeStatusInput) {
				in.Machine.MemoryAvailableBytes = 50 << 20
				in.Machine.DiskAvailableBytes = 5 << 30
			},
			want: map[v1.NodeConditionType]cond{
				v1.NodeMemoryPressure: {v1.ConditionTrue, "KubeletHasInsufficientMemory"}, v1.NodeDiskPressure: {v1.ConditionTrue, "KubeletHasDiskPressure"},
			},
			wantEvents: []string{"NodeHasInsufficientMemory", "NodeHasDiskPressure", "NodeHasSufficientPID", "NodeReady"},
		},
		{
			name: "network not ready: NotReady with upstream's message",
			mutate: func(in *nodeStatusInput) {
				in.RuntimeConditions = []*runtimeapi.RuntimeCondition{{Type: runtimeapi.RuntimeReady, Status: true},
					{Type: runtimeapi.NetworkReady, Reason: "NetworkPluginNotReady", Message: "Network plugin returns error: cni plugin not initialized"}}
			},
			want:       map[v1.NodeConditionType]cond{v1.NodeReady: {v1.ConditionFalse, "KubeletNotReady"}},
			readyMsg:   "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized",
			wantEvents: []string{"NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID", "NodeNotReady"},
		},
		{
			name:       "runtime down",
			mutate:     func(in *nodeStatusInput) { in.RuntimeErr = errors.New("connection refused") },
			want:       map[v1.NodeConditionType]cond{v1.NodeReady: {v1.ConditionFalse, "KubeletNotReady"}},
			readyMsg:   "container runtime is down: connection refused",
			wantEvents: []string{"NodeHasSufficientMemory", "NodeHasNoDiskPressure", "NodeHasSufficientPID", "NodeNotReady"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := base
			if tc.mutate != nil {
				tc.mutate(&in)
			}
			s, events := computeNodeStatus(tc.old, in)
			for ct, w := range tc.want {
				var got *v1.NodeCondition
				for i := range s.Conditions {
					if s.Conditions[i].Type == ct {
						got = &s.Conditions[i]
					}
				}
				if got == nil || got.Status != w.status || got.Reason != w.reason {
					t.Errorf("%s = %+v, want %+v", ct, got, w)
				}
			}
			last := s.Conditions[len(s.Conditions)-1]
			if last.Type != v1.NodeReady || (tc.readyMsg != "" && last.Message != tc.readyMsg) {
				t.Errorf("Ready last with message %q: %+v", tc.readyMsg, last)
			}
			var reasons []string
			for _, e := range events {
				reasons = append(reasons, e.Reason)
			}
			if !reflect.DeepEqual(reasons, tc.wantEvents) {
				t.Errorf("events %v, want %v", reasons, tc.wantEvents)
			}
		})
	}

	s, _ := computeNodeStatus(v1.NodeStatus{}, base)
	mem, pods, storage := s.Allocatable[v1.ResourceMemory], s.Capacity[v1.ResourcePods], s.Allocatable[v1.ResourceEphemeralStorage]
	if mem.Value() != 8<<30-100<<20 || pods.Value() != 110 || storage.Value() != 90<<30 {
		t.Errorf("allocatable memory %v storage %v pods %v", mem.String(), storage.String(), pods.String())
	}
	if s.NodeInfo.ContainerRuntimeVersion != "containerd://2.1.4" || s.NodeInfo.OSImage != "Debian GNU/Linux 12 (bookworm)" || s.Addresses[0].Address != "192.0.2.7" {
		t.Errorf("nodeInfo %+v addresses %+v", s.NodeInfo, s.Addresses)
	}
	// A second computation a little later changes only heartbeats: no write,
	// no events, transition times kept.
	in := base
	in.Now = t0.Add(10 * time.Second)
	s2, events := computeNodeStatus(s, in)
	if nodeStatusChanged(&s, &s2) || len(events) != 0 {
		t.Errorf("unchanged status reported as changed (%d events)", len(events))
	}
	if !s2.Conditions[3].LastTransitionTime.Equal(&s.Conditions[3].LastTransitionTime) || s2.Conditions[3].LastHeartbeatTime.Time != in.Now {
		t.Errorf("times: %+v", s2.Conditions[3])
	}
}

func TestParseMachineFiles(t *testing.T) {
	total, avail := parseMeminfo([]byte("MemTotal:       16384 kB\nMemFree:  1 kB\nMemAvailable:    8192 kB\n"))
	if total != 16384*1024 || avail != 8192*1024 {
		t.Errorf("meminfo %d %d", total, avail)
	}
	if got := parseOSRelease([]byte("NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\n")); got != "Debian GNU/Linux 13 (trixie)" {
		t.Errorf("os-release %q", got)
	}
}
