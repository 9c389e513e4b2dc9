package apiserver

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"math/big"
	"net"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Service addresses and node ports are claimed with one etcd key each,
// written in the same transaction as the Service: two Services can never
// hold the same address, even when created at once, and a deleted Service
// frees what it held in the transaction that deletes it.
const (
	ipClaimPrefix   = "/registry/ranges/serviceips/"
	portClaimPrefix = "/registry/ranges/servicenodeports/"
)

// allocation is what a write claims and releases; undo forgets the values
// that were picked automatically so that a retry picks again.
type allocation struct {
	take, release []string
	undo          func()
}

// serviceAllocator hands out ClusterIPs and NodePorts.
type serviceAllocator struct {
	s        *Server
	cidr     *net.IPNet
	portBase int
	portSize int
}

func ipToInt(ip net.IP) uint32 { return binary.BigEndian.Uint32(ip.To4()) }

func intToIP(i uint32) net.IP {
	ip := make(net.IP, 4)
	binary.BigEndian.PutUint32(ip, i)
	return ip
}

// ipRange is the usable addresses of the CIDR: [first, last], without the
// network and broadcast addresses, and the size of the static band at its
// start that random picks avoid (upstream's rule: min(max(16, n/16), 256)).
func (a *serviceAllocator) ipRange() (first, last, static uint32) {
	base := ipToInt(a.cidr.IP)
	ones, bits := a.cidr.Mask.Size()
	size := uint32(1) << uint(bits-ones)
	first, last = base+1, base+size-2
	n := last - first + 1
	static = min(max(16, n/16), 256)
	if static >= n {
		static = 0
	}
	return first, last, static
}

func (a *serviceAllocator) portStatic() int {
	return min(max(16, a.portSize/32), 128)
}

func randN(n uint32) uint32 {
	v, _ := rand.Int(rand.Reader, big.NewInt(int64(n)))
	return uint32(v.Int64())
}

func (a *serviceAllocator) claimed(ctx context.Context, key string) (bool, error) {
	_, err := a.s.store.Get(ctx, key)
	if err == nil {
		return true, nil
	}
	if apierrors.IsNotFound(storageError(err, serviceGR, "")) {
		return false, nil
	}
	return false, err
}

var serviceGR = schemaGroupResource("services")

// pickIP picks a free address in the dynamic band, falling back to the
// static band when the dynamic one is full.
func (a *serviceAllocator) pickIP(ctx context.Context, taken map[string]bool) (string, error) {
	first, last, static := a.ipRange()
	dyn := first + static
	for try := 0; try < 32; try++ {
		ip := intToIP(dyn + randN(last-dyn+1)).String()
		if taken[ip] {
			continue
		}
		used, err := a.claimed(ctx, ipClaimPrefix+ip)
		if err != nil {
			return "", err
		}
		if !used {
			return ip, nil
		}
	}
	keys, err := a.s.store.Keys(ctx, ipClaimPrefix)
	if err != nil {
		return "", err
	}
	for _, k := range keys {
		taken[k[len(ipClaimPrefix):]] = true
	}
	for i := first + static; i <= last; i++ {
		if ip := intToIP(i).String(); !taken[ip] {
			return ip, nil
		}
	}
	for i := first; i < first+static; i++ {
		if ip := intToIP(i).String(); !taken[ip] {
			return ip, nil
		}
	}
	return "", apierrors.NewInternalError(fmt.Errorf("range is full"))
}

func (a *serviceAllocator) pickPort(ctx context.Context, taken map[int32]bool) (int32, error) {
	static := a.portStatic()
	for try := 0; try < 32; try++ {
		p := int32(a.portBase + static + int(randN(uint32(a.portSize-static))))
		if taken[p] {
			continue
		}
		used, err := a.claimed(ctx, portClaimPrefix+strconv.Itoa(int(p)))
		if err != nil {
			return 0, err
		}
		if !used {
			return p, nil
		}
	}
	keys, err := a.s.store.Keys(ctx, portClaimPrefix)
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		if p, err := strconv.Atoi(k[len(portClaimPrefix):]); err == nil {
			taken[int32(p)] = true
		}
	}
	for p := a.portBase; p < a.portBase+a.portSize; p++ {
		if !taken[int32(p)] {
			return int32(p), nil
		}
	}
	return 0, apierrors.NewInternalError(fmt.Errorf("range is full"))
}

func wantsClusterIP(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.ClusterIP != corev1.ClusterIPNone
}

func wantsNodePorts(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeNodePort ||
		(svc.Spec.Type == corev1.ServiceTypeLoadBalancer && (svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts))
}

func heldIPs(svc *corev1.Service) map[string]bool {
	out := map[string]bool{}
	if svc == nil {
		return out
	}
	for _, ip := range svc.Spec.ClusterIPs {
		if ip != "" && ip != corev1.ClusterIPNone {
			out[ip] = true
		}
	}
	if ip := svc.Spec.ClusterIP; ip != "" && ip != corev1.ClusterIPNone {
		out[ip] = true
	}
	return out
}

func heldPorts(svc *corev1.Service) map[int32]bool {
	out := map[int32]bool{}
	if svc == nil {
		return out
	}
	for _, p := range svc.Spec.Ports {
		if p.NodePort != 0 {
			out[p.NodePort] = true
		}
	}
	if svc.Spec.HealthCheckNodePort != 0 {
		out[svc.Spec.HealthCheckNodePort] = true
	}
	return out
}

// allocate fills a Service's addresses and node ports and says which claim
// keys the write takes and releases. svc is nil on delete; old is nil on
// create.
func (a *serviceAllocator) allocate(ctx context.Context, svc, old *corev1.Service) (allocation, error) {
	var auto []func()
	// picked holds the claim keys of values picked here: they were free a
	// moment ago, and if a concurrent write claims one first the store's
	// transaction fails with ErrClaimed and the create picks again. Only
	// values the client provided are checked (and refused) up front.
	picked := map[string]bool{}
	alloc := allocation{undo: func() {
		for _, u := range auto {
			u()
		}
	}}
	if svc != nil {
		// Values that are not needed any more go first, as upstream: a
		// service turned ClusterIP drops its node ports.
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
			svc.Spec.IPFamilies, svc.Spec.IPFamilyPolicy = nil, nil
		}
		if !wantsNodePorts(svc) && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
			for i := range svc.Spec.Ports {
				svc.Spec.Ports[i].NodePort = 0
			}
		}
		if wantsClusterIP(svc) && svc.Spec.ClusterIP == "" {
			ip, err := a.pickIP(ctx, heldIPs(old))
			if err != nil {
				return alloc, err
			}
			svc.Spec.ClusterIP = ip
			svc.Spec.ClusterIPs = []string{ip}
			picked[ipClaimPrefix+ip] = true
			auto = append(auto, func() { svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil })
		}
		if svc.Spec.ClusterIP != "" && len(svc.Spec.ClusterIPs) == 0 {
			svc.Spec.ClusterIPs = []string{svc.Spec.ClusterIP}
		}
		if svc.Spec.Type != corev1.ServiceTypeExternalName {
			if len(svc.Spec.IPFamilies) == 0 {
				svc.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
			}
			if svc.Spec.IPFamilyPolicy == nil {
				p := corev1.IPFamilyPolicySingleStack
				svc.Spec.IPFamilyPolicy = &p
			}
		}
		if needsHealthCheckPort(svc) && svc.Spec.HealthCheckNodePort == 0 {
			p, err := a.pickPort(ctx, heldPorts(old))
			if err != nil {
				return alloc, err
			}
			svc.Spec.HealthCheckNodePort = p
			picked[portClaimPrefix+strconv.Itoa(int(p))] = true
			auto = append(auto, func() { svc.Spec.HealthCheckNodePort = 0 })
		}
		if !needsHealthCheckPort(svc) {
			svc.Spec.HealthCheckNodePort = 0
		}
		if wantsNodePorts(svc) {
			taken := heldPorts(old)
			taken[svc.Spec.HealthCheckNodePort] = true
			for i := range svc.Spec.Ports {
				if svc.Spec.Ports[i].NodePort != 0 {
					continue
				}
				// Ports of one service that share a number share a node port.
				p, err := a.pickPort(ctx, taken)
				if err != nil {
					return alloc, err
				}
				taken[p] = true
				svc.Spec.Ports[i].NodePort = p
				picked[portClaimPrefix+strconv.Itoa(int(p))] = true
				idx := i
				auto = append(auto, func() { svc.Spec.Ports[idx].NodePort = 0 })
			}
		}
	}
	newIPs, oldIPs := heldIPs(svc), heldIPs(old)
	newPorts, oldPorts := heldPorts(svc), heldPorts(old)
	var errs field.ErrorList
	first, last, _ := a.ipRange()
	for _, ip := range svcIPs(svc) {
		if oldIPs[ip] {
			continue
		}
		// Upstream names the whole list, with the list as the value.
		p := field.NewPath("spec", "clusterIPs")
		parsed := net.ParseIP(ip)
		if parsed == nil || parsed.To4() == nil || ipToInt(parsed) < first || ipToInt(parsed) > last {
			errs = append(errs, field.Invalid(p, svc.Spec.ClusterIPs, fmt.Sprintf("failed to allocate IP %s: provided IP is not in the valid range. The range of valid IPs is %s", ip, a.cidr)))
			continue
		}
		used := false
		if !picked[ipClaimPrefix+ip] {
			var err error
			if used, err = a.claimed(ctx, ipClaimPrefix+ip); err != nil {
				return alloc, err
			}
		}
		if used {
			errs = append(errs, field.Invalid(p, svc.Spec.ClusterIPs, fmt.Sprintf("failed to allocate IP %s: provided IP is already allocated", ip)))
			continue
		}
		alloc.take = append(alloc.take, ipClaimPrefix+ip)
	}
	for i, port := range portsOf(svc) {
		if port == 0 || oldPorts[port] || containsClaim(alloc.take, portClaimPrefix+strconv.Itoa(int(port))) {
			continue
		}
		p := field.NewPath("spec", "healthCheckNodePort")
		if i < len(svc.Spec.Ports) {
			p = field.NewPath("spec", "ports").Index(i).Child("nodePort")
		}
		if int(port) < a.portBase || int(port) >= a.portBase+a.portSize {
			errs = append(errs, field.Invalid(p, port, fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", a.portBase, a.portBase+a.portSize-1)))
			continue
		}
		used := false
		if key := portClaimPrefix + strconv.Itoa(int(port)); !picked[key] {
			var err error
			if used, err = a.claimed(ctx, key); err != nil {
				return alloc, err
			}
		}
		if used {
			errs = append(errs, field.Invalid(p, port, "provided port is already allocated"))
			continue
		}
		alloc.take = append(alloc.take, portClaimPrefix+strconv.Itoa(int(port)))
	}
	if len(errs) > 0 {
		name := ""
		if svc != nil {
			name = svc.Name
		}
		return alloc, apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Service").GroupKind(), name, errs)
	}
	for ip := range oldIPs {
		if !newIPs[ip] {
			alloc.release = append(alloc.release, ipClaimPrefix+ip)
		}
	}
	for port := range oldPorts {
		if !newPorts[port] {
			alloc.release = append(alloc.release, portClaimPrefix+strconv.Itoa(int(port)))
		}
	}
	return alloc, nil
}

func containsClaim(keys []string, k string) bool {
	for _, x := range keys {
		if x == k {
			return true
		}
	}
	return false
}

func svcIPs(svc *corev1.Service) []string {
	if svc == nil {
		return nil
	}
	var out []string
	for _, ip := range svc.Spec.ClusterIPs {
		if ip != "" && ip != corev1.ClusterIPNone {
			out = append(out, ip)
		}
	}
	if len(out) == 0 && svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != corev1.ClusterIPNone {
		out = append(out, svc.Spec.ClusterIP)
	}
	return out
}

func portsOf(svc *corev1.Service) []int32 {
	if svc == nil {
		return nil
	}
	// One entry per port (0 where none), so an index names its port;
	// the health check port comes last.
	out := make([]int32, 0, len(svc.Spec.Ports)+1)
	for _, p := range svc.Spec.Ports {
		out = append(out, p.NodePort)
	}
	return append(out, svc.Spec.HealthCheckNodePort)
}
