package daemonset

import (
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controller/history"
)

// BurstReplicas caps the pods one sync creates or deletes (upstream's
// daemon set controller: 250).
const BurstReplicas = 250

// Upstream's keys.
const (
	// TemplateGenerationAnnotation is the daemon set's template
	// generation, written by API servers that keep it (upstream's
	// "deprecated.daemonset.template.generation").
	TemplateGenerationAnnotation = "deprecated.daemonset.template.generation"
	// TemplateGenerationLabel carries that generation on the pods.
	TemplateGenerationLabel = "pod-template-generation"
)

// NodePods are a daemon set's pods by the node they run on or are meant
// for (spec.nodeName, or the metadata.name of their required affinity
// while unscheduled).
type NodePods map[string][]*v1.Pod

// NodeShouldRun says whether a daemon pod of ds should be placed on node
// (its nodeName, nodeSelector, required node affinity fit and it
// tolerates every NoSchedule and NoExecute taint), and whether one already
// there may stay (the same, except that only NoExecute taints evict).
func NodeShouldRun(node *v1.Node, ds *appsv1.DaemonSet) (shouldRun, shouldContinueRunning bool) {
	if n := ds.Spec.Template.Spec.NodeName; n != "" && n != node.Name {
		return false, false
	}
	pod := &v1.Pod{ObjectMeta: *ds.Spec.Template.ObjectMeta.DeepCopy(), Spec: *ds.Spec.Template.Spec.DeepCopy()}
	AddDaemonTolerations(&pod.Spec)
	// The scheduler's own rules, from the library upstream's scheduler
	// and DaemonSet controller share (k8s.io/component-helpers).
	if match, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node); err != nil || !match {
		return false, false
	}
	logger := klog.Background()
	doNotSchedule := func(t *v1.Taint) bool {
		return t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute
	}
	if _, untolerated := corev1helpers.FindMatchingUntoleratedTaint(logger, node.Spec.Taints, pod.Spec.Tolerations, doNotSchedule, false); !untolerated {
		return true, true
	}
	_, evicted := corev1helpers.FindMatchingUntoleratedTaint(logger, node.Spec.Taints, pod.Spec.Tolerations, func(t *v1.Taint) bool {
		return t.Effect == v1.TaintEffectNoExecute
	}, false)
	return false, !evicted
}

// AddDaemonTolerations adds upstream's daemon pod tolerations to spec: a
// daemon pod survives its node becoming not ready or unreachable, and is
// placed on nodes under disk, memory or PID pressure, on unschedulable
// nodes and, with hostNetwork, on nodes whose network is unavailable. A
// toleration of the same key, operator, value and effect is replaced.
func AddDaemonTolerations(spec *v1.PodSpec) {
	add := func(key string, effect v1.TaintEffect) {
		t := v1.Toleration{Key: key, Operator: v1.TolerationOpExists, Effect: effect}
		for i := range spec.Tolerations {
			if spec.Tolerations[i].MatchToleration(&t) {
				spec.Tolerations[i] = t
				return
			}
		}
		spec.Tolerations = append(spec.Tolerations, t)
	}
	add(v1.TaintNodeNotReady, v1.TaintEffectNoExecute)
	add(v1.TaintNodeUnreachable, v1.TaintEffectNoExecute)
	add(v1.TaintNodeDiskPressure, v1.TaintEffectNoSchedule)
	add(v1.TaintNodeMemoryPressure, v1.TaintEffectNoSchedule)
	add(v1.TaintNodePIDPressure, v1.TaintEffectNoSchedule)
	add(v1.TaintNodeUnschedulable, v1.TaintEffectNoSchedule)
	if spec.HostNetwork {
		add(v1.TaintNodeNetworkUnavailable, v1.TaintEffectNoSchedule)
	}
}

// TemplateGeneration is ds's template generation annotation, or nil.
func TemplateGeneration(ds *appsv1.DaemonSet) *int64 {
	v, ok := ds.Annotations[TemplateGenerationAnnotation]
	if !ok {
		return nil
	}
	g, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil
	}
	return &g
}

// NewPod is the pod ds creates for node: its template with the daemon
// tolerations, the controller-revision-hash (and template generation)
// labels, generateName <ds>-, ds as controller, and a required node
// affinity to exactly node (matchFields metadata.name) that the
// scheduler honours.
func NewPod(ds *appsv1.DaemonSet, hash, node string) *v1.Pod {
	t := ds.Spec.Template.DeepCopy()
	AddDaemonTolerations(&t.Spec)
	lbls := make(map[string]string, len(t.Labels)+2)
	for k, v := range t.Labels {
		lbls[k] = v
	}
	if g := TemplateGeneration(ds); g != nil {
		lbls[TemplateGenerationLabel] = strconv.FormatInt(*g, 10)
	}
	if hash != "" {
		lbls[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	}
	t.Spec.Affinity = nodeNameAffinity(t.Spec.Affinity, node)
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    ds.Name + "-",
			Namespace:       ds.Namespace,
			Labels:          lbls,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*ControllerRef(ds)},
		},
		Spec: t.Spec,
	}
}

// nodeNameAffinity replaces the required node terms of a with one that
// selects node by name (the node was already checked against them).
func nodeNameAffinity(a *v1.Affinity, node string) *v1.Affinity {
	sel := &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchFields: []v1.NodeSelectorRequirement{{
		Key: metav1.ObjectNameField, Operator: v1.NodeSelectorOpIn, Values: []string{node},
	}}}}}
	if a == nil {
		a = &v1.Affinity{}
	}
	if a.NodeAffinity == nil {
		a.NodeAffinity = &v1.NodeAffinity{}
	}
	a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = sel
	return a
}

// TargetNode is the node a daemon pod runs on or is meant for: its
// nodeName, or the single metadata.name of its required node affinity.
func TargetNode(pod *v1.Pod) (string, bool) {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName, true
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return "", false
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range term.MatchFields {
			if f.Key == metav1.ObjectNameField && f.Operator == v1.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0], true
			}
		}
	}
	return "", false
}

// ControllerRef is the ownerReference ds puts on its pods and revisions.
func ControllerRef(ds *appsv1.DaemonSet) *metav1.OwnerReference {
	return metav1.NewControllerRef(ds, appsv1.SchemeGroupVersion.WithKind("DaemonSet"))
}

// ByNode groups a daemon set's pods by target node, leaving out terminal
// pods already being deleted and pods with no target node.
func ByNode(pods []*v1.Pod) NodePods {
	out := NodePods{}
	for _, p := range pods {
		if terminal(p) && p.DeletionTimestamp != nil {
			continue
		}
		if n, ok := TargetNode(p); ok {
			out[n] = append(out[n], p)
		}
	}
	return out
}

func terminal(p *v1.Pod) bool {
	return p.Status.Phase == v1.PodFailed || p.Status.Phase == v1.PodSucceeded
}

// Plan is what one step of a sync does.
type Plan struct {
	// Create are the nodes that get a new daemon pod.
	Create []string
	// Delete are the daemon pods to delete.
	Delete []*v1.Pod
	// Failed are failed daemon pods to delete, unless their node is in
	// back-off (the sync decides): a kubelet that keeps rejecting the pod
	// must not make the controller hot-loop.
	Failed []*v1.Pod
}

// Manage plans the pods of ds so that every node that should run one has
// one (upstream's manage): nodes that should run a pod and have none get
// one; on nodes where a pod may stay, failed and succeeded pods go and,
// without surge, all but the oldest; nodes where no pod may stay lose
// theirs; unscheduled pods meant for a node that no longer exists go.
func Manage(ds *appsv1.DaemonSet, nodes []*v1.Node, byNode NodePods, hash string, now time.Time) Plan {
	var p Plan
	surge := allowsSurge(ds)
	for _, node := range nodes {
		shouldRun, shouldContinue := NodeShouldRun(node, ds)
		pods, exists := byNode[node.Name]
		switch {
		case shouldRun && !exists:
			p.Create = append(p.Create, node.Name)
		case shouldContinue:
			var running []*v1.Pod
			for _, pod := range pods {
				switch {
				case pod.DeletionTimestamp != nil:
				case pod.Status.Phase == v1.PodFailed:
					p.Failed = append(p.Failed, pod)
				case pod.Status.Phase == v1.PodSucceeded:
					p.Delete = append(p.Delete, pod)
				default:
					running = append(running, pod)
				}
			}
			if len(running) < 2 {
				break
			}
			sortOldestFirst(running)
			if !surge {
				p.Delete = append(p.Delete, running[1:]...)
				break
			}
			// With surge a node may hold one old and one new pod: keep the
			// oldest of each, and drop the old one once the new is
			// available (or the old one is not ready anyway).
			var oldestNew, oldestOld *v1.Pod
			for _, pod := range running {
				switch {
				case isUpdated(pod, hash, ds) && oldestNew == nil:
					oldestNew = pod
				case !isUpdated(pod, hash, ds) && oldestOld == nil:
					oldestOld = pod
				default:
					p.Delete = append(p.Delete, pod)
				}
			}
			if oldestNew != nil && oldestOld != nil &&
				(!controller.IsPodReady(oldestOld) || controller.IsPodAvailable(oldestNew, ds.Spec.MinReadySeconds, now)) {
				p.Delete = append(p.Delete, oldestOld)
			}
		case exists:
			for _, pod := range pods {
				if pod.DeletionTimestamp == nil {
					p.Delete = append(p.Delete, pod)
				}
			}
		}
	}
	known := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		known[n.Name] = true
	}
	for _, name := range sortedNodes(byNode) {
		if known[name] {
			continue
		}
		for _, pod := range byNode[name] {
			if pod.Spec.NodeName == "" && pod.DeletionTimestamp == nil {
				p.Delete = append(p.Delete, pod)
			}
		}
	}
	return p
}

// RollingUpdate plans one step of replacing ds's out-of-date pods
// (upstream's rollingUpdate). Without surge it deletes old pods while
// fewer than maxUnavailable nodes lack an available up-to-date pod (old
// pods that are not available anyway go at once); the manage step then
// creates their replacements. With surge it creates new pods beside old
// ones on up to maxSurge nodes and deletes each old pod once its
// replacement is available.
func RollingUpdate(ds *appsv1.DaemonSet, nodes []*v1.Node, byNode NodePods, hash string, now time.Time) Plan {
	desired := NodePods{}
	for n, pods := range byNode {
		desired[n] = pods
	}
	want := 0
	nodeByName := make(map[string]*v1.Node, len(nodes))
	for _, node := range nodes {
		nodeByName[node.Name] = node
		if run, _ := NodeShouldRun(node, ds); run {
			want++
			if _, ok := desired[node.Name]; !ok {
				desired[node.Name] = nil
			}
		}
	}
	maxSurge, maxUnavailable := surgeCount(ds, want), unavailableCount(ds, want)
	if want > 0 && maxSurge == 0 && maxUnavailable == 0 {
		maxUnavailable = 1
	}
	available := func(p *v1.Pod) bool { return controller.IsPodAvailable(p, ds.Spec.MinReadySeconds, now) }
	var p Plan
	if maxSurge == 0 {
		unavailable := 0
		var replace, candidates []*v1.Pod
		for _, name := range sortedNodes(desired) {
			newPod, oldPod, ok := updatedOnNode(ds, desired[name], hash)
			switch {
			case !ok, newPod == nil && oldPod == nil, newPod != nil && oldPod != nil:
				// The manage step sorts this node out; it counts as unavailable.
				unavailable++
			case newPod != nil:
				if !available(newPod) {
					unavailable++
				}
			case !available(oldPod):
				replace = append(replace, oldPod)
			case unavailable < maxUnavailable:
				candidates = append(candidates, oldPod)
			}
		}
		n := min(max(maxUnavailable-unavailable, 0), len(candidates))
		p.Delete = append(replace, candidates[:n]...)
		return p
	}
	surged := 0
	var allowed, candidates []string
	for _, name := range sortedNodes(desired) {
		newPod, oldPod, ok := updatedOnNode(ds, desired[name], hash)
		switch {
		case !ok, oldPod == nil:
		case newPod == nil:
			switch {
			case !available(oldPod):
				if node := nodeByName[name]; node != nil {
					if run, _ := NodeShouldRun(node, ds); !run {
						p.Delete = append(p.Delete, oldPod)
						continue
					}
				}
				allowed = append(allowed, name)
			case surged < maxSurge:
				candidates = append(candidates, name)
			}
		default:
			if !available(newPod) {
				surged++
				continue
			}
			p.Delete = append(p.Delete, oldPod)
		}
	}
	n := min(max(maxSurge-surged, 0), len(candidates))
	p.Create = append(allowed, candidates[:n]...)
	return p
}

// updatedOnNode returns the up-to-date and the out-of-date pod of a
// node's pods not being deleted; ok is false when there are two of
// either (the manage step removes the extra first).
func updatedOnNode(ds *appsv1.DaemonSet, pods []*v1.Pod, hash string) (newPod, oldPod *v1.Pod, ok bool) {
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil {
			continue
		}
		if isUpdated(pod, hash, ds) {
			if newPod != nil {
				return nil, nil, false
			}
			newPod = pod
		} else {
			if oldPod != nil {
				return nil, nil, false
			}
			oldPod = pod
		}
	}
	return newPod, oldPod, true
}

// isUpdated reports whether pod runs ds's current template: its
// controller-revision-hash is hash, or its template generation label
// is ds's.
func isUpdated(pod *v1.Pod, hash string, ds *appsv1.DaemonSet) bool {
	if hash != "" && pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash {
		return true
	}
	g := TemplateGeneration(ds)
	return g != nil && pod.Labels[TemplateGenerationLabel] == strconv.FormatInt(*g, 10)
}

// Status counts ds's pods as upstream's status: per node that should
// run a pod, whether it has one, and whether its oldest is ready,
// available and up to date; pods on other nodes are misscheduled.
// ObservedGeneration and CollisionCount are the caller's.
func Status(ds *appsv1.DaemonSet, nodes []*v1.Node, byNode NodePods, hash string, now time.Time) appsv1.DaemonSetStatus {
	st := *ds.Status.DeepCopy()
	var desired, current, mis, ready, available, updated int32
	for _, node := range nodes {
		shouldRun, _ := NodeShouldRun(node, ds)
		pods := byNode[node.Name]
		if !shouldRun {
			if len(pods) > 0 {
				mis++
			}
			continue
		}
		desired++
		if len(pods) == 0 {
			continue
		}
		current++
		sorted := append([]*v1.Pod(nil), pods...)
		sortOldestFirst(sorted)
		pod := sorted[0]
		if controller.IsPodReady(pod) {
			ready++
			if controller.IsPodAvailable(pod, ds.Spec.MinReadySeconds, now) {
				available++
			}
		}
		if isUpdated(pod, hash, ds) {
			updated++
		}
	}
	st.DesiredNumberScheduled = desired
	st.CurrentNumberScheduled = current
	st.NumberMisscheduled = mis
	st.NumberReady = ready
	st.NumberAvailable = available
	st.UpdatedNumberScheduled = updated
	st.NumberUnavailable = desired - available
	return st
}

// sortOldestFirst orders pods scheduled first, then by creation time,
// then by name (upstream's podByCreationTimestampAndPhase).
func sortOldestFirst(pods []*v1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := pods[i], pods[j]
		if (a.Spec.NodeName != "") != (b.Spec.NodeName != "") {
			return a.Spec.NodeName != ""
		}
		if a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.Name < b.Name
		}
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	})
}

func sortedNodes(m NodePods) []string {
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func allowsSurge(ds *appsv1.DaemonSet) bool { return surgeCount(ds, 1) != 0 }

// surgeCount is maxSurge scaled to n nodes, rounded up; 0 without a
// RollingUpdate strategy.
func surgeCount(ds *appsv1.DaemonSet, n int) int {
	r := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || r == nil || r.MaxSurge == nil {
		return 0
	}
	v, err := intstr.GetScaledValueFromIntOrPercent(r.MaxSurge, n, true)
	if err != nil {
		return 0
	}
	return v
}

// unavailableCount is maxUnavailable scaled to n nodes, rounded up.
func unavailableCount(ds *appsv1.DaemonSet, n int) int {
	r := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || r == nil || r.MaxUnavailable == nil {
		return 0
	}
	v, err := intstr.GetScaledValueFromIntOrPercent(r.MaxUnavailable, n, true)
	if err != nil {
		return 0
	}
	return v
}

// HistoryData is what a ControllerRevision of ds stores: a strategic
// merge patch that replaces spec.template (what `kubectl rollout undo`
// applies). Revisions match ds when their data equals it.
func HistoryData(ds *appsv1.DaemonSet) ([]byte, error) {
	return history.TemplatePatch(&ds.Spec.Template)
}

// NewRevision is the ControllerRevision that records ds's current
// template as revision.
func NewRevision(ds *appsv1.DaemonSet, revision int64) (*appsv1.ControllerRevision, error) {
	data, err := HistoryData(ds)
	if err != nil {
		return nil, err
	}
	hash := controller.ComputeHash(&ds.Spec.Template, ds.Status.CollisionCount)
	lbls := make(map[string]string, len(ds.Spec.Template.Labels)+1)
	for k, v := range ds.Spec.Template.Labels {
		lbls[k] = v
	}
	lbls[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            history.Name(ds.Name, hash),
			Namespace:       ds.Namespace,
			Labels:          lbls,
			Annotations:     ds.Annotations,
			OwnerReferences: []metav1.OwnerReference{*ControllerRef(ds)},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: revision,
	}, nil
}

// RevisionsToDelete picks the old revisions beyond limit to delete,
// oldest first, sparing those whose hash a live pod still carries (the
// spared ones count toward the limit, as upstream's cleanupHistory).
func RevisionsToDelete(old []*appsv1.ControllerRevision, limit int32, pods []*v1.Pod) []*appsv1.ControllerRevision {
	excess := len(old) - int(limit)
	if excess <= 0 {
		return nil
	}
	hashes := map[string]bool{}
	for _, p := range pods {
		if h := p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]; h != "" {
			hashes[h] = true
		}
	}
	live := map[string]bool{}
	for _, r := range old {
		live[r.Name] = hashes[r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]]
	}
	sorted := append([]*appsv1.ControllerRevision(nil), old...)
	history.Sort(sorted)
	return history.OldestUnused(sorted, live, excess)
}
