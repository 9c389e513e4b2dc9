package controller

import v1 "k8s.io/api/core/v1"

// PodReadyCondition is pod's Ready condition, nil when it has none.
func PodReadyCondition(p *v1.Pod) *v1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == v1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}
