package manager

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skiff-sh/skiff/internal/controller"
)

func TestSelectControllers(t *testing.T) {
	tests := []struct {
		spec    []string
		want    []string
		wantErr bool
	}{
		{spec: []string{"*"}, want: KnownControllers()},
		{spec: []string{"*", "-namespace"}, want: without(KnownControllers(), "namespace-controller")},
		{spec: []string{"replicaset"}, want: []string{"replicaset-controller"}},
		{spec: []string{"replicaset-controller", "serviceaccount"}, want: []string{"replicaset-controller", "serviceaccount-controller"}},
		{spec: []string{"*", "-replicaset-controller"}, want: without(KnownControllers(), "replicaset-controller")},
		{spec: []string{"-replicaset"}, want: nil},
		{spec: []string{"nosuch"}, wantErr: true},
		{spec: []string{"*", "-"}, wantErr: true},
	}
	for _, tt := range tests {
		got, err := selectControllers(tt.spec)
		if (err != nil) != tt.wantErr || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("selectControllers(%q) = %v, %v; want %v (error %v)", tt.spec, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestUnknownControllerIsNamed(t *testing.T) {
	_, err := selectControllers([]string{"-nosuch"})
	if err == nil || !strings.Contains(err.Error(), `"nosuch"`) {
		t.Errorf("err = %v", err)
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("a config without a client must be refused")
	}
}

// without is names less one.
func without(names []string, name string) []string {
	var out []string
	for _, n := range names {
		if n != name {
			out = append(out, n)
		}
	}
	return out
}

// Node IPAM is off without --allocate-node-cidrs, as upstream: selected
// or not, it is not run.
func TestNodeIPAMOffByDefault(t *testing.T) {
	client := fake.NewClientset()
	dyn := dynamicfake.NewSimpleDynamicClient(runtime.NewScheme())
	for _, tc := range []struct {
		ipam controller.NodeIPAM
		want []string
	}{
		{want: []string{"replicaset-controller"}},
		{ipam: controller.NodeIPAM{AllocateNodeCIDRs: true, ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.0.0/16")}},
			want: []string{"node-ipam-controller", "replicaset-controller"}},
	} {
		m, err := New(Config{Client: client, Dynamic: dyn, Controllers: []string{"nodeipam", "replicaset"}, NodeIPAM: tc.ipam})
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Enabled(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("allocate %v: enabled %v, want %v", tc.ipam.AllocateNodeCIDRs, got, tc.want)
		}
	}
	bad := controller.NodeIPAM{AllocateNodeCIDRs: true, ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix("10.42.0.0/24")}, NodeCIDRMaskSize: 16}
	if _, err := New(Config{Client: client, Dynamic: dyn, Controllers: []string{"nodeipam"}, NodeIPAM: bad}); err == nil {
		t.Error("a node CIDR mask shorter than the cluster CIDR's must be refused")
	}
}
