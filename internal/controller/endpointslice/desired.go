package endpointslice

import (
	"fmt"
	"maps"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/endpoints"
)

// ManagedBy is the value of the endpointslice.kubernetes.io/managed-by
// label on the slices this controller owns, as upstream.
const ManagedBy = "endpointslice-controller.k8s.io"

// MaxEndpointsPerSlice is upstream's default --max-endpoints-per-slice.
const MaxEndpointsPerSlice = 100

// Endpoint is one pod as a slice endpoint (upstream's podToEndpoint):
// serving is the pod's readiness, terminating its deletion, ready
// serving and not terminating (always, with publishNotReadyAddresses).
func Endpoint(svc *v1.Service, p *v1.Pod) discoveryv1.Endpoint {
	serving := false
	for _, c := range p.Status.Conditions {
		if c.Type == v1.PodReady {
			serving = c.Status == v1.ConditionTrue
		}
	}
	terminating := p.DeletionTimestamp != nil
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses:  []string{p.Status.PodIP},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &v1.ObjectReference{Kind: "Pod", Namespace: p.Namespace, Name: p.Name, UID: p.UID},
	}
	if p.Spec.NodeName != "" {
		ep.NodeName = ptr.To(p.Spec.NodeName)
	}
	if p.Spec.Hostname != "" && p.Spec.Subdomain == svc.Name && p.Namespace == svc.Namespace {
		ep.Hostname = ptr.To(p.Spec.Hostname)
	}
	return ep
}

// Desired are the slices svc should have (content only: no names): the
// selected pods that may be endpoints (terminating ones included, with
// their conditions), grouped by the ports they resolve, at most
// MaxEndpointsPerSlice per slice; one empty slice when there are none.
func Desired(svc *v1.Service, pods []*v1.Pod) []*discoveryv1.EndpointSlice {
	sel := labels.Set(svc.Spec.Selector).AsSelectorPreValidated()
	type group struct {
		ports []discoveryv1.EndpointPort
		eps   []discoveryv1.Endpoint
	}
	groups := map[string]*group{}
	for _, p := range pods {
		if p.Namespace != svc.Namespace || !sel.Matches(labels.Set(p.Labels)) || !endpoints.InEndpoints(p, true) {
			continue
		}
		var ports []discoveryv1.EndpointPort
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			n, err := endpoints.FindPort(p, sp)
			if err != nil {
				continue
			}
			ports = append(ports, discoveryv1.EndpointPort{Name: ptr.To(sp.Name), Port: ptr.To(n), Protocol: ptr.To(sp.Protocol), AppProtocol: sp.AppProtocol})
		}
		key := portsKey(ports)
		g := groups[key]
		if g == nil {
			g = &group{ports: ports}
			groups[key] = g
		}
		g.eps = append(g.eps, Endpoint(svc, p))
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []*discoveryv1.EndpointSlice
	for _, k := range keys {
		g := groups[k]
		sort.Slice(g.eps, func(i, j int) bool { return g.eps[i].TargetRef.Name < g.eps[j].TargetRef.Name })
		for start := 0; start < len(g.eps); start += MaxEndpointsPerSlice {
			end := min(start+MaxEndpointsPerSlice, len(g.eps))
			out = append(out, newSlice(svc, g.ports, g.eps[start:end]))
		}
	}
	if len(out) == 0 {
		// Upstream keeps a placeholder, so that "no endpoints" is stated.
		out = append(out, newSlice(svc, nil, nil))
	}
	return out
}

func newSlice(svc *v1.Service, ports []discoveryv1.EndpointPort, eps []discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    svc.Name + "-",
			Namespace:       svc.Namespace,
			Labels:          Labels(svc),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(svc, v1.SchemeGroupVersion.WithKind("Service"))},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   append([]discoveryv1.Endpoint{}, eps...),
		Ports:       ports,
	}
}

func portsKey(ports []discoveryv1.EndpointPort) string {
	parts := make([]string, len(ports))
	for i, p := range ports {
		parts[i] = fmt.Sprintf("%s/%d/%s", ptr.Deref(p.Name, ""), ptr.Deref(p.Port, 0), ptr.Deref(p.Protocol, ""))
	}
	sort.Strings(parts)
	return strings.Join(parts, ";")
}

// Labels are the labels of svc's slices: the service's, the service name,
// the manager, and the headless mark.
func Labels(svc *v1.Service) map[string]string {
	l := maps.Clone(svc.Labels)
	if l == nil {
		l = map[string]string{}
	}
	delete(l, discoveryv1.LabelSkipMirror)
	if svc.Spec.ClusterIP == v1.ClusterIPNone {
		l[v1.IsHeadlessService] = ""
	} else {
		delete(l, v1.IsHeadlessService)
	}
	l[discoveryv1.LabelServiceName] = svc.Name
	l[discoveryv1.LabelManagedBy] = ManagedBy
	return l
}

// Plan says how to turn existing slices into desired ones with few
// writes: an existing slice with the same ports is reused (updated only
// if its content differs), the rest are created or deleted.
type Plan struct {
	Create []*discoveryv1.EndpointSlice
	Update []*discoveryv1.EndpointSlice
	Delete []*discoveryv1.EndpointSlice
}

// Reconcile plans the writes from existing (the service's slices, owned
// by this controller) to desired.
func Reconcile(existing, desired []*discoveryv1.EndpointSlice) Plan {
	var p Plan
	free := map[string][]*discoveryv1.EndpointSlice{}
	sorted := append([]*discoveryv1.EndpointSlice(nil), existing...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, s := range sorted {
		k := portsKey(s.Ports) + "|" + string(s.AddressType)
		free[k] = append(free[k], s)
	}
	for _, d := range desired {
		k := portsKey(d.Ports) + "|" + string(d.AddressType)
		if len(free[k]) == 0 {
			p.Create = append(p.Create, d)
			continue
		}
		cur := free[k][0]
		free[k] = free[k][1:]
		if equality.Semantic.DeepEqual(cur.Endpoints, d.Endpoints) && equality.Semantic.DeepEqual(cur.Labels, d.Labels) &&
			equality.Semantic.DeepEqual(cur.Ports, d.Ports) {
			continue
		}
		next := cur.DeepCopy()
		next.Endpoints, next.Labels, next.Ports = d.Endpoints, d.Labels, d.Ports
		p.Update = append(p.Update, next)
	}
	keys := make([]string, 0, len(free))
	for k := range free {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p.Delete = append(p.Delete, free[k]...)
	}
	return p
}
