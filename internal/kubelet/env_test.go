package kubelet

import (
	"context"
	"testing"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

type fakeSources struct {
	cms     map[string]*v1.ConfigMap
	secrets map[string]*v1.Secret
}

func (f fakeSources) ConfigMap(_ context.Context, _, name string) (*v1.ConfigMap, error) {
	if cm, ok := f.cms[name]; ok {
		return cm, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmaps"}, name)
}

func (f fakeSources) Secret(_ context.Context, _, name string) (*v1.Secret, error) {
	if s, ok := f.secrets[name]; ok {
		return s, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, name)
}

func TestMakeEnvironment(t *testing.T) {
	src := fakeSources{
		cms:     map[string]*v1.ConfigMap{"cm": {Data: map[string]string{"A": "1", "B": "2", "bad-name": "x"}}},
		secrets: map[string]*v1.Secret{"s": {Data: map[string][]byte{"TOKEN": []byte("t0k")}}},
	}
	pod := podWith(v1.RestartPolicyAlways, "a")
	pod.Labels = map[string]string{"app": "web"}
	pod.Spec.NodeName, pod.Spec.ServiceAccountName = "n1", "default"
	ec := envContext{Pod: pod, PodIPs: []string{"10.42.0.5", "fd00::5"}, HostIPs: []string{"192.0.2.1"},
		Allocatable: v1.ResourceList{v1.ResourceCPU: resourceMust("4"), v1.ResourceMemory: resourceMust("8Gi")}}
	yes := true
	ref := func(f string) *v1.EnvVarSource {
		return &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: f}}
	}
	res := func(r, div string) *v1.EnvVarSource {
		s := &v1.ResourceFieldSelector{Resource: r}
		if div != "" {
			s.Divisor = resourceMust(div)
		}
		return &v1.EnvVarSource{ResourceFieldRef: s}
	}
	cases := []struct {
		name    string
		c       v1.Container
		want    map[string]string
		order   []string
		wantErr string
	}{
		{
			name: "envFrom then env, later wins, $(VAR) expands",
			c: v1.Container{
				EnvFrom: []v1.EnvFromSource{{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "cm"}}},
					{Prefix: "S_", SecretRef: &v1.SecretEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "s"}}}},
				Env: []v1.EnvVar{{Name: "B", Value: "two"}, {Name: "URL", Value: "http://$(HOST):$(A)/$(MISSING)$$"}, {Name: "HOST", Value: "h"}},
			},
			want:  map[string]string{"A": "1", "B": "two", "bad-name": "x", "S_TOKEN": "t0k", "URL": "http://$(HOST):1/$(MISSING)$", "HOST": "h"},
			order: []string{"A", "B", "bad-name", "S_TOKEN", "URL", "HOST"},
		},
		{
			name: "downward API fields",
			c: v1.Container{Env: []v1.EnvVar{
				{Name: "NAME", ValueFrom: ref("metadata.name")}, {Name: "NS", ValueFrom: ref("metadata.namespace")}, {Name: "UID", ValueFrom: ref("metadata.uid")},
				{Name: "APP", ValueFrom: ref("metadata.labels['app']")}, {Name: "NODE", ValueFrom: ref("spec.nodeName")},
				{Name: "SA", ValueFrom: ref("spec.serviceAccountName")}, {Name: "HOSTIP", ValueFrom: ref("status.hostIP")},
				{Name: "IP", ValueFrom: ref("status.podIP")}, {Name: "IPS", ValueFrom: ref("status.podIPs")},
			}},
			want: map[string]string{"NAME": "p", "NS": "ns", "UID": "uid-1", "APP": "web", "NODE": "n1", "SA": "default",
				"HOSTIP": "192.0.2.1", "IP": "10.42.0.5", "IPS": "10.42.0.5,fd00::5"},
		},
		{
			name: "resources, with divisors and the node's allocatable for a missing limit",
			c: v1.Container{
				Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resourceMust("250m")}, Limits: v1.ResourceList{v1.ResourceMemory: resourceMust("100Mi")}},
				Env: []v1.EnvVar{{Name: "CPU_REQ", ValueFrom: res("requests.cpu", "")}, {Name: "CPU_REQ_M", ValueFrom: res("requests.cpu", "1m")},
					{Name: "CPU_LIM", ValueFrom: res("limits.cpu", "")}, {Name: "MEM_LIM", ValueFrom: res("limits.memory", "1Mi")}},
			},
			want: map[string]string{"CPU_REQ": "1", "CPU_REQ_M": "250", "CPU_LIM": "4", "MEM_LIM": "100"},
		},
		{
			name: "keys",
			c: v1.Container{Env: []v1.EnvVar{
				{Name: "A", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "cm"}, Key: "A"}}},
				{Name: "T", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "s"}, Key: "TOKEN"}}},
				{Name: "OPT", ValueFrom: &v1.EnvVarSource{ConfigMapKeyRef: &v1.ConfigMapKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}, Key: "x", Optional: &yes}}},
			}},
			want: map[string]string{"A": "1", "T": "t0k"},
		},
		{
			name:    "missing configmap",
			c:       v1.Container{EnvFrom: []v1.EnvFromSource{{ConfigMapRef: &v1.ConfigMapEnvSource{LocalObjectReference: v1.LocalObjectReference{Name: "nope"}}}}},
			wantErr: `configmap "nope" not found`,
		},
		{
			name:    "missing secret key",
			c:       v1.Container{Env: []v1.EnvVar{{Name: "X", ValueFrom: &v1.EnvVarSource{SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "s"}, Key: "nokey"}}}}},
			wantErr: "couldn't find key nokey in Secret ns/s",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, err := makeEnvironment(context.Background(), ec, &tc.c, src)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			var order []string
			for _, kv := range env {
				got[kv.Key] = string(kv.Value)
				order = append(order, kv.Key)
			}
			if len(got) != len(tc.want) {
				t.Errorf("env = %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			if tc.order != nil && len(order) == len(tc.order) {
				for i := range order {
					if order[i] != tc.order[i] {
						t.Errorf("order %v, want %v", order, tc.order)
						break
					}
				}
			}
		})
	}
}
