package apiserver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// upstreamNetpolExample is the test-network-policy example of upstream's
// Network Policies page.
const upstreamNetpolExample = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: test-network-policy
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
  - Ingress
  - Egress
  ingress:
  - from:
    - ipBlock:
        cidr: 172.17.0.0/16
        except:
        - 172.17.1.0/24
    - namespaceSelector:
        matchLabels:
          project: myproject
    - podSelector:
        matchLabels:
          role: frontend
    ports:
    - protocol: TCP
      port: 6379
  egress:
  - to:
    - ipBlock:
        cidr: 10.0.0.0/24
    ports:
    - protocol: TCP
      port: 5978
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
spec:
  podSelector: {}
  policyTypes:
  - Ingress
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: multi-port-egress
spec:
  podSelector:
    matchLabels:
      role: db
  policyTypes:
    - Egress
  egress:
    - to:
        - ipBlock:
            cidr: 10.0.0.0/24
      ports:
        - protocol: TCP
          port: 32000
          endPort: 32768
`

// TestNetworkPolicyAPI serves networking.k8s.io/v1 NetworkPolicies:
// CRUD and watch, upstream's defaults and validation (422 with field
// paths), and the real kubectl's apply, get (NAME POD-SELECTOR AGE) and
// describe.
func TestNetworkPolicyAPI(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	c := s.Client(t)
	ctx := context.Background()
	ns := newNamespace(t, c)
	api := c.NetworkingV1().NetworkPolicies(ns)

	w, err := api.Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	port := intstr.FromInt32(80)
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				Ports: []networkingv1.NetworkPolicyPort{{Port: &port}},
				From:  []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"role": "frontend"}}}},
			}},
			Egress: []networkingv1.NetworkPolicyEgressRule{{}},
		},
	}
	got, err := api.Create(ctx, np, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p := got.Spec.Ingress[0].Ports[0].Protocol; p == nil || *p != corev1.ProtocolTCP {
		t.Errorf("protocol = %v, want TCP by default", p)
	}
	if pt := got.Spec.PolicyTypes; len(pt) != 2 || pt[0] != networkingv1.PolicyTypeIngress || pt[1] != networkingv1.PolicyTypeEgress {
		t.Errorf("policyTypes = %v, want [Ingress Egress] (there are egress rules)", pt)
	}
	if got.Generation != 1 {
		t.Errorf("generation = %d, want 1", got.Generation)
	}
	if _, err := api.Get(ctx, "web", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := api.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v, %d items", err, len(list.Items))
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Added || ev.Object.(*networkingv1.NetworkPolicy).Name != "web" {
			t.Errorf("watch event %s %v, want ADDED web", ev.Type, ev.Object)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no watch event")
	}

	end := int32(70)
	named := intstr.FromString("http")
	sctp, bad := corev1.ProtocolSCTP, corev1.Protocol("ICMP")
	invalid := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "bad"},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"app": "-no-"}},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{
				Ports: []networkingv1.NetworkPolicyPort{{Port: &port, EndPort: &end}, {Port: &named, EndPort: &end, Protocol: &sctp}, {Protocol: &bad}},
				From: []networkingv1.NetworkPolicyPeer{{}, {
					IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16", Except: []string{"10.1.0.0/24"}}}},
			}},
			PolicyTypes: []networkingv1.PolicyType{"Both"},
		},
	}
	_, err = api.Create(ctx, invalid, metav1.CreateOptions{})
	st := wantStatus(t, err, 422, metav1.StatusReasonInvalid)
	var fields []string
	for _, cause := range st.Details.Causes {
		fields = append(fields, cause.Field)
	}
	for _, want := range []string{
		"spec.podSelector.matchLabels", "spec.ingress[0].ports[0].endPort", "spec.ingress[0].ports[1].endPort",
		"spec.ingress[0].ports[2].protocol", "spec.ingress[0].from[0]", "spec.ingress[0].from[1].ipBlock.except[0]", "spec.policyTypes[0]",
	} {
		if !strings.Contains(strings.Join(fields, " ")+" ", want+" ") {
			t.Errorf("no cause for %s in %v (%s)", want, fields, st.Message)
		}
	}

	// Table output, as kubectl asks for it.
	var table metav1.Table
	err = c.NetworkingV1().RESTClient().Get().Namespace(ns).Resource("networkpolicies").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").Do(ctx).Into(&table)
	if err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, col := range table.ColumnDefinitions {
		cols = append(cols, col.Name)
	}
	if strings.Join(cols, ",") != "Name,Pod-Selector,Age" || len(table.Rows) != 1 || table.Rows[0].Cells[1] != "app=web" {
		t.Errorf("table columns %v rows %v", cols, table.Rows)
	}

	if err := api.Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}

	bins := kubectls(t)
	k := kubectlRunner{bin: bins["default"], kubeconfig: s.Kubeconfig, home: t.TempDir()}
	if k.bin == "" {
		t.Skip("no /usr/bin/kubectl")
	}
	k.ok(t, upstreamNetpolExample, "apply", "-n", ns, "-f", "-")
	out := k.ok(t, "", "get", "netpol", "-n", ns)
	for _, want := range []string{"NAME", "POD-SELECTOR", "AGE", "default-deny-ingress   <none>", "test-network-policy    role=db"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl get netpol: no %q in\n%s", want, out)
		}
	}
	out = k.ok(t, "", "describe", "netpol", "-n", ns, "test-network-policy")
	for _, want := range []string{"PodSelector:     role=db", "To Port: 6379/TCP", "IPBlock:", "CIDR: 172.17.0.0/16", "Except: 172.17.1.0/24", "NamespaceSelector: project=myproject", "Policy Types: Ingress, Egress"} {
		if !strings.Contains(out, want) {
			t.Errorf("kubectl describe netpol: no %q in\n%s", want, out)
		}
	}
	// Applying again is a no-op.
	if out := k.ok(t, upstreamNetpolExample, "apply", "-n", ns, "-f", "-"); !strings.Contains(out, "unchanged") {
		t.Errorf("second apply:\n%s", out)
	}
}
