package kubelet

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Upstream's volume operation back-off: a failing mount is retried after
// 500 ms, doubling up to 2 min 2 s.
const (
	volumeRetryInitial = 500 * time.Millisecond
	volumeRetryMax     = 2*time.Minute + 2*time.Second
)

// volumeManager sets up, refreshes and tears down the pods' directories
// under PodsDir: volumes, etc-hosts and termination-message files. It is
// the I/O edge around the pure volumeFiles and planMounts.
type volumeManager struct {
	podsDir string
	tmpfs   bool
	log     *slog.Logger
	retry   *backoff

	mu   sync.Mutex
	pods map[types.UID]*podVolumeState
}

// podVolumeState is what the manager remembers of one pod.
type podVolumeState struct {
	// ready: every volume was set up at least once.
	ready bool
	// lastSetUp is when the volumes were last set up or refreshed.
	lastSetUp time.Time
	// warned holds the volumes whose skipped parts were logged.
	warned map[string]bool
}

func newVolumeManager(cfg *Config) *volumeManager {
	return &volumeManager{
		podsDir: cfg.PodsDir,
		tmpfs:   !cfg.NoTmpfs && os.Geteuid() == 0,
		log:     cfg.Logger,
		retry:   newBackoff(volumeRetryInitial, volumeRetryMax),
		pods:    map[types.UID]*podVolumeState{},
	}
}

func (vm *volumeManager) podDir(uid types.UID) string {
	return filepath.Join(vm.podsDir, string(uid))
}

func (vm *volumeManager) state(uid types.UID) *podVolumeState {
	vm.mu.Lock()
	defer vm.mu.Unlock()
	s := vm.pods[uid]
	if s == nil {
		s = &podVolumeState{warned: map[string]bool{}}
		vm.pods[uid] = s
	}
	return s
}

// mountVolumes sets up the pod's volumes before its containers start, and
// refreshes the contents of configMap, secret, downwardAPI and projected
// volumes at most every refresh (each periodic sync), as upstream. A
// volume that fails gets a FailedMount event; until every volume was set
// up once, the pod's containers must wait (ok false) and the sync retries
// after the returned delay.
func (k *Kubelet) mountVolumes(ctx context.Context, pod *v1.Pod) (retry time.Duration, ok bool) {
	vm := k.volumes
	st := vm.state(pod.UID)
	now := k.clock.Now()
	key := string(pod.UID)
	if st.ready && now.Sub(st.lastSetUp) < k.cfg.SyncFrequency/2 {
		return 0, true
	}
	if !st.ready {
		if in, d := vm.retry.InBackOffSinceUpdate(key, now); in {
			return max(d-now.Sub(st.lastSetUp), 10*time.Millisecond), false
		}
	}
	podDir := vm.podDir(pod.UID)
	for _, d := range []string{podDir, filepath.Join(podDir, "volumes"), filepath.Join(podDir, "plugins")} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			k.log.Error("creating the pod's directories failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			return vm.retry.Next(key, now, now), false
		}
	}
	objs := k.volumeObjects(ctx, pod)
	if ctx.Err() != nil {
		return time.Second, false // shutting down: not the volumes' fault
	}
	blocked := false
	for i := range pod.Spec.Volumes {
		vol := &pod.Spec.Volumes[i]
		if kind, _ := volumeKindOf(vol); st.ready && kind != volumeProjectedFiles {
			continue // as upstream, only these are set up again to refresh
		}
		err := vm.setUpVolume(pod, vol, objs, podDir, now, st)
		if err == nil {
			continue
		}
		msg := fmt.Sprintf("MountVolume.SetUp failed for volume %q : %v", vol.Name, err)
		k.recorder.Eventf(podRef(pod), v1.EventTypeWarning, "FailedMount", "%s", msg)
		k.log.Warn("volume set-up failed", "pod", pod.Namespace+"/"+pod.Name, "volume", vol.Name, "err", err)
		if !volumeWasSetUp(podDir, vol) {
			blocked = true
		}
	}
	st.lastSetUp = now
	if blocked {
		return vm.retry.Next(key, now, now), false
	}
	st.ready = true
	vm.retry.Forget(key)
	return 0, true
}

// volumeObjects reads the ConfigMaps and Secrets the pod's volumes name.
func (k *Kubelet) volumeObjects(ctx context.Context, pod *v1.Pod) volumeObjects {
	objs := volumeObjects{
		ConfigMaps: map[string]*v1.ConfigMap{}, Secrets: map[string]*v1.Secret{}, Errs: map[string]error{},
		Allocatable: k.allocatable(),
	}
	cms, secrets := referencedObjects(pod)
	getAll(cms, "configmap/", objs.ConfigMaps, objs.Errs, func(name string) (*v1.ConfigMap, error) {
		return k.client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	})
	getAll(secrets, "secret/", objs.Secrets, objs.Errs, func(name string) (*v1.Secret, error) {
		return k.client.CoreV1().Secrets(pod.Namespace).Get(ctx, name, metav1.GetOptions{})
	})
	return objs
}

// getAll reads each named object into found; a missing one is left out,
// another failure goes into errs under prefix+name.
func getAll[T any](names []string, prefix string, found map[string]T, errs map[string]error, get func(string) (T, error)) {
	for _, name := range names {
		obj, err := get(name)
		switch {
		case err == nil:
			found[name] = obj
		case !apierrors.IsNotFound(err):
			errs[prefix+name] = err
		}
	}
}

// volumeWasSetUp reports whether a volume was set up before (its files
// written, its directory made), so that a failed refresh keeps the
// containers running on the last good contents, as upstream.
func volumeWasSetUp(podDir string, vol *v1.Volume) bool {
	kind, _ := volumeKindOf(vol)
	dir := volumeDir(podDir, vol)
	switch kind {
	case volumeEmptyDir:
		return pathExists(dir)
	case volumeProjectedFiles:
		_, err := os.Readlink(filepath.Join(dir, dataDirName))
		return err == nil
	}
	return false
}

// emptyDirPerm is upstream's: anyone in the pod may write.
const emptyDirPerm = 0o777

func (vm *volumeManager) setUpVolume(pod *v1.Pod, vol *v1.Volume, objs volumeObjects, podDir string, now time.Time, st *podVolumeState) error {
	kind, _ := volumeKindOf(vol)
	dir := volumeDir(podDir, vol)
	switch kind {
	case volumeHostPath:
		return setUpHostPath(vol.HostPath)
	case volumeEmptyDir:
		switch vol.EmptyDir.Medium {
		case v1.StorageMediumDefault, v1.StorageMediumMemory:
		default:
			return fmt.Errorf("unknown storage medium %q", vol.EmptyDir.Medium)
		}
		if err := makeDirPerm(dir, emptyDirPerm); err != nil {
			return err
		}
		if err := vm.ensureTmpfs(pod, vol, dir, objs, st); err != nil {
			return err
		}
		vm.applyFSGroup(pod, vol.Name, dir, false)
		return nil
	case volumeProjectedFiles:
		files, notes, err := volumeFiles(pod, vol, objs)
		if err != nil {
			return err
		}
		if len(notes) > 0 && !st.warned[vol.Name] {
			st.warned[vol.Name] = true
			for _, n := range notes {
				vm.log.Info("projected volume source skipped", "pod", pod.Namespace+"/"+pod.Name, "volume", vol.Name, "note", n)
			}
		}
		if err := makeDirPerm(dir, emptyDirPerm); err != nil {
			return err
		}
		if err := vm.ensureTmpfs(pod, vol, dir, objs, st); err != nil {
			return err
		}
		changed, err := writeAtomic(dir, files, now)
		if err == nil && changed {
			vm.applyFSGroup(pod, vol.Name, dir, true)
		}
		return err
	}
	return fmt.Errorf("volume %q: this volume type is not supported by Skiff's kubelet", vol.Name)
}

// applyFSGroup gives a volume to the pod's fsGroup, as upstream's
// SetVolumeOwnership: every file and dir (symlinks aside) gets the group,
// files group read (and write unless readOnly), dirs group access and
// setgid so that new files inherit the group. A failure is logged, as
// upstream does for emptyDir: the container may still manage.
func (vm *volumeManager) applyFSGroup(pod *v1.Pod, volName, dir string, readOnly bool) {
	sc := pod.Spec.SecurityContext
	if sc == nil || sc.FSGroup == nil {
		return
	}
	if err := setVolumeOwnership(dir, int(*sc.FSGroup), readOnly); err != nil {
		vm.log.Warn("giving the volume to the pod's fsGroup failed", "pod", pod.Namespace+"/"+pod.Name, "volume", volName, "fsGroup", *sc.FSGroup, "err", err)
	}
}

func setVolumeOwnership(dir string, gid int, readOnly bool) error {
	mask := os.FileMode(0o660)
	if readOnly {
		mask = 0o440
	}
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if err := os.Lchown(path, -1, gid); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		m := mask
		if d.IsDir() {
			m |= os.ModeSetgid | 0o110
		}
		return os.Chmod(path, info.Mode()|m)
	})
}

// makeDirPerm makes dir with exactly perm, whatever the umask.
func makeDirPerm(dir string, perm os.FileMode) error {
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if st.Mode().Perm() != perm {
		return os.Chmod(dir, perm)
	}
	return nil
}

// ensureTmpfs mounts a memory-backed volume's tmpfs once. Without the
// right to mount (not root, or NoTmpfs) the volume stays a plain
// directory, with a warning.
func (vm *volumeManager) ensureTmpfs(pod *v1.Pod, vol *v1.Volume, dir string, objs volumeObjects, st *podVolumeState) error {
	if !memoryBacked(vol) {
		return nil
	}
	if !vm.tmpfs {
		if vol.EmptyDir != nil && !st.warned[vol.Name] {
			st.warned[vol.Name] = true
			vm.log.Warn("emptyDir of medium Memory is a plain directory: tmpfs needs root", "pod", pod.Namespace+"/"+pod.Name, "volume", vol.Name)
		}
		return nil
	}
	mounted, err := mountinfo.Mounted(dir)
	if err != nil {
		return err
	}
	if mounted {
		return nil
	}
	opts := ""
	if size := tmpfsSize(pod, vol, objs.Allocatable); size > 0 {
		opts = fmt.Sprintf("size=%d", size)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mounting tmpfs at %s: %w", dir, err)
	}
	return os.Chmod(dir, emptyDirPerm)
}

// tearDown unmounts whatever is mounted under the pod's directory and
// removes it. The directory stays when an unmount fails, so that nothing
// is removed through a mount.
func (vm *volumeManager) tearDown(uid types.UID) error {
	vm.mu.Lock()
	delete(vm.pods, uid)
	vm.mu.Unlock()
	vm.retry.Forget(string(uid))
	dir := vm.podDir(uid)
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := unmountUnder(dir); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	vm.log.Info("removed the pod's directory", "podUID", uid, "dir", dir)
	return nil
}

// tearDownVolumes unmounts and removes the volumes of a pod that has
// terminated, as upstream (tmpfs memory is given back); the rest of its
// directory (etc-hosts, termination messages) stays until the pod is gone.
func (vm *volumeManager) tearDownVolumes(uid types.UID) error {
	vm.mu.Lock()
	delete(vm.pods, uid)
	vm.mu.Unlock()
	dir := filepath.Join(vm.podDir(uid), "volumes")
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := unmountUnder(dir); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// unmountUnder unmounts every mount at or below dir, deepest first.
func unmountUnder(dir string) error {
	mounts, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return fmt.Errorf("listing mounts under %s: %w", dir, err)
	}
	sort.Slice(mounts, func(i, j int) bool { return len(mounts[i].Mountpoint) > len(mounts[j].Mountpoint) })
	for _, m := range mounts {
		if err := unix.Unmount(m.Mountpoint, 0); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			// Busy: detach it so that it goes once its last user does.
			if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil {
				return fmt.Errorf("unmounting %s: %w", m.Mountpoint, err)
			}
		}
	}
	return nil
}

// cleanupOrphanedPodDirs removes the directories of pods that neither the
// API server (for this node) nor the runtime knows: what a kubelet that
// stopped before its pods were gone left behind.
func (k *Kubelet) cleanupOrphanedPodDirs(ctx context.Context) {
	entries, err := os.ReadDir(k.volumes.podsDir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			k.log.Warn("listing pod directories failed", "dir", k.volumes.podsDir, "err", err)
		}
		return
	}
	running, err := k.relist(ctx)
	if err != nil {
		k.log.Warn("not cleaning orphaned pod directories: relist failed", "err", err)
		return
	}
	known := map[types.UID]bool{}
	for uid := range running {
		known[uid] = true
	}
	for _, obj := range k.podInformer.GetStore().List() {
		if p, ok := obj.(*v1.Pod); ok {
			known[p.UID] = true
		}
	}
	k.mu.Lock()
	for uid := range k.workers {
		known[uid] = true
	}
	k.mu.Unlock()
	for _, e := range entries {
		uid := types.UID(e.Name())
		if !e.IsDir() || known[uid] {
			continue
		}
		if err := k.volumes.tearDown(uid); err != nil {
			k.log.Warn("removing an orphaned pod directory failed", "podUID", uid, "err", err)
		}
	}
}
