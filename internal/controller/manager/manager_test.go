package manager

import (
	"reflect"
	"strings"
	"testing"
)

func TestSelectControllers(t *testing.T) {
	tests := []struct {
		spec    []string
		want    []string
		wantErr bool
	}{
		{spec: []string{"*"}, want: KnownControllers()},
		{spec: []string{"*", "-namespace", "-endpoint", "-endpointslice", "-garbagecollector", "-podgc", "-nodelifecycle", "-daemonset", "-horizontalpodautoscaling"}, want: []string{"replicaset-controller", "serviceaccount-controller"}},
		{spec: []string{"replicaset"}, want: []string{"replicaset-controller"}},
		{spec: []string{"replicaset-controller", "serviceaccount"}, want: []string{"replicaset-controller", "serviceaccount-controller"}},
		{spec: []string{"*", "-replicaset-controller"}, want: []string{"daemonset-controller", "endpoints-controller", "endpointslice-controller", "garbage-collector-controller", "horizontal-pod-autoscaler-controller", "namespace-controller", "node-lifecycle-controller", "pod-garbage-collector-controller", "serviceaccount-controller"}},
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
