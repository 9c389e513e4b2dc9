package dns

import (
	"context"
	"fmt"
	"net"
	"reflect"
	"strconv"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// The kube-dns Service, as upstream's CoreDNS add-on names it: `kubectl
// cluster-info` lists it by its kubernetes.io/cluster-service label.
const (
	ServiceNamespace = "kube-system"
	ServiceName      = "kube-dns"
	managedBy        = "skiff-dns"
)

// kubeDNSService is the Service pods reach the cluster DNS through.
func kubeDNSService(ip string) *v1.Service {
	return &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: ServiceName, Namespace: ServiceNamespace, Labels: map[string]string{
			"k8s-app":                       "kube-dns",
			"kubernetes.io/cluster-service": "true",
			"kubernetes.io/name":            "CoreDNS",
		}},
		Spec: v1.ServiceSpec{
			ClusterIP: ip, ClusterIPs: []string{ip}, Type: v1.ServiceTypeClusterIP,
			Ports: []v1.ServicePort{
				{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			},
		},
	}
}

// kubeDNSEndpoints are the Endpoints and the EndpointSlice of kube-dns:
// this server's address and port. The Service has no selector, so the
// endpoint controllers leave them to us.
func kubeDNSEndpoints(ip string, port int32) (*v1.Endpoints, *discoveryv1.EndpointSlice) {
	ep := &v1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: ServiceName, Namespace: ServiceNamespace,
			Labels: map[string]string{"k8s-app": "kube-dns", discoveryv1.LabelSkipMirror: "true"}},
		Subsets: []v1.EndpointSubset{{
			Addresses: []v1.EndpointAddress{{IP: ip}},
			Ports: []v1.EndpointPort{
				{Name: "dns", Port: port, Protocol: v1.ProtocolUDP},
				{Name: "dns-tcp", Port: port, Protocol: v1.ProtocolTCP},
			},
		}},
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: ServiceName, Namespace: ServiceNamespace, Labels: map[string]string{
			discoveryv1.LabelServiceName: ServiceName,
			discoveryv1.LabelManagedBy:   managedBy,
			"k8s-app":                    "kube-dns",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)}}},
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr.To("dns"), Port: ptr.To(port), Protocol: ptr.To(v1.ProtocolUDP)},
			{Name: ptr.To("dns-tcp"), Port: ptr.To(port), Protocol: ptr.To(v1.ProtocolTCP)},
		},
	}
	return ep, slice
}

// ensureService creates kube-dns if it is missing (a Service someone else
// made is left alone) and points its endpoints at this server.
func (s *Server) ensureService(ctx context.Context) error {
	_, portStr, _ := net.SplitHostPort(s.cfg.Listen)
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("dns: listen port %q: %v", portStr, err)
	}
	core := s.cfg.Client.CoreV1()
	// Get first: a create of an existing Service fails on its taken
	// cluster IP (422) before its name (409), as upstream's.
	if _, err := core.Services(ServiceNamespace).Get(ctx, ServiceName, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		_, err = core.Services(ServiceNamespace).Create(ctx, kubeDNSService(s.cfg.ServiceIP.String()), metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("dns: creating Service %s/%s: %w", ServiceNamespace, ServiceName, err)
		}
	} else if err != nil {
		return fmt.Errorf("dns: %w", err)
	}
	ep, slice := kubeDNSEndpoints(s.cfg.AdvertiseIP.String(), int32(port))
	if cur, err := core.Endpoints(ServiceNamespace).Get(ctx, ServiceName, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		_, err = core.Endpoints(ServiceNamespace).Create(ctx, ep, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("dns: creating Endpoints: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("dns: %w", err)
	} else if !reflect.DeepEqual(cur.Subsets, ep.Subsets) {
		cur.Subsets = ep.Subsets
		if _, err := core.Endpoints(ServiceNamespace).Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("dns: updating Endpoints: %w", err)
		}
	}
	slices := s.cfg.Client.DiscoveryV1().EndpointSlices(ServiceNamespace)
	if cur, err := slices.Get(ctx, ServiceName, metav1.GetOptions{}); apierrors.IsNotFound(err) {
		_, err = slices.Create(ctx, slice, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("dns: creating EndpointSlice: %w", err)
		}
	} else if err != nil {
		return fmt.Errorf("dns: %w", err)
	} else if !reflect.DeepEqual(cur.Endpoints, slice.Endpoints) || !reflect.DeepEqual(cur.Ports, slice.Ports) {
		cur.Endpoints, cur.Ports = slice.Endpoints, slice.Ports
		if _, err := slices.Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("dns: updating EndpointSlice: %w", err)
		}
	}
	return nil
}
