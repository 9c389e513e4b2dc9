package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func validNode() *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{"kubernetes.io/hostname": "node-1"}},
		Spec: corev1.NodeSpec{
			PodCIDR:  "10.244.1.0/24",
			PodCIDRs: []string{"10.244.1.0/24"},
			Taints:   []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}},
		},
		Status: corev1.NodeStatus{
			Capacity:    corev1.ResourceList{corev1.ResourceCPU: q("4"), corev1.ResourceMemory: q("8Gi"), corev1.ResourcePods: q("110")},
			Allocatable: corev1.ResourceList{corev1.ResourceCPU: q("3800m"), corev1.ResourceMemory: q("7Gi"), corev1.ResourcePods: q("110")},
			Addresses:   []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "192.168.1.10"}},
		},
	}
}

func TestValidateNode(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(n *corev1.Node)
		want   []string
	}{
		{"valid", func(*corev1.Node) {}, nil},
		{"bad name", func(n *corev1.Node) { n.Name = "Node_1" }, []string{invalid + "metadata.name"}},
		{"namespace set", func(n *corev1.Node) { n.Namespace = "default" }, []string{forbidden + "metadata.namespace"}},
		{"bad podCIDR", func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.1.0", []string{"10.244.1.0"} }, []string{invalid + "spec.podCIDRs[0]"}},
		{"only singular podCIDR", func(n *corev1.Node) { n.Spec.PodCIDRs = nil }, nil},
		{"dual stack podCIDRs", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/24", "fd00:1::/64"} }, nil},
		{"two IPv4 podCIDRs", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/24", "10.244.2.0/24"} }, []string{invalid + "spec.podCIDRs"}},
		{"duplicate podCIDRs", func(n *corev1.Node) { n.Spec.PodCIDRs = []string{"10.244.1.0/24", "10.244.1.0/24"} }, []string{invalid + "spec.podCIDRs", duplicate + "spec.podCIDRs[1]"}},
		{"duplicate taints", func(n *corev1.Node) { n.Spec.Taints = append(n.Spec.Taints, n.Spec.Taints[0]) }, []string{duplicate + "spec.taints[1]"}},
		{"same key different effect", func(n *corev1.Node) {
			n.Spec.Taints = append(n.Spec.Taints, corev1.Taint{Key: n.Spec.Taints[0].Key, Effect: corev1.TaintEffectNoExecute})
		}, nil},
		{"bad taint effect", func(n *corev1.Node) { n.Spec.Taints[0].Effect = "Maybe" }, []string{notSupported + "spec.taints[0].effect"}},
		{"missing taint effect", func(n *corev1.Node) { n.Spec.Taints[0].Effect = "" }, []string{required + "spec.taints[0].effect"}},
		{"bad taint key", func(n *corev1.Node) { n.Spec.Taints[0].Key = "bad key" }, []string{invalid + "spec.taints[0].key"}},
		{"bad taint value", func(n *corev1.Node) { n.Spec.Taints[0].Value = "bad value" }, []string{invalid + "spec.taints[0].value"}},
		{"negative capacity", func(n *corev1.Node) { n.Status.Capacity[corev1.ResourceCPU] = q("-1") }, []string{invalid + "status.capacity.cpu"}},
		{"fractional pods", func(n *corev1.Node) { n.Status.Allocatable[corev1.ResourcePods] = q("1.5") }, []string{invalid + "status.allocatable.pods"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := validNode()
			tc.mutate(n)
			expectErrors(t, ValidateNode(n), tc.want...)
		})
	}
}

func TestValidateNodeUpdate(t *testing.T) {
	old := validNode()
	old.ObjectMeta = withRV(old.ObjectMeta)
	old.Spec.ProviderID = "kind://node-1"
	tests := []struct {
		name   string
		old    func(n *corev1.Node)
		mutate func(n *corev1.Node)
		want   []string
	}{
		{"unchanged", nil, func(*corev1.Node) {}, nil},
		{"taints and unschedulable", nil, func(n *corev1.Node) { n.Spec.Taints = nil; n.Spec.Unschedulable = true }, nil},
		{"podCIDR change", nil, func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "10.244.2.0/24", []string{"10.244.2.0/24"} }, []string{forbidden + "spec.podCIDRs"}},
		{"podCIDR first assignment", func(n *corev1.Node) { n.Spec.PodCIDR, n.Spec.PodCIDRs = "", nil }, func(*corev1.Node) {}, nil},
		{"providerID change", nil, func(n *corev1.Node) { n.Spec.ProviderID = "kind://other" }, []string{forbidden + "spec.providerID"}},
		{"duplicate addresses", nil, func(n *corev1.Node) { n.Status.Addresses = append(n.Status.Addresses, n.Status.Addresses[0]) }, []string{duplicate + "status.addresses[1]"}},
		{"bad taint", nil, func(n *corev1.Node) { n.Spec.Taints[0].Effect = "Maybe" }, []string{notSupported + "spec.taints[0].effect"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := old.DeepCopy()
			if tc.old != nil {
				tc.old(o)
			}
			n := old.DeepCopy()
			tc.mutate(n)
			expectErrors(t, ValidateNodeUpdate(n, o), tc.want...)
		})
	}
	n := old.DeepCopy()
	n.Status.Capacity[corev1.ResourceMemory] = q("16Gi")
	expectErrors(t, ValidateNodeStatusUpdate(n, old))
	n.Status.Capacity[corev1.ResourceMemory] = q("-1")
	expectErrors(t, ValidateNodeStatusUpdate(n, old), invalid+"status.capacity.memory")
}

func TestValidateNamespace(t *testing.T) {
	tests := []struct {
		name string
		ns   corev1.Namespace
		want []string
	}{
		{"valid", corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}}, nil},
		{"dotted name", corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team.a"}}, []string{invalid + "metadata.name"}},
		{"too long name", corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("a", 64)}}, []string{invalid + "metadata.name"}},
		{"namespace set", corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "b"}}, []string{forbidden + "metadata.namespace"}},
		{"nonstandard finalizer", corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"foo"}}}, []string{invalid + "spec.finalizers"}},
		{"qualified finalizer", corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"example.com/x"}}}, nil},
		{"bad finalizer", corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"a/b/c"}}}, []string{invalid + "spec.finalizers"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectErrors(t, ValidateNamespace(&tc.ns), tc.want...)
		})
	}

	old := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", ResourceVersion: "1"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	upd := old.DeepCopy()
	upd.Labels = map[string]string{"team": "x"}
	expectErrors(t, ValidateNamespaceUpdate(upd, old))
	upd.Name = "b"
	expectErrors(t, ValidateNamespaceUpdate(upd, old), invalid+"metadata.name")

	st := old.DeepCopy()
	st.Status.Phase = corev1.NamespaceTerminating
	expectErrors(t, ValidateNamespaceStatusUpdate(st, old), invalid+"status.phase")
	now := metav1.Now()
	deleting := old.DeepCopy()
	deleting.DeletionTimestamp = &now
	st = deleting.DeepCopy()
	st.Status.Phase = corev1.NamespaceTerminating
	expectErrors(t, ValidateNamespaceStatusUpdate(st, deleting))

	fin := old.DeepCopy()
	fin.Spec.Finalizers = []corev1.FinalizerName{"foo"}
	expectErrors(t, ValidateNamespaceFinalizeUpdate(fin, old), invalid+"spec.finalizers[0]")
}
