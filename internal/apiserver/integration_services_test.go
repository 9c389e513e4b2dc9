package apiserver_test

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/testserver"
)

func nodePortService(name string, ports ...int32) *corev1.Service {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort}}
	for i, p := range ports {
		svc.Spec.Ports = append(svc.Spec.Ports, corev1.ServicePort{Name: fmt.Sprintf("p%d", i), Port: p})
	}
	return svc
}

// TestIntegrationServices covers ClusterIP and NodePort allocation.
func TestIntegrationServices(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	c := s.Client(t)
	_, cidr, _ := net.ParseCIDR("10.43.0.0/16")

	t.Run("KubernetesService", func(t *testing.T) {
		t.Parallel()
		svc, err := c.CoreV1().Services("default").Get(bg(), "kubernetes", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if svc.Spec.ClusterIP != "10.43.0.1" || len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != 443 {
			t.Errorf("kubernetes service = %+v", svc.Spec)
		}
		ep, err := c.CoreV1().Endpoints("default").Get(bg(), "kubernetes", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(ep.Subsets) != 1 || ep.Subsets[0].Ports[0].Port != int32(s.Port) {
			t.Errorf("kubernetes endpoints = %+v", ep.Subsets)
		}
		// Its address is taken.
		ns := newNamespace(t, c)
		_, err = c.CoreV1().Services(ns).Create(bg(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "dup"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.1", Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid)
	})

	t.Run("ClusterIPs", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		seen := map[string]bool{}
		for i := 0; i < 5; i++ {
			svc, err := c.CoreV1().Services(ns).Create(bg(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s%d", i)},
				Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ip := net.ParseIP(svc.Spec.ClusterIP)
			if ip == nil || !cidr.Contains(ip) || seen[svc.Spec.ClusterIP] {
				t.Errorf("cluster IP %q", svc.Spec.ClusterIP)
			}
			seen[svc.Spec.ClusterIP] = true
			if len(svc.Spec.ClusterIPs) != 1 || svc.Spec.ClusterIPs[0] != svc.Spec.ClusterIP ||
				len(svc.Spec.IPFamilies) != 1 || svc.Spec.IPFamilies[0] != corev1.IPv4Protocol ||
				svc.Spec.IPFamilyPolicy == nil || *svc.Spec.IPFamilyPolicy != corev1.IPFamilyPolicySingleStack {
				t.Errorf("service spec = %+v", svc.Spec)
			}
		}
		// A requested address is honoured.
		svc, err := c.CoreV1().Services(ns).Create(bg(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "fixed"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.43.200.200", Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if svc.Spec.ClusterIP != "10.43.200.200" {
			t.Errorf("requested IP = %s", svc.Spec.ClusterIP)
		}
		// Taken: 422 naming spec.clusterIPs.
		_, err = c.CoreV1().Services(ns).Create(bg(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "taken"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.43.200.200", Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
		st := wantStatus(t, err, 422, metav1.StatusReasonInvalid)
		if st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Field != "spec.clusterIPs" ||
			!strings.Contains(st.Details.Causes[0].Message, "failed to allocate IP 10.43.200.200: provided IP is already allocated") {
			t.Errorf("taken IP status = %+v", st)
		}
		// Out of range: 422.
		_, err = c.CoreV1().Services(ns).Create(bg(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "outside"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.99.0.5", Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
		st = wantStatus(t, err, 422, metav1.StatusReasonInvalid)
		if st.Details == nil || len(st.Details.Causes) != 1 || !strings.Contains(st.Details.Causes[0].Message, "provided IP is not in the valid range. The range of valid IPs is 10.43.0.0/16") {
			t.Errorf("out of range status = %+v", st)
		}
		// Deleting frees the address for reuse.
		if err := c.CoreV1().Services(ns).Delete(bg(), "fixed", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().Services(ns).Create(bg(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "reuse"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.43.200.200", Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{}); err != nil {
			t.Errorf("freed IP not reusable: %v", err)
		}
		// Headless and ExternalName services get no address.
		h, err := c.CoreV1().Services(ns).Create(bg(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "headless"},
			Spec: corev1.ServiceSpec{ClusterIP: corev1.ClusterIPNone, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if h.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("headless clusterIP = %q", h.Spec.ClusterIP)
		}
		en, err := c.CoreV1().Services(ns).Create(bg(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "ext"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if en.Spec.ClusterIP != "" {
			t.Errorf("externalName clusterIP = %q", en.Spec.ClusterIP)
		}
		// The clusterIP is immutable.
		s0, _ := c.CoreV1().Services(ns).Get(bg(), "s0", metav1.GetOptions{})
		s0.Spec.ClusterIP = "10.43.201.1"
		s0.Spec.ClusterIPs = []string{"10.43.201.1"}
		_, err = c.CoreV1().Services(ns).Update(bg(), s0, metav1.UpdateOptions{})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid)
		// A PUT that leaves the address out keeps it.
		s1, _ := c.CoreV1().Services(ns).Get(bg(), "s1", metav1.GetOptions{})
		ip := s1.Spec.ClusterIP
		s1.Spec.ClusterIP, s1.Spec.ClusterIPs = "", nil
		s1.Labels = map[string]string{"x": "y"}
		s1, err = c.CoreV1().Services(ns).Update(bg(), s1, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s1.Spec.ClusterIP != ip {
			t.Errorf("clusterIP after PUT without it = %q, was %q", s1.Spec.ClusterIP, ip)
		}
	})

	t.Run("NodePorts", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		svc, err := c.CoreV1().Services(ns).Create(bg(), nodePortService("np", 80, 443), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ports := map[int32]bool{}
		for _, p := range svc.Spec.Ports {
			if p.NodePort < 30000 || p.NodePort > 32767 || ports[p.NodePort] {
				t.Errorf("node port %d", p.NodePort)
			}
			ports[p.NodePort] = true
		}
		if svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyCluster {
			t.Errorf("externalTrafficPolicy = %q", svc.Spec.ExternalTrafficPolicy)
		}
		// A requested port is honoured; a taken one is 422.
		fixed := nodePortService("fixed", 80)
		fixed.Spec.Ports[0].NodePort = 31555
		if _, err := c.CoreV1().Services(ns).Create(bg(), fixed, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		taken := nodePortService("taken", 80)
		taken.Spec.Ports[0].NodePort = 31555
		_, err = c.CoreV1().Services(ns).Create(bg(), taken, metav1.CreateOptions{})
		st := wantStatus(t, err, 422, metav1.StatusReasonInvalid)
		if st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Field != "spec.ports[0].nodePort" ||
			!strings.Contains(st.Details.Causes[0].Message, "provided port is already allocated") {
			t.Errorf("taken port status = %+v", st)
		}
		out := nodePortService("out", 80)
		out.Spec.Ports[0].NodePort = 40000
		_, err = c.CoreV1().Services(ns).Create(bg(), out, metav1.CreateOptions{})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid)
		// Delete releases; the port is reusable.
		if err := c.CoreV1().Services(ns).Delete(bg(), "fixed", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.CoreV1().Services(ns).Create(bg(), taken, metav1.CreateOptions{}); err != nil {
			t.Errorf("released port not reusable: %v", err)
		}
		// NodePort → ClusterIP frees the ports: the allocated node ports
		// (and the external traffic policy) are dropped, as upstream's
		// service strategy does, when the client left them as they were.
		np, err := c.CoreV1().Services(ns).Patch(bg(), "np", types.MergePatchType, []byte(`{"spec":{"type":"ClusterIP"}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range np.Spec.Ports {
			if p.NodePort != 0 {
				t.Errorf("ClusterIP service kept node port %d", p.NodePort)
			}
		}
		for port := range ports {
			reuse := nodePortService(fmt.Sprintf("reuse-%d", port), 80)
			reuse.Spec.Ports[0].NodePort = port
			if _, err := c.CoreV1().Services(ns).Create(bg(), reuse, metav1.CreateOptions{}); err != nil {
				t.Errorf("port %d not freed by the type change: %v", port, err)
			}
		}
		// ClusterIP → NodePort allocates.
		np, err = c.CoreV1().Services(ns).Patch(bg(), "np", types.MergePatchType, []byte(`{"spec":{"type":"NodePort"}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range np.Spec.Ports {
			if p.NodePort == 0 {
				t.Errorf("NodePort service without node port: %+v", np.Spec.Ports)
			}
		}
		// LoadBalancer gets node ports too.
		lb := nodePortService("lb", 80)
		lb.Spec.Type = corev1.ServiceTypeLoadBalancer
		lbs, err := c.CoreV1().Services(ns).Create(bg(), lb, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if lbs.Spec.Ports[0].NodePort == 0 || lbs.Spec.AllocateLoadBalancerNodePorts == nil || !*lbs.Spec.AllocateLoadBalancerNodePorts {
			t.Errorf("load balancer = %+v", lbs.Spec)
		}
	})

	t.Run("ConcurrentNodePorts", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		const n = 50
		var wg sync.WaitGroup
		results := make([]*corev1.Service, n)
		errs := make([]error, n)
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = c.CoreV1().Services(ns).Create(bg(), nodePortService(fmt.Sprintf("c%d", i), 80), metav1.CreateOptions{})
			}()
		}
		wg.Wait()
		ports := map[int32]string{}
		ips := map[string]string{}
		for i := 0; i < n; i++ {
			if errs[i] != nil {
				t.Fatalf("create %d: %v", i, errs[i])
			}
			svc := results[i]
			p := svc.Spec.Ports[0].NodePort
			if other, dup := ports[p]; dup {
				t.Errorf("node port %d given to %s and %s", p, other, svc.Name)
			}
			ports[p] = svc.Name
			if other, dup := ips[svc.Spec.ClusterIP]; dup {
				t.Errorf("cluster IP %s given to %s and %s", svc.Spec.ClusterIP, other, svc.Name)
			}
			ips[svc.Spec.ClusterIP] = svc.Name
		}
		// What was stored agrees.
		l, err := c.CoreV1().Services(ns).List(bg(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != n {
			t.Errorf("%d services stored", len(l.Items))
		}
		for _, svc := range l.Items {
			if ports[svc.Spec.Ports[0].NodePort] != svc.Name {
				t.Errorf("stored %s has port %d", svc.Name, svc.Spec.Ports[0].NodePort)
			}
		}
		// Deleting all at once frees all: the same ports can be requested
		// again. (The typed client has no DeleteCollection for services.)
		r := rawDo(t, s.Config, "DELETE", "/api/v1/namespaces/"+ns+"/services", "", nil)
		if r.code != 200 {
			t.Fatalf("deletecollection of services: %d %.300s", r.code, r.body)
		}
		i := 0
		for port := range ports {
			if i == 10 {
				break
			}
			i++
			svc := nodePortService(fmt.Sprintf("again%d", i), 80)
			svc.Spec.Ports[0].NodePort = port
			if _, err := c.CoreV1().Services(ns).Create(bg(), svc, metav1.CreateOptions{}); err != nil {
				t.Errorf("port %d after deletecollection: %v", port, err)
			}
		}
	})
}
