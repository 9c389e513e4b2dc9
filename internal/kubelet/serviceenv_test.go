package kubelet

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestServiceEnvVars(t *testing.T) {
	svc := func(ns, name, ip string, ports ...v1.ServicePort) *v1.Service {
		return &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1.ServiceSpec{ClusterIP: ip, Ports: ports}}
	}
	services := []*v1.Service{
		svc("default", "kubernetes", "10.43.0.1", v1.ServicePort{Name: "https", Port: 443, Protocol: v1.ProtocolTCP}),
		svc("app", "my-db", "10.43.0.7", v1.ServicePort{Port: 5432}, v1.ServicePort{Name: "metrics", Port: 9187, Protocol: v1.ProtocolUDP}),
		svc("app", "headless", v1.ClusterIPNone, v1.ServicePort{Port: 80}),
		svc("other", "elsewhere", "10.43.0.9", v1.ServicePort{Port: 80}),
	}
	kube := map[string]string{
		"KUBERNETES_SERVICE_HOST":       "10.43.0.1",
		"KUBERNETES_SERVICE_PORT":       "443",
		"KUBERNETES_SERVICE_PORT_HTTPS": "443",
		"KUBERNETES_PORT":               "tcp://10.43.0.1:443",
		"KUBERNETES_PORT_443_TCP":       "tcp://10.43.0.1:443",
		"KUBERNETES_PORT_443_TCP_PROTO": "tcp",
		"KUBERNETES_PORT_443_TCP_PORT":  "443",
		"KUBERNETES_PORT_443_TCP_ADDR":  "10.43.0.1",
	}
	withDB := map[string]string{
		"MY_DB_SERVICE_HOST":         "10.43.0.7",
		"MY_DB_SERVICE_PORT":         "5432",
		"MY_DB_SERVICE_PORT_METRICS": "9187",
		"MY_DB_PORT":                 "tcp://10.43.0.7:5432",
		"MY_DB_PORT_5432_TCP":        "tcp://10.43.0.7:5432",
		"MY_DB_PORT_5432_TCP_PROTO":  "tcp",
		"MY_DB_PORT_5432_TCP_PORT":   "5432",
		"MY_DB_PORT_5432_TCP_ADDR":   "10.43.0.7",
		"MY_DB_PORT_9187_UDP":        "udp://10.43.0.7:9187",
		"MY_DB_PORT_9187_UDP_PROTO":  "udp",
		"MY_DB_PORT_9187_UDP_PORT":   "9187",
		"MY_DB_PORT_9187_UDP_ADDR":   "10.43.0.7",
	}
	for k, v := range kube {
		withDB[k] = v
	}
	tests := []struct {
		name  string
		ns    string
		links bool
		want  map[string]string
	}{
		{"the namespace's services and kubernetes", "app", true, withDB},
		{"enableServiceLinks false: only kubernetes", "app", false, kube},
		{"a namespace without services", "empty", true, kube},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, serviceEnvVars(services, tt.ns, tt.links)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMakeEnvironmentWithServiceEnv(t *testing.T) {
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	ec := envContext{Pod: pod, ServiceEnv: map[string]string{"KUBERNETES_SERVICE_HOST": "10.43.0.1", "KUBERNETES_SERVICE_PORT": "443"}}
	c := &v1.Container{Env: []v1.EnvVar{
		{Name: "API", Value: "https://$(KUBERNETES_SERVICE_HOST):$(KUBERNETES_SERVICE_PORT)"},
		{Name: "KUBERNETES_SERVICE_PORT", Value: "8443"},
	}}
	env, err := makeEnvironment(context.Background(), ec, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, kv := range env {
		got = append(got, kv.Key+"="+string(kv.Value))
	}
	want := []string{"API=https://10.43.0.1:443", "KUBERNETES_SERVICE_PORT=8443", "KUBERNETES_SERVICE_HOST=10.43.0.1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("env = %v, want %v", got, want)
	}
}
