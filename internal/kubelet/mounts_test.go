package kubelet

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestPlanMounts(t *testing.T) {
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u1"},
		Spec: v1.PodSpec{Volumes: []v1.Volume{
			{Name: "cfg", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{}}},
			{Name: "data", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
			{Name: "host", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/srv"}}},
			{Name: "pvc", VolumeSource: v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "x"}}},
		}},
	}
	env := []*runtimeapi.KeyValue{{Key: "POD", Value: []byte("web")}, {Key: "EMPTY", Value: nil}}
	prop := func(m v1.MountPropagationMode) *v1.MountPropagationMode { return &m }
	type row struct {
		host, container, sub string
		ro                   bool
		prop                 runtimeapi.MountPropagation
	}
	tests := []struct {
		name    string
		mounts  []v1.VolumeMount
		want    []row
		hosts   bool
		wantErr string
	}{
		{
			name: "volumes, read-only forced for configMap, propagation",
			mounts: []v1.VolumeMount{
				{Name: "cfg", MountPath: "/etc/app"},
				{Name: "data", MountPath: "/data", MountPropagation: prop(v1.MountPropagationHostToContainer)},
				{Name: "host", MountPath: "/host", ReadOnly: true, MountPropagation: prop(v1.MountPropagationBidirectional)},
			},
			want: []row{
				{host: "/pods/u1/volumes/kubernetes.io~configmap/cfg", container: "/etc/app", ro: true},
				{host: "/pods/u1/volumes/kubernetes.io~empty-dir/data", container: "/data", prop: runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER},
				{host: "/srv", container: "/host", ro: true, prop: runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL},
			},
			hosts: true,
		},
		{
			name:   "subPath and subPathExpr",
			mounts: []v1.VolumeMount{{Name: "data", MountPath: "/a", SubPath: "x/y"}, {Name: "data", MountPath: "/b", SubPathExpr: "logs/$(POD)"}},
			want: []row{
				{host: "/pods/u1/volumes/kubernetes.io~empty-dir/data", container: "/a", sub: "x/y"},
				{host: "/pods/u1/volumes/kubernetes.io~empty-dir/data", container: "/b", sub: "logs/web"},
			},
			hosts: true,
		},
		{
			name:   "a container that mounts its own /etc/hosts",
			mounts: []v1.VolumeMount{{Name: "data", MountPath: "/etc/hosts", SubPath: "hosts"}},
			want:   []row{{host: "/pods/u1/volumes/kubernetes.io~empty-dir/data", container: "/etc/hosts", sub: "hosts"}},
		},
		{name: "unknown volume", mounts: []v1.VolumeMount{{Name: "nope", MountPath: "/x"}}, wantErr: `cannot find volume "nope" to mount into container "app"`},
		{name: "unsupported volume type", mounts: []v1.VolumeMount{{Name: "pvc", MountPath: "/x"}}, wantErr: `cannot find volume "pvc" to mount into container "app"`},
		{name: "subPathExpr with undefined vars", mounts: []v1.VolumeMount{{Name: "data", MountPath: "/x", SubPathExpr: "$(NOPE)/$(EMPTY)/$(POD)"}}, wantErr: "missing value for EMPTY, NOPE"},
		{name: "absolute subPath", mounts: []v1.VolumeMount{{Name: "data", MountPath: "/x", SubPath: "/etc"}}, wantErr: "error SubPath `/etc` must not be an absolute path"},
		{name: "subPath climbing out", mounts: []v1.VolumeMount{{Name: "data", MountPath: "/x", SubPath: "a/../../b"}}, wantErr: "unable to provision SubPath `a/../../b`: must not contain '..'"},
		{name: "bad propagation", mounts: []v1.VolumeMount{{Name: "data", MountPath: "/x", MountPropagation: prop("Sideways")}}, wantErr: `invalid MountPropagation mode: "Sideways"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &v1.Container{Name: "app", VolumeMounts: tt.mounts}
			got, hosts, err := planMounts(pod, c, "/pods/u1", env)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var rows []row
			for _, m := range got {
				rows = append(rows, row{host: m.Mount.HostPath, container: m.Mount.ContainerPath, sub: m.SubPath, ro: m.Mount.Readonly, prop: m.Mount.Propagation})
			}
			if diff := cmp.Diff(tt.want, rows, cmp.AllowUnexported(row{})); diff != "" {
				t.Errorf("mounts (-want +got):\n%s", diff)
			}
			if hosts != tt.hosts {
				t.Errorf("mount /etc/hosts = %v", hosts)
			}
		})
	}
}

func TestHostsFiles(t *testing.T) {
	aliases := []v1.HostAlias{{IP: "10.0.0.9", Hostnames: []string{"db", "db.local"}}}
	got := string(managedHostsFile([]string{"10.42.0.5"}, "web-0", "web.ns.svc.cluster.local", aliases))
	want := "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n" +
		"10.42.0.5\tweb-0.web.ns.svc.cluster.local\tweb-0\n\n# Entries added by HostAliases.\n10.0.0.9\tdb\tdb.local\n"
	if got != want {
		t.Errorf("managed hosts:\n%q\nwant\n%q", got, want)
	}
	if got := string(managedHostsFile([]string{"10.42.0.5"}, "web", "", nil)); !strings.HasSuffix(got, "fe00::2\tip6-allrouters\n10.42.0.5\tweb\n") {
		t.Errorf("without a domain: %q", got)
	}
	if got := string(hostNetworkHostsFile([]byte("127.0.0.1 localhost\n"), nil)); got != "# Kubernetes-managed hosts file (host network).\n127.0.0.1 localhost\n" {
		t.Errorf("host network: %q", got)
	}
	pod := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("a", 62) + "-b", Namespace: "ns"}, Spec: v1.PodSpec{Subdomain: "web"}}
	if h, d := podHostnameAndDomain(pod, "cluster.local"); h != strings.Repeat("a", 62) || d != "web.ns.svc.cluster.local" {
		t.Errorf("hostname %q domain %q", h, d)
	}
}

func TestKeyringLookup(t *testing.T) {
	auth := func(u, p string) string { return base64.StdEncoding.EncodeToString([]byte(u + ":" + p)) }
	cfgJSON := fmt.Sprintf(`{"auths":{
		"https://index.docker.io/v1/":{"auth":%q},
		"registry.example:5000":{"username":"port","password":"p"},
		"registry.example":{"username":"host","password":"p"},
		"registry.example/team":{"username":"team","password":"p"},
		"*.corp.example":{"username":"glob","password":"p"},
		"http://plain.example/v2/":{"username":"v2","password":"p"}
	}}`, auth("hub", "secret"))
	secrets := []*v1.Secret{
		{ObjectMeta: metav1.ObjectMeta{Name: "json"}, Type: v1.SecretTypeDockerConfigJson, Data: map[string][]byte{v1.DockerConfigJsonKey: []byte(cfgJSON)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "cfg"}, Type: v1.SecretTypeDockercfg, Data: map[string][]byte{v1.DockerConfigKey: []byte(`{"registry.example":{"username":"legacy","password":"p"}}`)}},
		{ObjectMeta: metav1.ObjectMeta{Name: "opaque"}, Type: v1.SecretTypeOpaque, Data: map[string][]byte{v1.DockerConfigJsonKey: []byte(`{"auths":{"registry.example":{"username":"no"}}}`)}},
	}
	ring, errs := makeKeyring(secrets)
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	tests := []struct {
		image string
		want  []string
	}{
		{"nginx", []string{"hub"}},
		{"library/nginx:1.27", []string{"hub"}},
		{"docker.io/me/app", []string{"hub"}},
		{"index.docker.io/me/app", []string{"hub"}},
		{"registry.example/team/app:v1", []string{"team", "host", "legacy"}},
		{"registry.example/other/app", []string{"host", "legacy"}},
		{"registry.example:5000/app", []string{"port"}},
		{"registry.example:5001/app", nil},
		{"eu.corp.example/app", []string{"glob"}},
		{"a.b.corp.example/app", nil},
		{"plain.example/x", []string{"v2"}},
		{"quay.io/app", nil},
	}
	for _, tt := range tests {
		repo, err := imageRepository(tt.image)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range ring.lookup(repo) {
			got = append(got, c.Username)
		}
		if !cmp.Equal(got, tt.want) {
			t.Errorf("%s (%s): %v, want %v", tt.image, repo, got, tt.want)
		}
	}
	if c := ring.lookup("docker.io/library/nginx"); len(c) != 1 || c[0].Password != "secret" {
		t.Errorf("auth field not decoded: %+v", c)
	}
	if _, errs := makeKeyring([]*v1.Secret{{Type: v1.SecretTypeDockerConfigJson, Data: map[string][]byte{v1.DockerConfigJsonKey: []byte("{")}}}); len(errs) != 1 {
		t.Errorf("a broken secret must be reported, got %v", errs)
	}
}

func TestTerminationMessage(t *testing.T) {
	dir := t.TempDir()
	msgFile := filepath.Join(dir, "msg")
	if err := os.WriteFile(msgFile, []byte(strings.Repeat("x", 5000)+"end"), 0o666); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o666); err != nil {
		t.Fatal(err)
	}
	logFile := filepath.Join(dir, "0.log")
	logs := "2026-12-03T21:00:00.1Z stdout F starting\n2026-12-03T21:00:01.1Z stderr P part \n2026-12-03T21:00:01.2Z stderr F one\n"
	if err := os.WriteFile(logFile, []byte(logs), 0o644); err != nil {
		t.Fatal(err)
	}
	status := func(file, policy string, code int32) *runtimeapi.ContainerStatus {
		return &runtimeapi.ContainerStatus{
			ExitCode: code, LogPath: logFile,
			Annotations: map[string]string{annotationTerminationMessagePath: "/dev/termination-log", annotationTerminationPolicy: policy},
			Mounts:      []*runtimeapi.Mount{{ContainerPath: "/dev/termination-log", HostPath: file}},
		}
	}
	tests := []struct {
		name string
		st   *runtimeapi.ContainerStatus
		want string
	}{
		{"the file, its last 4 KiB", status(msgFile, "File", 0), strings.Repeat("x", 4093) + "end"},
		{"empty file, File policy", status(empty, "File", 1), ""},
		{"empty file, fallback to logs on error", status(empty, "FallbackToLogsOnError", 1), "starting\npart one\n"},
		{"fallback only on error", status(empty, "FallbackToLogsOnError", 0), ""},
		{"no such file", status(filepath.Join(dir, "gone"), "File", 1), ""},
	}
	for _, tt := range tests {
		if got := terminationMessage(tt.st); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := withTerminationMessage("OOMKilled", "bye"); got != "OOMKilled: bye" {
		t.Errorf("joined message %q", got)
	}
}
