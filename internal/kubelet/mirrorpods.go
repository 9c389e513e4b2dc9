package kubelet

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	"k8s.io/utils/ptr"
)

// staticPods is Config.StaticPods' list, or none.
func (k *Kubelet) staticPods() []StaticPod {
	if k.cfg.StaticPods == nil {
		return nil
	}
	return k.cfg.StaticPods()
}

// wakeMirror asks the mirror pod loop for a sync now.
func (k *Kubelet) wakeMirror() {
	select {
	case k.mirrorWake <- struct{}{}:
	default:
	}
}

// mirrorLoop keeps the mirror pods of the static pods (planMirrorPods)
// every RelistPeriod, and at once when a mirror pod is added, deleted or
// edited (mirrorChangeWakes; not on status writes). It runs even
// without static pods, so that mirror pods left from an earlier start
// are deleted, as upstream does.
func (k *Kubelet) mirrorLoop(ctx context.Context) {
	t := k.clock.NewTicker(k.cfg.RelistPeriod)
	defer t.Stop()
	for {
		k.syncMirrorPods(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		case <-k.mirrorWake:
		case <-k.cfg.StaticPodsChanged:
		}
	}
}

func (k *Kubelet) syncMirrorPods(ctx context.Context) {
	node := k.currentNode()
	if node == nil {
		return
	}
	var have []*v1.Pod
	for _, obj := range k.podInformer.GetIndexer().List() {
		if p, ok := obj.(*v1.Pod); ok {
			have = append(have, p)
		}
	}
	now := k.clock.Now()
	for key, t := range k.mirrorDeleted {
		if now.Sub(t) >= mirrorRecreateDelay {
			delete(k.mirrorDeleted, key)
		}
	}
	want := k.staticPods()
	actions := planMirrorPods(want, have, nodeOwner{Name: node.Name, UID: node.UID}, k.cfg.NodeIP, now, k.mirrorDeleted)
	if slices.ContainsFunc(actions, func(a mirrorAction) bool { return a.Create != nil }) {
		// The cached Node may be gone (deleted, or deleted and made
		// again): creating then would own the pod by a dead UID, the
		// garbage collector would delete it, and we would create it
		// again. Creates are rare, so ask the API server.
		live, err := k.client.CoreV1().Nodes().Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			live = nil
		case err != nil:
			if ctx.Err() == nil {
				k.log.Warn("reading the node before creating mirror pods", "err", err)
			}
			live = nil
		}
		owner := mirrorOwner(k.cfg.NodeName, live)
		if owner.Gone {
			k.log.Debug("No need to create a mirror pod, since node has been removed")
		}
		actions = planMirrorPods(want, have, owner, k.cfg.NodeIP, now, k.mirrorDeleted)
	}
	for _, a := range actions {
		switch {
		case a.Create != nil:
			_, err := k.client.CoreV1().Pods(a.Create.Namespace).Create(ctx, a.Create, metav1.CreateOptions{})
			switch {
			case err == nil:
				k.log.Info("mirror pod created", "pod", a.Create.Namespace+"/"+a.Create.Name)
			case apierrors.IsAlreadyExists(err) || ctx.Err() != nil:
			default:
				k.log.Warn("creating a mirror pod failed", "pod", a.Create.Namespace+"/"+a.Create.Name, "err", err)
			}
		case a.Delete != nil:
			p := a.Delete
			err := k.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
				GracePeriodSeconds: ptr.To(int64(0)), Preconditions: &metav1.Preconditions{UID: &p.UID},
			})
			switch {
			case err == nil:
				k.mirrorDeleted[p.Namespace+"/"+p.Name] = now
				k.log.Info("mirror pod deleted", "pod", p.Namespace+"/"+p.Name)
			case apierrors.IsNotFound(err) || apierrors.IsConflict(err) || ctx.Err() != nil:
			default:
				k.log.Warn("deleting a mirror pod failed", "pod", p.Namespace+"/"+p.Name, "err", err)
			}
		case a.Status != nil:
			p := a.Status
			_, err := k.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) && ctx.Err() == nil {
				k.log.Warn("mirror pod status update failed", "pod", p.Namespace+"/"+p.Name, "err", err)
			}
		}
	}
}

// staticPodOf is the static pod a mirror pod of this node stands for.
func (k *Kubelet) staticPodOf(pod *v1.Pod) (StaticPod, bool) {
	for _, sp := range k.staticPods() {
		if sp.namespace() == pod.Namespace && mirrorPodName(sp, k.cfg.NodeName) == pod.Name {
			return sp, true
		}
	}
	return StaticPod{}, false
}

// serveStaticPodLogs serves /containerLogs of a mirror pod from its
// component's log file (LogPath, or LogPath.1 for --previous); a follow
// ends when the component stops.
func (k *Kubelet) serveStaticPodLogs(w http.ResponseWriter, r *http.Request, pod *v1.Pod, name string, opts *v1.PodLogOptions) {
	sp, ok := k.staticPodOf(pod)
	if !ok || sp.Name != name {
		http.Error(w, fmt.Sprintf("container %q not found in pod %q", name, pod.Name), http.StatusNotFound)
		return
	}
	path := sp.LogPath
	if opts.Previous {
		path += ".1"
		if _, err := os.Stat(path); sp.LogPath == "" || err != nil {
			http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", name, pod.Name), http.StatusBadRequest)
			return
		}
	}
	if sp.LogPath == "" {
		http.Error(w, fmt.Sprintf("container %q in pod %q has no log file", name, pod.Name), http.StatusBadRequest)
		return
	}
	if sp.Started.IsZero() {
		http.Error(w, fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", name, pod.Name), http.StatusBadRequest)
		return
	}
	started := sp.Started
	running := func(context.Context) (bool, error) {
		if opts.Previous {
			return false, nil
		}
		cur, ok := k.staticPodOf(pod)
		return ok && cur.Started.Equal(started) && cur.Finished.IsZero(), nil
	}
	k.serveLogFile(w, r, pod, name, path, opts, running)
}

// staticPodStats are the stats of the static pods that report the whole
// process (StaticPod.ReportsProcess): their components share one
// process, so what it uses is all that can be measured, and it goes on
// one pod rather than being guessed apart.
func (k *Kubelet) staticPodStats() []statsapi.PodStats {
	var out []statsapi.PodStats
	for _, sp := range k.staticPods() {
		if !sp.ReportsProcess || sp.Started.IsZero() || !sp.Finished.IsZero() {
			continue
		}
		cpu, rss, err := readProcessUsage()
		if err != nil {
			k.log.Debug("reading the process's usage", "err", err)
			return nil
		}
		now := metav1.NewTime(k.clock.Now())
		ref := statsapi.PodReference{Name: mirrorPodName(sp, k.cfg.NodeName), Namespace: sp.namespace()}
		if pod, ok := k.podByName(ref.Namespace, ref.Name); ok {
			ref.UID = string(pod.UID)
		}
		c := &statsapi.CPUStats{Time: now, UsageCoreNanoSeconds: &cpu}
		m := &statsapi.MemoryStats{Time: now, WorkingSetBytes: &rss, RSSBytes: &rss, UsageBytes: &rss}
		start := metav1.NewTime(sp.Started)
		out = append(out, statsapi.PodStats{
			PodRef: ref, StartTime: start, CPU: c, Memory: m,
			Containers: []statsapi.ContainerStats{{Name: sp.Name, StartTime: start, CPU: c, Memory: m}},
		})
	}
	return out
}

// readProcessUsage is this process's CPU time (user and system, in
// nanoseconds) and resident set size (bytes).
func readProcessUsage() (cpuNanos, rssBytes uint64, err error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, 0, err
	}
	cpuNanos = uint64(ru.Utime.Nano() + ru.Stime.Nano())
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, 0, err
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, 0, fmt.Errorf("/proc/self/statm: %q", b)
	}
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("/proc/self/statm: %w", err)
	}
	return cpuNanos, pages * uint64(os.Getpagesize()), nil
}
