package kubelet

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// files renders a payload as "path mode data" lines, sorted.
func renderFiles(files map[string]fileProjection) string {
	var lines []string
	for p, f := range files {
		lines = append(lines, fmt.Sprintf("%s %o %s", p, f.Mode, f.Data))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func TestVolumeFiles(t *testing.T) {
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web", Namespace: "ns", UID: "uid-1",
			Labels:      map[string]string{"app": "web", "tier": `a"b`},
			Annotations: map[string]string{"note": "hi"},
		},
		Spec: v1.PodSpec{Containers: []v1.Container{{
			Name: "app",
			Resources: v1.ResourceRequirements{
				Limits:   v1.ResourceList{v1.ResourceMemory: resource.MustParse("64Mi")},
				Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse("250m")},
			},
		}}},
	}
	objs := volumeObjects{
		ConfigMaps: map[string]*v1.ConfigMap{"cfg": {
			Data:       map[string]string{"a": "1", "b": "2"},
			BinaryData: map[string][]byte{"bin": {0, 1}},
		}},
		Secrets:     map[string]*v1.Secret{"creds": {Data: map[string][]byte{"user": []byte("u"), "pass": []byte("p")}}},
		Errs:        map[string]error{"configmap/broken": fmt.Errorf("etcd is sad")},
		Allocatable: v1.ResourceList{v1.ResourceCPU: resource.MustParse("4"), v1.ResourceMemory: resource.MustParse("8Gi")},
	}
	mode := func(m int32) *int32 { return &m }
	tests := []struct {
		name    string
		vol     v1.VolumeSource
		want    string
		wantErr string
		notes   int
	}{
		{
			name: "configMap: every key, data and binaryData, defaultMode",
			vol:  v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, DefaultMode: mode(0o600)}},
			want: "a 600 1\nb 600 2\nbin 600 \x00\x01",
		},
		{
			name: "configMap items: path and mode of their own",
			vol: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"},
				Items: []v1.KeyToPath{{Key: "a", Path: "dir/first"}, {Key: "b", Path: "second", Mode: mode(0o400)}}}},
			want: "dir/first 644 1\nsecond 400 2",
		},
		{
			name: "configMap item with a missing key",
			vol: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"},
				Items: []v1.KeyToPath{{Key: "nope", Path: "x"}}}},
			wantErr: "configmap references non-existent config key: nope",
		},
		{
			name: "optional configMap item with a missing key is skipped",
			vol: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Optional: ptr.To(true),
				Items: []v1.KeyToPath{{Key: "nope", Path: "x"}, {Key: "a", Path: "y"}}}},
			want: "y 644 1",
		},
		{
			name:    "missing configMap",
			vol:     v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "missing"}}},
			wantErr: `configmap "missing" not found`,
		},
		{
			name: "missing optional configMap: an empty volume",
			vol:  v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "missing"}, Optional: ptr.To(true)}},
			want: "",
		},
		{
			name:    "configMap the API server could not give",
			vol:     v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "broken"}, Optional: ptr.To(true)}},
			wantErr: "etcd is sad",
		},
		{
			name: "secret: every key",
			vol:  v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "creds"}},
			want: "pass 644 p\nuser 644 u",
		},
		{
			name:    "secret item with a missing key",
			vol:     v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "creds", Items: []v1.KeyToPath{{Key: "token", Path: "t"}}}},
			wantErr: "references non-existent secret key: token",
		},
		{
			name:    "missing secret",
			vol:     v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "gone"}},
			wantErr: `secret "gone" not found`,
		},
		{
			name: "downwardAPI: fields, maps, one label, resources",
			vol: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{
				{Path: "name", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}},
				{Path: "ns", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.namespace"}},
				{Path: "uid", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.uid"}},
				{Path: "labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
				{Path: "app", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}},
				{Path: "note", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.annotations['note']"}, Mode: mode(0o400)},
				{Path: "mem", ResourceFieldRef: &v1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
				{Path: "cpu", ResourceFieldRef: &v1.ResourceFieldSelector{ContainerName: "app", Resource: "limits.cpu"}},
				{Path: "cpureq", ResourceFieldRef: &v1.ResourceFieldSelector{ContainerName: "app", Resource: "requests.cpu", Divisor: resource.MustParse("1m")}},
			}}},
			want: "app 644 web\ncpu 644 4\ncpureq 644 250\nlabels 644 app=\"web\"\ntier=\"a\\\"b\"\nmem 644 64\nname 644 web\nnote 400 hi\nns 644 ns\nuid 644 uid-1",
		},
		{
			name: "downwardAPI: an unsupported field and an unknown container",
			vol: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{
				{Path: "ip", FieldRef: &v1.ObjectFieldSelector{FieldPath: "status.podIP"}},
				{Path: "mem", ResourceFieldRef: &v1.ResourceFieldSelector{ContainerName: "ghost", Resource: "limits.memory"}},
			}}},
			wantErr: "[unsupported fieldPath: status.podIP, container ghost not found]",
		},
		{
			name: "projected: sources merged in order, a token source skipped",
			vol: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{DefaultMode: mode(0o440), Sources: []v1.VolumeProjection{
				{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "cfg"}, Items: []v1.KeyToPath{{Key: "a", Path: "same"}}}},
				{Secret: &v1.SecretProjection{LocalObjectReference: v1.LocalObjectReference{Name: "creds"}, Items: []v1.KeyToPath{{Key: "user", Path: "same"}}}},
				{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{{Path: "podname", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}}}},
				{ServiceAccountToken: &v1.ServiceAccountTokenProjection{Path: "token"}},
				{Secret: &v1.SecretProjection{LocalObjectReference: v1.LocalObjectReference{Name: "gone"}, Optional: ptr.To(true)}},
			}}},
			want:  "podname 440 web\nsame 440 u",
			notes: 1,
		},
		{
			name: "projected: every source's error",
			vol: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{
				{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "missing"}}},
				{Secret: &v1.SecretProjection{LocalObjectReference: v1.LocalObjectReference{Name: "gone"}}},
			}}},
			wantErr: `[configmap "missing" not found, secret "gone" not found]`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vol := &v1.Volume{Name: "v", VolumeSource: tt.vol}
			files, notes, err := volumeFiles(pod, vol, objs)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := renderFiles(files); got != tt.want {
				t.Errorf("files:\n%s\nwant:\n%s", got, tt.want)
			}
			if len(notes) != tt.notes {
				t.Errorf("notes = %v", notes)
			}
		})
	}
}

func TestTmpfsSize(t *testing.T) {
	alloc := v1.ResourceList{v1.ResourceMemory: resource.MustParse("1Gi")}
	limited := func(mem string) v1.Container {
		return v1.Container{Name: "c" + mem, Resources: v1.ResourceRequirements{Limits: v1.ResourceList{v1.ResourceMemory: resource.MustParse(mem)}}}
	}
	q := resource.MustParse
	tests := []struct {
		name       string
		containers []v1.Container
		sizeLimit  *resource.Quantity
		alloc      v1.ResourceList
		want       int64
	}{
		{name: "node allocatable", containers: []v1.Container{{Name: "a"}}, alloc: alloc, want: 1 << 30},
		{name: "pod limit below allocatable", containers: []v1.Container{limited("100Mi"), limited("28Mi")}, alloc: alloc, want: 128 << 20},
		{name: "one container without a limit: no pod limit", containers: []v1.Container{limited("100Mi"), {Name: "b"}}, alloc: alloc, want: 1 << 30},
		{name: "sizeLimit below the pod limit", containers: []v1.Container{limited("100Mi")}, sizeLimit: ptr.To(q("10Mi")), alloc: alloc, want: 10 << 20},
		{name: "sizeLimit above allocatable is ignored", containers: []v1.Container{{Name: "a"}}, sizeLimit: ptr.To(q("2Gi")), alloc: alloc, want: 1 << 30},
		{name: "nothing known: the kernel's default", containers: []v1.Container{{Name: "a"}}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &v1.Pod{Spec: v1.PodSpec{Containers: tt.containers}}
			vol := &v1.Volume{Name: "m", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory, SizeLimit: tt.sizeLimit}}}
			if got := tmpfsSize(pod, vol, tt.alloc); got != tt.want {
				t.Errorf("tmpfsSize = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestVolumeDirAndKind(t *testing.T) {
	tests := []struct {
		src    v1.VolumeSource
		dir    string
		memory bool
	}{
		{v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}, "/p/volumes/kubernetes.io~empty-dir/v", false},
		{v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory}}, "/p/volumes/kubernetes.io~empty-dir/v", true},
		{v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{}}, "/p/volumes/kubernetes.io~configmap/v", false},
		{v1.VolumeSource{Secret: &v1.SecretVolumeSource{}}, "/p/volumes/kubernetes.io~secret/v", true},
		{v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{}}, "/p/volumes/kubernetes.io~downward-api/v", false},
		{v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{}}, "/p/volumes/kubernetes.io~projected/v", true},
		{v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/srv/data"}}, "/srv/data", false},
	}
	for _, tt := range tests {
		vol := &v1.Volume{Name: "v", VolumeSource: tt.src}
		if got := volumeDir("/p", vol); got != tt.dir {
			t.Errorf("volumeDir = %s, want %s", got, tt.dir)
		}
		if got := memoryBacked(vol); got != tt.memory {
			t.Errorf("%s: memoryBacked = %v", tt.dir, got)
		}
	}
}
