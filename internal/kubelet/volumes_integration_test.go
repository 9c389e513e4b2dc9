package kubelet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/kubelet/simruntime"
)

// TestKubeletVolumes runs volumes, mounts, termination messages and pull
// secrets against the real API server, with kubelets on the simulated
// runtime writing their pods' files under a temp PodsDir.
func TestKubeletVolumes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	c := newCluster(t)
	ctx := context.Background()
	running := func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning }

	t.Run("EveryVolumeTypeFilesMountsRefreshAndTeardown", func(t *testing.T) {
		t.Parallel()
		podsDir := t.TempDir()
		hostDir := filepath.Join(t.TempDir(), "made-by-kubelet")
		n := c.startNode(t, "node-vol", nil, func(cfg *Config) { cfg.PodsDir = podsDir; cfg.NoTmpfs = true })
		ns := "default"
		mustCreate(t, func() error {
			_, err := c.client.CoreV1().ConfigMaps(ns).Create(ctx, &v1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: "app-config"}, Data: map[string]string{"a": "1", "b": "2"},
			}, metav1.CreateOptions{})
			return err
		})
		mustCreate(t, func() error {
			_, err := c.client.CoreV1().Secrets(ns).Create(ctx, &v1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: "app-secret"}, Data: map[string][]byte{"user": []byte("admin")},
			}, metav1.CreateOptions{})
			return err
		})
		pod := simplePod("vols", v1.Container{
			Name: "app", Image: "nginx", ImagePullPolicy: v1.PullIfNotPresent,
			Env: []v1.EnvVar{{Name: "POD_NAME", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			VolumeMounts: []v1.VolumeMount{
				{Name: "cfg", MountPath: "/etc/cfg"},
				{Name: "cfg", MountPath: "/etc/a", SubPath: "a"},
				{Name: "sec", MountPath: "/etc/sec"},
				{Name: "down", MountPath: "/etc/podinfo"},
				{Name: "proj", MountPath: "/etc/proj"},
				{Name: "scratch", MountPath: "/scratch"},
				{Name: "scratch", MountPath: "/logs", SubPathExpr: "logs/$(POD_NAME)"},
				{Name: "mem", MountPath: "/mem"},
				{Name: "host", MountPath: "/host", ReadOnly: true},
			},
		})
		pod.Labels = map[string]string{"app": "vols"}
		pod.Spec.HostAliases = []v1.HostAlias{{IP: "10.9.9.9", Hostnames: []string{"db"}}}
		pod.Spec.SecurityContext = &v1.PodSecurityContext{FSGroup: ptr.To(int64(2000))}
		pod.Spec.Volumes = []v1.Volume{
			{Name: "cfg", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "app-config"}}}},
			{Name: "sec", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "app-secret", DefaultMode: ptr.To(int32(0o400))}}},
			{Name: "down", VolumeSource: v1.VolumeSource{DownwardAPI: &v1.DownwardAPIVolumeSource{Items: []v1.DownwardAPIVolumeFile{
				{Path: "labels", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
				{Path: "name", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}},
			}}}},
			{Name: "proj", VolumeSource: v1.VolumeSource{Projected: &v1.ProjectedVolumeSource{Sources: []v1.VolumeProjection{
				{ConfigMap: &v1.ConfigMapProjection{LocalObjectReference: v1.LocalObjectReference{Name: "app-config"}, Items: []v1.KeyToPath{{Key: "b", Path: "config/b"}}}},
				{Secret: &v1.SecretProjection{LocalObjectReference: v1.LocalObjectReference{Name: "app-secret"}}},
				{DownwardAPI: &v1.DownwardAPIProjection{Items: []v1.DownwardAPIVolumeFile{{Path: "ns", FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
				{ServiceAccountToken: &v1.ServiceAccountTokenProjection{Path: "token"}},
			}}}},
			{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
			{Name: "mem", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory}}},
			{Name: "host", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: hostDir, Type: ptr.To(v1.HostPathDirectoryOrCreate)}}},
		}
		created := c.bindPod(t, pod, "node-vol")
		p := c.waitPod(t, ns, "vols", "Running", 20*time.Second, running)

		podDir := filepath.Join(podsDir, string(created.UID))
		vol := func(plugin, name string) string { return filepath.Join(podDir, "volumes", plugin, name) }
		wantFiles := map[string]string{
			filepath.Join(vol(pluginConfigMap, "cfg"), "a"):            "1",
			filepath.Join(vol(pluginConfigMap, "cfg"), "b"):            "2",
			filepath.Join(vol(pluginSecret, "sec"), "user"):            "admin",
			filepath.Join(vol(pluginDownwardAPI, "down"), "labels"):    `app="vols"`,
			filepath.Join(vol(pluginDownwardAPI, "down"), "name"):      "vols",
			filepath.Join(vol(pluginProjected, "proj"), "config/b"):    "2",
			filepath.Join(vol(pluginProjected, "proj"), "user"):        "admin",
			filepath.Join(vol(pluginProjected, "proj"), "ns"):          "default",
			filepath.Join(vol(pluginEmptyDir, "scratch"), "logs/vols"): "",
		}
		for path, want := range wantFiles {
			if want == "" {
				if st, err := os.Stat(path); err != nil || !st.IsDir() {
					t.Errorf("%s: want a directory (%v)", path, err)
				}
				continue
			}
			if got, err := os.ReadFile(path); err != nil || string(got) != want {
				t.Errorf("%s = %q (%v), want %q", path, got, err, want)
			}
		}
		if l, err := os.Readlink(filepath.Join(vol(pluginConfigMap, "cfg"), "a")); err != nil || l != "..data/a" {
			t.Errorf("configMap key link: %q %v", l, err)
		}
		wantMode := os.FileMode(0o400)
		if os.Geteuid() == 0 {
			wantMode = 0o440 // and the fsGroup's: only root may give it away
			st, err := os.Stat(filepath.Join(vol(pluginEmptyDir, "scratch")))
			if err != nil {
				t.Fatal(err)
			}
			if st.Sys().(*syscall.Stat_t).Gid != 2000 || st.Mode()&os.ModeSetgid == 0 {
				t.Errorf("emptyDir not given to the fsGroup: %v", st.Mode())
			}
		}
		if st, err := os.Stat(filepath.Join(vol(pluginSecret, "sec"), "user")); err != nil {
			t.Error(err)
		} else if st.Mode().Perm() != wantMode {
			t.Errorf("secret file mode: %v, want %v", st.Mode().Perm(), wantMode)
		}
		if _, err := os.Lstat(filepath.Join(vol(pluginProjected, "proj"), "token")); !os.IsNotExist(err) {
			t.Errorf("a serviceAccountToken source cannot be served yet, but token exists (%v)", err)
		}
		for _, d := range []string{vol(pluginEmptyDir, "scratch"), vol(pluginEmptyDir, "mem"), hostDir} {
			if st, err := os.Stat(d); err != nil || !st.IsDir() {
				t.Errorf("%s: %v", d, err)
			}
		}
		hosts, err := os.ReadFile(filepath.Join(podDir, "etc-hosts"))
		if err != nil || !strings.Contains(string(hosts), p.Status.PodIP+"\tvols\n") || !strings.Contains(string(hosts), "10.9.9.9\tdb\n") {
			t.Errorf("etc-hosts = %q (%v)", hosts, err)
		}

		cfg := containerConfigOf(t, n, p, "app")
		got := map[string]string{}
		for _, m := range cfg.Mounts {
			got[m.ContainerPath] = fmt.Sprintf("%s ro=%v", m.HostPath, m.Readonly)
		}
		resolvedA, _ := filepath.EvalSymlinks(filepath.Join(vol(pluginConfigMap, "cfg"), "a"))
		want := map[string]string{
			"/etc/cfg":     vol(pluginConfigMap, "cfg") + " ro=true",
			"/etc/a":       resolvedA + " ro=true",
			"/etc/sec":     vol(pluginSecret, "sec") + " ro=true",
			"/etc/podinfo": vol(pluginDownwardAPI, "down") + " ro=true",
			"/etc/proj":    vol(pluginProjected, "proj") + " ro=true",
			"/scratch":     vol(pluginEmptyDir, "scratch") + " ro=false",
			"/logs":        filepath.Join(vol(pluginEmptyDir, "scratch"), "logs/vols") + " ro=false",
			"/mem":         vol(pluginEmptyDir, "mem") + " ro=false",
			"/host":        hostDir + " ro=true",
			"/etc/hosts":   filepath.Join(podDir, "etc-hosts") + " ro=false",
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("mount %s = %q, want %q", k, got[k], v)
			}
		}
		// Service env vars: the kubernetes Service is always there.
		kube, err := c.client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		envs := map[string]string{}
		for _, kv := range cfg.Envs {
			envs[kv.Key] = string(kv.Value)
		}
		if envs["KUBERNETES_SERVICE_HOST"] != kube.Spec.ClusterIP || envs["KUBERNETES_SERVICE_PORT"] != "443" || envs["POD_NAME"] != "vols" {
			t.Errorf("env = %v", envs)
		}
		if tm, ok := got["/dev/termination-log"]; !ok || !strings.HasPrefix(tm, filepath.Join(podDir, "containers", "app")+"/") {
			t.Errorf("termination-log mount = %q", tm)
		}

		// A changed ConfigMap reaches the files within a periodic sync.
		cm, err := c.client.CoreV1().ConfigMaps(ns).Get(ctx, "app-config", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm.Data["a"] = "changed"
		delete(cm.Data, "b")
		if _, err := c.client.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, "configMap update in the volume", func() (bool, error) {
			b, err := os.ReadFile(filepath.Join(vol(pluginConfigMap, "cfg"), "a"))
			_, gone := os.Lstat(filepath.Join(vol(pluginConfigMap, "cfg"), "b"))
			return err == nil && string(b) == "changed" && os.IsNotExist(gone), err
		})

		// Deleted: everything of the pod is removed from the node.
		if err := c.client.CoreV1().Pods(ns).Delete(ctx, "vols", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		c.waitPodGone(t, ns, "vols", 20*time.Second)
		waitFor(t, 10*time.Second, "pod dir removed", func() (bool, error) {
			_, err := os.Stat(podDir)
			return os.IsNotExist(err), err
		})
		if !pathExists(hostDir) {
			t.Error("a hostPath must outlive its pod")
		}
	})

	t.Run("MissingConfigMapFailsMountUntilCreated", func(t *testing.T) {
		t.Parallel()
		c.startNode(t, "node-vol-missing", nil, nil)
		pod := simplePod("late", v1.Container{Name: "app", Image: "nginx", ImagePullPolicy: v1.PullIfNotPresent,
			VolumeMounts: []v1.VolumeMount{{Name: "cfg", MountPath: "/cfg"}, {Name: "maybe", MountPath: "/maybe"}}})
		pod.Spec.Volumes = []v1.Volume{
			{Name: "cfg", VolumeSource: v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "late-config"}}}},
			{Name: "maybe", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "never", Optional: ptr.To(true)}}},
		}
		c.bindPod(t, pod, "node-vol-missing")
		wantEvent := `FailedMount: MountVolume.SetUp failed for volume "cfg" : configmap "late-config" not found`
		waitFor(t, 20*time.Second, "FailedMount event", func() (bool, error) {
			return hasEvent(c.podEvents(t, "default", "late"), wantEvent), nil
		})
		if hasEvent(c.podEvents(t, "default", "late"), `FailedMount: MountVolume.SetUp failed for volume "maybe"`) {
			t.Error("an optional secret must not fail its volume")
		}
		p := c.waitPod(t, "default", "late", "ContainerCreating", 10*time.Second, func(p *v1.Pod) bool {
			return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Waiting != nil
		})
		if w := p.Status.ContainerStatuses[0].State.Waiting; w.Reason != "ContainerCreating" || p.Status.Phase != v1.PodPending {
			t.Errorf("phase %s, waiting %+v", p.Status.Phase, w)
		}
		if _, err := c.client.CoreV1().ConfigMaps("default").Create(ctx, &v1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "late-config"}, Data: map[string]string{"k": "v"},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.waitPod(t, "default", "late", "Running once the configMap exists", 30*time.Second, running)
	})

	t.Run("TerminationMessageFromTheFile", func(t *testing.T) {
		t.Parallel()
		podsDir := t.TempDir()
		n := c.startNode(t, "node-vol-term", nil, func(cfg *Config) { cfg.PodsDir = podsDir })
		pod := simplePod("says-bye", v1.Container{Name: "app", Image: "nginx", ImagePullPolicy: v1.PullIfNotPresent,
			VolumeMounts: []v1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}})
		pod.Spec.Volumes = []v1.Volume{{Name: "scratch", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}}}
		pod.Spec.RestartPolicy = v1.RestartPolicyNever
		pod.Annotations = map[string]string{simruntime.AnnotationExitCodePrefix + "app": "3", simruntime.AnnotationExitAfter + "app": "3s"}
		created := c.bindPod(t, pod, "node-vol-term")
		p := c.waitPod(t, "default", "says-bye", "Running", 20*time.Second, running)
		cfg := containerConfigOf(t, n, p, "app")
		var file string
		for _, m := range cfg.Mounts {
			if m.ContainerPath == "/dev/termination-log" {
				file = m.HostPath
			}
		}
		if file == "" {
			t.Fatalf("no termination-log mount in %v", cfg.Mounts)
		}
		// What the process would write before it exits.
		if err := os.WriteFile(file, []byte("bye: disk full"), 0o666); err != nil {
			t.Fatal(err)
		}
		p = c.waitPod(t, "default", "says-bye", "Failed", 20*time.Second, func(p *v1.Pod) bool { return p.Status.Phase == v1.PodFailed })
		term := p.Status.ContainerStatuses[0].State.Terminated
		if term == nil || term.ExitCode != 3 || term.Message != "bye: disk full" {
			t.Errorf("terminated = %+v", term)
		}
		// A terminated pod's volumes are torn down; its message stays.
		volumes := filepath.Join(podsDir, string(created.UID), "volumes")
		waitFor(t, 10*time.Second, "volumes of the terminated pod removed", func() (bool, error) {
			_, err := os.Stat(volumes)
			return os.IsNotExist(err), nil
		})
		if _, err := os.Stat(file); err != nil {
			t.Errorf("termination-log file: %v", err)
		}
	})

	t.Run("PullSecretsReachThePull", func(t *testing.T) {
		t.Parallel()
		rt, err := simruntime.New(simruntime.Config{PodCIDR: "10.42.7.0/24", Registries: map[string]simruntime.Credential{
			"registry.example:5000": {Username: "robot", Password: "right"},
		}})
		if err != nil {
			t.Fatal(err)
		}
		c.startNode(t, "node-vol-pull", rt, nil)
		for name, pass := range map[string]string{"regcred-old": "wrong", "regcred": "right"} {
			cfg := fmt.Sprintf(`{"auths":{"registry.example:5000":{"username":"robot","password":%q}}}`, pass)
			if _, err := c.client.CoreV1().Secrets("default").Create(ctx, &v1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: name}, Type: v1.SecretTypeDockerConfigJson,
				Data: map[string][]byte{v1.DockerConfigJsonKey: []byte(cfg)},
			}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		pod := simplePod("private", v1.Container{Name: "app", Image: "registry.example:5000/team/app:1"})
		pod.Spec.ImagePullSecrets = []v1.LocalObjectReference{{Name: "gone"}, {Name: "regcred-old"}, {Name: "regcred"}}
		c.bindPod(t, pod, "node-vol-pull")
		c.waitPod(t, "default", "private", "Running", 20*time.Second, running)
		var got []string
		for _, p := range rt.Pulls() {
			got = append(got, p.Image+" "+p.Auth.Username+":"+p.Auth.Password)
		}
		want := []string{"registry.example:5000/team/app:1 robot:wrong", "registry.example:5000/team/app:1 robot:right"}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("pulls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if evs := c.podEvents(t, "default", "private"); !hasEvent(evs, "FailedToRetrieveImagePullSecret: Unable to retrieve some image pull secrets (gone); attempting to pull the image may not succeed.") {
			t.Errorf("events = %v", evs)
		}

		// Without the right secret the registry refuses: ErrImagePull.
		denied := simplePod("denied", v1.Container{Name: "app", Image: "registry.example:5000/team/other:1"})
		denied.Spec.ImagePullSecrets = []v1.LocalObjectReference{{Name: "regcred-old"}}
		c.bindPod(t, denied, "node-vol-pull")
		c.waitPod(t, "default", "denied", "ErrImagePull or ImagePullBackOff", 20*time.Second, func(p *v1.Pod) bool {
			if len(p.Status.ContainerStatuses) == 0 || p.Status.ContainerStatuses[0].State.Waiting == nil {
				return false
			}
			w := p.Status.ContainerStatuses[0].State.Waiting
			return (w.Reason == "ErrImagePull" || w.Reason == "ImagePullBackOff") && strings.Contains(w.Message, "401 Unauthorized")
		})
	})

	t.Run("OrphanedPodDirRemovedAtStart", func(t *testing.T) {
		t.Parallel()
		podsDir := t.TempDir()
		orphan := filepath.Join(podsDir, "0b8c2a2e-0000-4000-8000-000000000001")
		if err := os.MkdirAll(filepath.Join(orphan, "volumes", pluginEmptyDir, "x"), 0o750); err != nil {
			t.Fatal(err)
		}
		c.startNode(t, "node-vol-orphan", nil, func(cfg *Config) { cfg.PodsDir = podsDir })
		if _, err := os.Stat(orphan); !os.IsNotExist(err) {
			t.Errorf("orphaned pod dir still there: %v", err)
		}
	})

	t.Run("MemoryVolumesAreTmpfs", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("mounting tmpfs needs root")
		}
		t.Parallel()
		podsDir := t.TempDir()
		c.startNode(t, "node-vol-tmpfs", nil, func(cfg *Config) { cfg.PodsDir = podsDir })
		if _, err := c.client.CoreV1().Secrets("default").Create(ctx, &v1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "tmpfs-secret"}, Data: map[string][]byte{"k": []byte("v")},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pod := simplePod("tmpfs", v1.Container{Name: "app", Image: "nginx", ImagePullPolicy: v1.PullIfNotPresent,
			VolumeMounts: []v1.VolumeMount{{Name: "mem", MountPath: "/mem"}, {Name: "sec", MountPath: "/sec"}}})
		size := resource.MustParse("16Mi")
		pod.Spec.Volumes = []v1.Volume{
			{Name: "mem", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: v1.StorageMediumMemory, SizeLimit: &size}}},
			{Name: "sec", VolumeSource: v1.VolumeSource{Secret: &v1.SecretVolumeSource{SecretName: "tmpfs-secret"}}},
		}
		created := c.bindPod(t, pod, "node-vol-tmpfs")
		podDir := filepath.Join(podsDir, string(created.UID))
		t.Cleanup(func() { _ = unmountUnder(podDir) }) // whatever happens, leave no mount behind
		c.waitPod(t, "default", "tmpfs", "Running", 20*time.Second, running)
		mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(podDir))
		if err != nil {
			t.Fatal(err)
		}
		opts := map[string]string{}
		for _, m := range mounts {
			if m.FSType == "tmpfs" {
				opts[m.Mountpoint] = m.VFSOptions
			}
		}
		memDir := filepath.Join(podDir, "volumes", pluginEmptyDir, "mem")
		secDir := filepath.Join(podDir, "volumes", pluginSecret, "sec")
		if o, ok := opts[memDir]; !ok || !strings.Contains(o, "size=16384k") {
			t.Errorf("emptyDir medium Memory: tmpfs options %q (mounted %v)", o, ok)
		}
		if _, ok := opts[secDir]; !ok {
			t.Errorf("secret volume is not a tmpfs: %v", opts)
		}
		if b, err := os.ReadFile(filepath.Join(secDir, "k")); err != nil || string(b) != "v" {
			t.Errorf("secret file on tmpfs: %q %v", b, err)
		}
		if err := c.client.CoreV1().Pods("default").Delete(ctx, "tmpfs", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		c.waitPodGone(t, "default", "tmpfs", 20*time.Second)
		waitFor(t, 10*time.Second, "tmpfs unmounted and pod dir removed", func() (bool, error) {
			ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(podDir))
			_, statErr := os.Stat(podDir)
			return err == nil && len(ms) == 0 && os.IsNotExist(statErr), err
		})
	})
}

func mustCreate(t *testing.T, f func() error) {
	t.Helper()
	if err := f(); err != nil {
		t.Fatal(err)
	}
}

// containerConfigOf is the CRI config the runtime got for a pod's
// container.
func containerConfigOf(t *testing.T, n *simNode, p *v1.Pod, name string) *runtimeapi.ContainerConfig {
	t.Helper()
	for _, st := range p.Status.ContainerStatuses {
		if st.Name != name {
			continue
		}
		_, id, _ := strings.Cut(st.ContainerID, "://")
		cfg, ok := n.runtime.ContainerConfig(id)
		if !ok {
			t.Fatalf("runtime has no container %s", id)
		}
		return cfg
	}
	t.Fatalf("pod %s has no container %s", p.Name, name)
	return nil
}
