package podgc

import (
	"sort"
	"time"

	v1 "k8s.io/api/core/v1"
)

// Upstream's defaults.
const (
	// DefaultTerminatedPodThreshold is --terminated-pod-gc-threshold.
	DefaultTerminatedPodThreshold = 12500
	// CheckPeriod is how often the collector looks.
	CheckPeriod = 20 * time.Second
	// Quarantine is how long a node must have been missing before its
	// pods are collected: a node being re-registered is not missing.
	Quarantine = 40 * time.Second
)

// Input is what one pass decides from.
type Input struct {
	// Pods are all pods.
	Pods []*v1.Pod
	// NodeExists reports whether the informer knows a node.
	NodeExists func(name string) bool
	// MissingSince is when each missing node was first seen missing; Plan
	// updates it (adds new ones, forgets nodes that came back).
	MissingSince map[string]time.Time
	// Threshold is the number of terminated pods kept (0: no limit).
	Threshold int
	// Now is the current time.
	Now time.Time
}

// Plan is what one pass deletes.
type Plan struct {
	// Terminated are the oldest terminated pods over the threshold.
	Terminated []*v1.Pod
	// Orphaned are pods bound to nodes missing for Quarantine; the
	// caller confirms each node is gone with a live read first.
	Orphaned []*v1.Pod
	// UnscheduledTerminating are pods being deleted that no node will
	// ever confirm.
	UnscheduledTerminating []*v1.Pod
}

func terminated(p *v1.Pod) bool {
	return p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed
}

// Decide is upstream's PodGC pass.
func Decide(in Input) Plan {
	var p Plan
	var done []*v1.Pod
	missing := map[string]bool{}
	for _, pod := range in.Pods {
		if terminated(pod) {
			done = append(done, pod)
		}
		switch node := pod.Spec.NodeName; {
		case node == "" && pod.DeletionTimestamp != nil:
			p.UnscheduledTerminating = append(p.UnscheduledTerminating, pod)
		case node != "" && !in.NodeExists(node):
			missing[node] = true
			since, ok := in.MissingSince[node]
			if !ok {
				in.MissingSince[node] = in.Now
				continue
			}
			if in.Now.Sub(since) >= Quarantine {
				p.Orphaned = append(p.Orphaned, pod)
			}
		}
	}
	for node := range in.MissingSince {
		if !missing[node] {
			delete(in.MissingSince, node)
		}
	}
	if in.Threshold > 0 && len(done) > in.Threshold {
		sort.SliceStable(done, func(i, j int) bool {
			return done[i].CreationTimestamp.Before(&done[j].CreationTimestamp)
		})
		p.Terminated = done[:len(done)-in.Threshold]
	}
	return p
}
