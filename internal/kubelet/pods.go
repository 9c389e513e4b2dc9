package kubelet

import (
	"context"
	"hash/fnv"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// podWorker serializes everything the kubelet does for one pod UID: one
// goroutine, woken by informer events, the relist, probe verdicts and
// its own timer.
type podWorker struct {
	uid  types.UID
	wake chan struct{}
	done chan struct{}

	mu      sync.Mutex
	pod     *v1.Pod // latest from the informer; nil for an orphan
	removed bool    // gone from the API server (or never known: an orphan)
	// results holds probe verdicts by kind and container name.
	results map[probeKey]probeVerdict

	// status is the last computed status, read by probe workers.
	status atomic.Pointer[v1.PodStatus]

	// Owned by the worker goroutine.
	waiting   map[string]waitingReason
	written   *v1.Pod // the pod as our last status write returned it
	probes    map[probeKey]context.CancelFunc
	confirmed bool // the final DELETE was sent
	// admitted is written by the worker under k.mu and read by other
	// workers' admission under k.mu.
	admitted bool
}

type probeKey struct {
	kind      probeKind
	container string
}

type probeVerdict struct {
	containerID string
	result      probeResult
}

func (w *podWorker) signal() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *podWorker) snapshot() (*v1.Pod, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.pod, w.removed
}

// setResult records a probe verdict and wakes the worker if it changed.
func (w *podWorker) setResult(kind probeKind, container, id string, r probeResult) {
	w.mu.Lock()
	key := probeKey{kind, container}
	prev, ok := w.results[key]
	changed := !ok || prev.containerID != id || prev.result != r
	w.results[key] = probeVerdict{containerID: id, result: r}
	w.mu.Unlock()
	if changed {
		w.signal()
	}
}

// verdicts returns the probe verdicts of one kind by container ID.
func (w *podWorker) verdicts(kind probeKind) map[string]probeResult {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]probeResult{}
	for k, v := range w.results {
		if k.kind == kind {
			out[v.containerID] = v.result
		}
	}
	return out
}

// podUpdated handles an added (old nil) or updated pod.
func (k *Kubelet) podUpdated(old, obj any) {
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	if isMirrorPod(pod) {
		// Never run: the mirror pod loop keeps it.
		prev, _ := old.(*v1.Pod)
		if mirrorChangeWakes(prev, pod) {
			k.wakeMirror()
		}
		return
	}
	k.mu.Lock()
	w := k.workers[pod.UID]
	if w == nil {
		w = k.newWorker(pod.UID)
	}
	w.mu.Lock()
	w.pod, w.removed = pod, false
	w.mu.Unlock()
	k.mu.Unlock()
	w.signal()
}

func (k *Kubelet) podDeleted(obj any) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	if isMirrorPod(pod) {
		k.wakeMirror()
		return
	}
	k.mu.Lock()
	w := k.workers[pod.UID]
	k.mu.Unlock()
	if w == nil {
		return
	}
	w.mu.Lock()
	w.removed = true
	w.mu.Unlock()
	w.signal()
}

// newWorker starts a worker; k.mu is held.
func (k *Kubelet) newWorker(uid types.UID) *podWorker {
	w := &podWorker{
		uid: uid, wake: make(chan struct{}, 1), done: make(chan struct{}),
		removed: true, results: map[probeKey]probeVerdict{},
		waiting: map[string]waitingReason{}, probes: map[probeKey]context.CancelFunc{},
	}
	k.workers[uid] = w
	go k.runWorker(k.ctx, w)
	return w
}

func (k *Kubelet) runWorker(ctx context.Context, w *podWorker) {
	defer close(w.done)
	timer := k.clock.NewTimer(k.cfg.SyncFrequency)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			k.stopProbes(w)
			return
		case <-w.wake:
		case <-timer.C():
		}
		next, finished := k.syncPod(ctx, w)
		if finished && k.retire(w) {
			return
		}
		if next <= 0 || next > k.cfg.SyncFrequency {
			next = k.cfg.SyncFrequency
		}
		timer.Stop()
		timer.Reset(next)
	}
}

// retire removes a worker whose pod is gone, unless the pod came back
// meanwhile.
func (k *Kubelet) retire(w *podWorker) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.removed {
		return false
	}
	if k.workers[w.uid] == w {
		delete(k.workers, w.uid)
	}
	return true
}

// latestPod is the newer of the informer's pod and the one our last
// status write returned.
func (w *podWorker) latestPod(informer *v1.Pod) *v1.Pod {
	if w.written == nil || w.written.UID != informer.UID {
		return informer
	}
	a, err1 := strconv.ParseUint(informer.ResourceVersion, 10, 64)
	b, err2 := strconv.ParseUint(w.written.ResourceVersion, 10, 64)
	if err1 == nil && err2 == nil && b > a {
		return w.written
	}
	return informer
}

func isTerminalPhase(p v1.PodPhase) bool { return p == v1.PodSucceeded || p == v1.PodFailed }

// syncPod makes the runtime match one pod and reports its status. It
// returns when to sync again (0: the sync frequency) and whether the
// worker is done (the pod is gone and nothing of it runs).
func (k *Kubelet) syncPod(ctx context.Context, w *podWorker) (time.Duration, bool) {
	informerPod, removed := w.snapshot()
	log := k.log.With("podUID", w.uid)
	rt, err := readRuntimePod(ctx, k.cfg.Runtime, w.uid)
	if err != nil {
		log.Warn("reading the pod from the runtime failed", "err", err)
		return time.Second, false
	}
	if removed {
		k.stopProbes(w)
		if err := k.cleanupRuntimePod(ctx, rt); err != nil {
			log.Warn("removing the pod's containers failed", "err", err)
			return time.Second, false
		}
		if err := k.volumes.tearDown(w.uid); err != nil {
			log.Warn("tearing down the pod's volumes failed", "err", err)
		}
		k.crashBackoff.Forget(string(w.uid) + "/")
		k.imageBackoff.Forget(string(w.uid) + "_")
		return 0, true
	}
	pod := w.latestPod(informerPod)
	log = log.With("pod", pod.Namespace+"/"+pod.Name)
	if pod.DeletionTimestamp != nil || isTerminalPhase(pod.Status.Phase) {
		return k.syncTerminating(ctx, w, pod, rt), false
	}

	if reason, msg := k.admit(w, pod, rt); reason != "" {
		k.reject(ctx, w, pod, reason, msg)
		return 0, false
	}
	if retry, ok := k.mountVolumes(ctx, pod); !ok {
		// As upstream, nothing starts before every volume is set up once.
		k.writeStatus(ctx, w, pod, k.computeStatus(w, pod, rt, false))
		return retry, false
	}
	k.ensureProbes(ctx, w, pod)
	now := k.clock.Now()
	actions := computePodActions(pod, rt, now, planHints{
		Liveness: w.verdicts(liveness), Startup: w.verdicts(startup), BackOff: k.crashBackoff,
	})
	if k.execute(ctx, w, pod, rt, actions) {
		if fresh, err := readRuntimePod(ctx, k.cfg.Runtime, w.uid); err == nil {
			rt = fresh
		}
	}
	status := k.computeStatus(w, pod, rt, false)
	if isTerminalPhase(status.Phase) {
		// Everything ran to its end: stop what is left (sidecars, the
		// sandbox) before the terminal phase is reported.
		k.stopPod(ctx, pod, rt, terminationGrace(pod))
		if fresh, err := readRuntimePod(ctx, k.cfg.Runtime, w.uid); err == nil {
			rt = fresh
		}
		k.stopProbes(w)
		status = k.computeStatus(w, pod, rt, true)
	}
	k.writeStatus(ctx, w, pod, status)

	var next time.Duration
	for _, b := range actions.BackOff {
		if d := b.Until.Sub(now); d > 0 && (next == 0 || d < next) {
			next = d
		}
	}
	for _, wr := range w.waiting {
		if wr.Reason == reasonImagePullBackOff || wr.Reason == reasonErrImagePull || wr.Reason == reasonCreateContainerConfig ||
			wr.Reason == reasonCreateContainerError || wr.Reason == reasonRunContainerError {
			if d := time.Second; next == 0 || d < next {
				next = d
			}
		}
	}
	if next > 0 {
		next += 10 * time.Millisecond // land after the back-off ends
	}
	return next, false
}

// reject fails a pod the node has no room for, as upstream's rejectPod.
func (k *Kubelet) reject(ctx context.Context, w *podWorker, pod *v1.Pod, reason, message string) {
	k.log.Info("pod rejected", "pod", pod.Namespace+"/"+pod.Name, "reason", reason, "message", message)
	k.recorder.Eventf(podRef(pod), v1.EventTypeWarning, reason, "%s", message)
	status := pod.Status.DeepCopy()
	status.Phase, status.Reason, status.Message = v1.PodFailed, reason, "Pod was rejected: "+message
	if status.QOSClass == "" {
		status.QOSClass = qosClass(pod)
	}
	k.writeStatus(ctx, w, pod, *status)
}

// syncTerminating stops a pod being deleted (or done), reports its final
// status, and for a deleted pod confirms the deletion to the API server.
func (k *Kubelet) syncTerminating(ctx context.Context, w *podWorker, pod *v1.Pod, rt *runtimePod) time.Duration {
	k.stopProbes(w)
	grace := terminationGrace(pod)
	if pod.DeletionGracePeriodSeconds != nil {
		grace = *pod.DeletionGracePeriodSeconds
	}
	if len(rt.running()) > 0 || len(rt.readySandboxes()) > 0 {
		k.stopPod(ctx, pod, rt, grace)
		if fresh, err := readRuntimePod(ctx, k.cfg.Runtime, w.uid); err == nil {
			rt = fresh
		}
	}
	if len(rt.running()) > 0 {
		return time.Second // try again
	}
	status := k.computeStatus(w, pod, rt, true)
	k.writeStatus(ctx, w, pod, status)
	if err := k.volumes.tearDownVolumes(pod.UID); err != nil {
		k.log.Warn("tearing down the pod's volumes failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
	if pod.DeletionTimestamp != nil && !w.confirmed {
		err := k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: ptr.To(int64(0)),
			Preconditions:      &metav1.Preconditions{UID: &pod.UID},
		})
		switch {
		case err == nil || apierrors.IsNotFound(err) || apierrors.IsConflict(err):
			w.confirmed = true
			k.log.Info("pod deletion confirmed", "pod", pod.Namespace+"/"+pod.Name)
		default:
			k.log.Warn("confirming the pod's deletion failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
			return time.Second
		}
	}
	return 0
}

func (k *Kubelet) computeStatus(w *podWorker, pod *v1.Pod, rt *runtimePod, terminal bool) v1.PodStatus {
	s := generatePodStatus(statusInput{
		Pod: pod, Runtime: rt, RuntimeName: k.runtimeName, Waiting: w.waiting,
		Readiness: w.verdicts(readiness), Startup: w.verdicts(startup),
		HostIPs: []string{k.cfg.NodeIP}, Terminal: terminal, Now: k.clock.Now(),
	})
	w.status.Store(&s)
	return s
}

// writeStatus writes the pod's status through pods/status if it changed.
func (k *Kubelet) writeStatus(ctx context.Context, w *podWorker, pod *v1.Pod, status v1.PodStatus) {
	if statusEqual(&pod.Status, &status) {
		return
	}
	next := pod.DeepCopy()
	next.Status = status
	pods := k.client.CoreV1().Pods(pod.Namespace)
	updated, err := pods.UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) {
		fresh, gerr := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if gerr != nil || fresh.UID != pod.UID {
			return
		}
		// Keep what others own (conditions of readiness gates...).
		for _, c := range fresh.Status.Conditions {
			if !kubeletOwned(c.Type) && findCondition(status.Conditions, c.Type) == nil {
				status.Conditions = append(status.Conditions, c)
			}
		}
		fresh.Status = status
		updated, err = pods.UpdateStatus(ctx, fresh, metav1.UpdateOptions{})
	}
	if err != nil {
		if !apierrors.IsNotFound(err) && ctx.Err() == nil {
			k.log.Warn("pod status update failed", "pod", pod.Namespace+"/"+pod.Name, "err", err)
		}
		return
	}
	w.written = updated
}

// cleanupRuntimePod stops and removes everything of a pod the API server
// no longer has, with the grace period its containers were created with.
func (k *Kubelet) cleanupRuntimePod(ctx context.Context, rt *runtimePod) error {
	for _, c := range rt.running() {
		if err := k.cfg.Runtime.StopContainer(ctx, c.ID, max(c.Grace, minimumGrace)); err != nil && !isNotFound(err) {
			return err
		}
	}
	for _, s := range rt.Sandboxes {
		if err := k.cfg.Runtime.StopPodSandbox(ctx, s.ID); err != nil && !isNotFound(err) {
			return err
		}
		if err := k.cfg.Runtime.RemovePodSandbox(ctx, s.ID); err != nil && !isNotFound(err) {
			return err
		}
	}
	for _, c := range rt.Containers {
		if err := k.cfg.Runtime.RemoveContainer(ctx, c.ID); err != nil && !isNotFound(err) {
			return err
		}
	}
	if len(rt.Sandboxes)+len(rt.Containers) > 0 {
		k.log.Info("removed the pod's sandboxes and containers", "podUID", rt.UID, "pod", rt.Namespace+"/"+rt.Name)
	}
	return nil
}

// relistLoop lists the runtime every RelistPeriod and wakes the workers of
// pods whose sandboxes or containers changed (a container exited...);
// pods the API server does not know get a worker that cleans them up.
func (k *Kubelet) relistLoop(ctx context.Context) {
	t := k.clock.NewTicker(k.cfg.RelistPeriod)
	defer t.Stop()
	prev := map[types.UID]uint64{}
	for {
		cur, err := k.relist(ctx)
		if err != nil {
			if ctx.Err() == nil {
				k.log.Warn("relist failed", "err", err)
			}
		} else {
			for uid, h := range cur {
				if old, ok := prev[uid]; !ok || old != h {
					k.wakeOrAdopt(uid, true)
				}
			}
			for uid := range prev {
				if _, ok := cur[uid]; !ok {
					k.wakeOrAdopt(uid, false)
				}
			}
			prev = cur
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}

func (k *Kubelet) relist(ctx context.Context) (map[types.UID]uint64, error) {
	sbs, err := k.cfg.Runtime.ListPodSandbox(ctx, nil)
	if err != nil {
		return nil, err
	}
	cs, err := k.cfg.Runtime.ListContainers(ctx, nil)
	if err != nil {
		return nil, err
	}
	out := map[types.UID]uint64{}
	add := func(labels map[string]string, id string, state int32) {
		uid := types.UID(labels[labelPodUID])
		if uid == "" {
			return // not ours
		}
		h := fnv.New64a()
		h.Write([]byte(id))
		h.Write([]byte{byte(state)})
		out[uid] += h.Sum64() // order-independent
	}
	for _, s := range sbs {
		add(s.GetLabels(), s.Id, int32(s.State))
	}
	for _, c := range cs {
		add(c.GetLabels(), c.Id, int32(c.State))
	}
	return out, nil
}

func (k *Kubelet) wakeOrAdopt(uid types.UID, exists bool) {
	k.mu.Lock()
	w := k.workers[uid]
	if w == nil && exists && k.synced.Load() {
		w = k.newWorker(uid) // an orphan: removed from the start
	}
	k.mu.Unlock()
	if w != nil {
		w.signal()
	}
}

// runningCount is for tests and benchmarks: pods with a worker.
func (k *Kubelet) workerCount() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.workers)
}
