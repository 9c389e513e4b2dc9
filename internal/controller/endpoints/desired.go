package endpoints

import (
	"fmt"
	"maps"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// HeadlessLabel marks the Endpoints of a service without a cluster IP.
const HeadlessLabel = v1.IsHeadlessService

// Selects reports whether svc's endpoints come from its selector: a
// service without one has endpoints its users write.
func Selects(svc *v1.Service) bool { return svc.Spec.Selector != nil }

// InEndpoints reports whether a pod may be an endpoint at all: it has an
// IP, is not being deleted (unless terminating pods are published), and
// will not run again (upstream's ShouldPodBeInEndpoints).
func InEndpoints(p *v1.Pod, includeTerminating bool) bool {
	if p.Status.PodIP == "" {
		return false
	}
	if !includeTerminating && p.DeletionTimestamp != nil {
		return false
	}
	switch p.Spec.RestartPolicy {
	case v1.RestartPolicyNever:
		return p.Status.Phase != v1.PodFailed && p.Status.Phase != v1.PodSucceeded
	case v1.RestartPolicyOnFailure:
		return p.Status.Phase != v1.PodSucceeded
	}
	return true
}

// FindPort resolves a service port's targetPort on a pod: a number as
// is, a name through the ports its containers (and sidecars) declare with
// the same protocol.
func FindPort(p *v1.Pod, sp *v1.ServicePort) (int32, error) {
	tp := sp.TargetPort
	if tp.Type == intstr.Int {
		if tp.IntVal == 0 {
			return sp.Port, nil
		}
		return tp.IntVal, nil
	}
	containers := append([]v1.Container(nil), p.Spec.Containers...)
	for _, c := range p.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == v1.ContainerRestartPolicyAlways {
			containers = append(containers, c)
		}
	}
	for _, c := range containers {
		for _, cp := range c.Ports {
			if cp.Name == tp.StrVal && cp.Protocol == sp.Protocol {
				return cp.ContainerPort, nil
			}
		}
	}
	return 0, fmt.Errorf("no suitable port for manifest: %s", p.UID)
}

func isReady(p *v1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady {
			return c.Status == v1.ConditionTrue
		}
	}
	return false
}

func address(svc *v1.Service, p *v1.Pod) v1.EndpointAddress {
	a := v1.EndpointAddress{
		IP:        p.Status.PodIP,
		TargetRef: &v1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
	}
	if p.Spec.NodeName != "" {
		n := p.Spec.NodeName
		a.NodeName = &n
	}
	if p.Spec.Hostname != "" && p.Spec.Subdomain == svc.Name && p.Namespace == svc.Namespace {
		a.Hostname = p.Spec.Hostname
	}
	return a
}

// Subsets are the endpoints of svc among pods (those of its namespace):
// each selected pod that may be an endpoint, ready ones in addresses,
// others in notReadyAddresses (all in addresses with
// publishNotReadyAddresses), grouped by the ports they resolve, sorted.
func Subsets(svc *v1.Service, pods []*v1.Pod) []v1.EndpointSubset {
	sel := labels.Set(svc.Spec.Selector).AsSelectorPreValidated()
	tolerate := svc.Spec.PublishNotReadyAddresses
	type group struct {
		ports          []v1.EndpointPort
		ready, unready []v1.EndpointAddress
	}
	groups := map[string]*group{}
	for _, p := range pods {
		if p.Namespace != svc.Namespace || !sel.Matches(labels.Set(p.Labels)) || !InEndpoints(p, tolerate) {
			continue
		}
		var ports []v1.EndpointPort
		if len(svc.Spec.Ports) == 0 {
			if svc.Spec.ClusterIP != v1.ClusterIPNone {
				continue
			}
		} else {
			for i := range svc.Spec.Ports {
				sp := &svc.Spec.Ports[i]
				n, err := FindPort(p, sp)
				if err != nil {
					continue
				}
				ports = append(ports, v1.EndpointPort{Name: sp.Name, Port: n, Protocol: sp.Protocol, AppProtocol: sp.AppProtocol})
			}
			if len(ports) == 0 {
				continue
			}
		}
		sort.Slice(ports, func(i, j int) bool { return portKey(ports[i]) < portKey(ports[j]) })
		var key strings.Builder
		for _, pt := range ports {
			key.WriteString(portKey(pt) + ";")
		}
		g := groups[key.String()]
		if g == nil {
			g = &group{ports: ports}
			groups[key.String()] = g
		}
		if tolerate || isReady(p) {
			g.ready = append(g.ready, address(svc, p))
		} else {
			g.unready = append(g.unready, address(svc, p))
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := []v1.EndpointSubset{}
	for _, k := range keys {
		g := groups[k]
		sortAddresses(g.ready)
		sortAddresses(g.unready)
		out = append(out, v1.EndpointSubset{Addresses: g.ready, NotReadyAddresses: g.unready, Ports: g.ports})
	}
	return out
}

func portKey(p v1.EndpointPort) string { return fmt.Sprintf("%s/%d/%s", p.Name, p.Port, p.Protocol) }

func sortAddresses(a []v1.EndpointAddress) {
	sort.Slice(a, func(i, j int) bool {
		if a[i].IP != a[j].IP {
			return a[i].IP < a[j].IP
		}
		return a[i].TargetRef.Name < a[j].TargetRef.Name
	})
}

// Labels are the labels of svc's Endpoints: the service's, the headless
// mark for a service without a cluster IP, and the mark that keeps the
// EndpointSlice mirroring controller away (the EndpointSlice controller
// writes slices for selector services itself).
func Labels(svc *v1.Service) map[string]string {
	l := maps.Clone(svc.Labels)
	if l == nil {
		l = map[string]string{}
	}
	if svc.Spec.ClusterIP == v1.ClusterIPNone {
		l[HeadlessLabel] = ""
	} else {
		delete(l, HeadlessLabel)
	}
	l[discoveryv1.LabelSkipMirror] = "true"
	return l
}
