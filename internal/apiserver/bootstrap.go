package apiserver

import (
	"context"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// bootstrap creates what a cluster always has, as upstream's API server
// does at start: the system namespaces, and the kubernetes Service in
// default with Endpoints pointing at this server. It is idempotent.
func (s *Server) bootstrap(ctx context.Context) error {
	nsRes := s.resources.lookup("", "v1", "namespaces")
	for _, name := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/metadata.name": name}}}
		if err := s.ensure(ctx, nsRes, ns); err != nil {
			return err
		}
	}
	pcRes := s.resources.lookup("scheduling.k8s.io", "v1", "priorityclasses")
	for _, pc := range []*schedulingv1.PriorityClass{
		{ObjectMeta: metav1.ObjectMeta{Name: "system-node-critical"}, Value: 2000001000,
			Description: "Used for system critical pods that must not be moved from their current node."},
		{ObjectMeta: metav1.ObjectMeta{Name: "system-cluster-critical"}, Value: 2000000000,
			Description: "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."},
	} {
		if err := s.ensure(ctx, pcRes, pc); err != nil {
			return err
		}
	}
	first, _, _ := (&serviceAllocator{cidr: s.cfg.ServiceCIDR}).ipRange()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"component": "apiserver", "provider": "kubernetes"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: intToIP(first).String(),
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt32(int32(s.cfg.Port))}},
			SessionAffinity: corev1.ServiceAffinityNone,
			Type:            corev1.ServiceTypeClusterIP,
		},
	}
	if err := s.ensure(ctx, s.resources.lookup("", "v1", "services"), svc); err != nil {
		return err
	}
	addr := s.cfg.AdvertiseAddress
	if addr == nil {
		addr = DefaultAdvertiseAddress()
	}
	if addr.IsLoopback() {
		// Endpoints may not hold loopback addresses (pods could not reach
		// them); a host with no other address has no kubernetes endpoints.
		s.cfg.Logger.Warn("no kubernetes endpoints: the advertise address is loopback", "address", addr.String())
		return nil
	}
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default",
			Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: addr.String()}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: int32(s.cfg.Port), Protocol: corev1.ProtocolTCP}},
		}},
	}
	epRes := s.resources.lookup("", "v1", "endpoints")
	if err := s.ensure(ctx, epRes, ep); err != nil {
		return err
	}
	// The endpoints follow the server: update them when the address moved.
	_, err := s.retryUpdate(ctx, epRes, "default", "kubernetes", writeOptions{}, func(cur runtime.Object, _ int64) (runtime.Object, error) {
		cur.(*corev1.Endpoints).Subsets = ep.Subsets
		setResourceVersion(cur, "")
		return cur, nil
	})
	return err
}

// ensure creates obj unless an object of that name exists.
func (s *Server) ensure(ctx context.Context, res *resource, obj runtime.Object) error {
	m, _ := obj.(metav1.Object)
	if _, _, err := s.getObject(ctx, res, m.GetNamespace(), m.GetName()); err == nil {
		return nil
	}
	_, err := s.createObject(ctx, res, obj, writeOptions{})
	if err == nil || apierrors.IsAlreadyExists(err) {
		return nil
	}
	return fmt.Errorf("apiserver: bootstrap %s %s: %w", res.Singular, nameOf(obj), err)
}

// DefaultAdvertiseAddress is the host's first global unicast IPv4
// address, or 127.0.0.1: where the API server (and the cluster DNS) say
// they are when no address is configured.
func DefaultAdvertiseAddress() net.IP {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && ipn.IP.IsGlobalUnicast() {
				return ipn.IP
			}
		}
	}
	return net.IPv4(127, 0, 0, 1)
}
