package apiserver

import (
	"encoding/json"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The server-side cost of the two LIST paths, per pod: JSON splices the
// stored bytes (withResourceVersion), protobuf decodes each stored pod and
// encodes the list. `skiff bench api` measures them end to end; these
// isolate the server's share. Run with
//
//	go test -run '^$' -bench 'WithResourceVersion|ListPods' -benchmem ./internal/apiserver

// storedBenchPod is a pod as etcd holds it (about 1.4 KB of JSON).
func storedBenchPod(b *testing.B, name string) []byte {
	b.Helper()
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "bench", UID: "6f1c1d52-3b0e-4a57-9a55-1a2b3c4d5e6f",
			CreationTimestamp: metav1.Now(),
			Labels:            map[string]string{"app": "bench-web", "tier": "frontend", "pod-template-hash": "7d9c5b8f4d"},
			Annotations:       map[string]string{"kubectl.kubernetes.io/default-container": "web"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "web", Image: "registry.k8s.io/nginx-slim:0.27",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				Env:   []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: apiresource.MustParse("100m"), corev1.ResourceMemory: apiresource.MustParse("64Mi")},
					Limits:   corev1.ResourceList{corev1.ResourceMemory: apiresource.MustParse("128Mi")},
				},
				TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				ImagePullPolicy: corev1.PullIfNotPresent,
			}},
			RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst, SchedulerName: "default-scheduler",
			SecurityContext: &corev1.PodSecurityContext{}, EnableServiceLinks: new(true), PreemptionPolicy: new(corev1.PreemptLowerPriority),
			Tolerations: []corev1.Toleration{
				{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(300))},
				{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: new(int64(300))},
			},
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending, QOSClass: corev1.PodQOSBurstable},
	}
	data, err := json.Marshal(pod)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkWithResourceVersion(b *testing.B) {
	stored := storedBenchPod(b, "bench-00001")
	b.SetBytes(int64(len(stored)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = withResourceVersion(stored, int64(1000000+i))
	}
}

const benchListSize = 10000

func benchStoredPods(b *testing.B) [][]byte {
	stored := make([][]byte, benchListSize)
	for i := range stored {
		stored[i] = storedBenchPod(b, fmt.Sprintf("bench-%05d", i))
	}
	return stored
}

// BenchmarkListPodsJSON is the server's JSON LIST of 10,000 pods after
// etcd: splice each pod's revision in, then write the list.
func BenchmarkListPodsJSON(b *testing.B) {
	res := newResourceTable(servedResources()).lookup("", "v1", "pods")
	stored := benchStoredPods(b)
	b.ReportAllocs()
	for b.Loop() {
		l := &listResult{meta: metav1.ListMeta{ResourceVersion: "2000000"}}
		for i, s := range stored {
			l.raw = append(l.raw, withResourceVersion(s, int64(1000000+i)))
		}
		if _, err := l.encode(res); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListPodsProtobuf is the server's protobuf LIST of 10,000 pods
// after etcd: decode each stored pod, then encode the list.
func BenchmarkListPodsProtobuf(b *testing.B) {
	res := newResourceTable(servedResources()).lookup("", "v1", "pods")
	wr := newWire()
	stored := benchStoredPods(b)
	b.ReportAllocs()
	for b.Loop() {
		objs := make([]runtime.Object, 0, len(stored))
		for i, s := range stored {
			obj, err := decodeStored(res, s, int64(1000000+i))
			if err != nil {
				b.Fatal(err)
			}
			objs = append(objs, obj)
		}
		list := res.NewList()
		if err := meta.SetList(list, objs); err != nil {
			b.Fatal(err)
		}
		list.GetObjectKind().SetGroupVersionKind(res.GVK.GroupVersion().WithKind(res.ListKind()))
		if _, err := wr.encode(list); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeStoredPod is one stored pod decoded, as every GET, every
// protobuf LIST item and every selective watch event pays.
func BenchmarkDecodeStoredPod(b *testing.B) {
	res := newResourceTable(servedResources()).lookup("", "v1", "pods")
	stored := storedBenchPod(b, "bench-00001")
	b.SetBytes(int64(len(stored)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeStored(res, stored, 42); err != nil {
			b.Fatal(err)
		}
	}
}
