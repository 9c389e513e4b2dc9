package kubelet

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"sort"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// Upstream's static and mirror pod annotations (pkg/kubelet/types).
const (
	annotationConfigHash   = "kubernetes.io/config.hash"
	annotationConfigMirror = v1.MirrorPodAnnotationKey
	annotationConfigSource = "kubernetes.io/config.source"
	annotationConfigSeen   = "kubernetes.io/config.seen"
	// staticPodSource is the config.source of Skiff's static pods: the
	// components of the kubelet's own process (upstream has file, http
	// and api).
	staticPodSource = "skiff"
	// staticPodRuntime prefixes the container IDs of static pods.
	staticPodRuntime = "skiff"
	// StaticPodNamespace is where mirror pods go unless a StaticPod
	// names another namespace (kubeadm's static pods are in kube-system).
	StaticPodNamespace = "kube-system"
	// mirrorRecreateDelay is how long a deleted mirror pod stays away.
	mirrorRecreateDelay = time.Second
	// systemNodeCritical is kubeadm's priority class of static pods.
	systemNodeCritical = "system-node-critical"
)

// StaticPod is one component that runs in the kubelet's own process (the
// API server, the scheduler... of `skiff up`), which the kubelet shows as
// a mirror pod, as upstream's kubelet shows the static pods it runs from
// manifests: <Name>-<NodeName> in kube-system, never run through the CRI,
// its status following the component's. Config.StaticPods lists them.
type StaticPod struct {
	// Name is the component's (kube-apiserver, etcd...): the pod's name
	// prefix, its one container's name, its component label.
	Name string
	// Namespace of the mirror pod. Default kube-system.
	Namespace string
	// Labels are added to component=<Name> (e.g. tier=control-plane).
	Labels map[string]string
	// Annotations are added to the mirror pod's config.* ones.
	Annotations map[string]string
	// Command is the component's command line: program and flags.
	Command []string
	// Image names what runs (Skiff's build of the component).
	Image string
	// Resources are the container's requests and limits, as kubeadm's
	// manifests give them (they count towards the node's allocated
	// resources; nothing enforces them).
	Resources v1.ResourceRequirements

	// Started is when the component started; zero while it waits for an
	// earlier one (the pod is Pending).
	Started time.Time
	// Finished is when it stopped; zero while it runs.
	Finished time.Time
	// Ready is the component's health while it runs.
	Ready bool
	// ExitCode, Reason and Message describe a finished component: 0 and
	// Completed for one stopped on request, 1, Error and the error for
	// one that failed.
	ExitCode        int32
	Reason, Message string
	RestartCount    int32
	// ReportsProcess puts the whole process's CPU time and resident
	// memory on this pod in /stats/summary and /metrics/resource (so
	// `kubectl top pods` shows them): the components of one process
	// cannot be measured apart, so one pod carries them all.
	ReportsProcess bool
	// LogPath is the component's log in the CRI log format, which
	// /containerLogs serves; LogPath+".1" is the previous process's.
	LogPath string
}

// mirrorPodName is the mirror pod's name, as upstream: the static pod's
// name and the node's.
func mirrorPodName(sp StaticPod, nodeName string) string { return sp.Name + "-" + nodeName }

func (sp StaticPod) namespace() string {
	if sp.Namespace == "" {
		return StaticPodNamespace
	}
	return sp.Namespace
}

// mirrorChangeWakes says whether a mirror pod's change (old nil: it was
// added) needs a mirror sync now: an added pod, a deletion asked for, or
// other annotations or spec (someone edited it). A status change, as the
// loop's own status writes, waits for the next periodic sync.
func mirrorChangeWakes(old, cur *v1.Pod) bool {
	return old == nil ||
		cur.DeletionTimestamp != nil && old.DeletionTimestamp == nil ||
		!maps.Equal(old.Annotations, cur.Annotations) ||
		!equality.Semantic.DeepEqual(old.Spec, cur.Spec)
}

// isMirrorPod says whether a pod is a mirror pod (of any kubelet).
func isMirrorPod(pod *v1.Pod) bool {
	_, ok := pod.Annotations[annotationConfigMirror]
	return ok
}

// staticPodSpec is the pod a static pod stands for, without the mirror
// annotations; its hash names its definition.
func staticPodSpec(sp StaticPod, nodeName string) *v1.Pod {
	labels := map[string]string{"component": sp.Name}
	for k, v := range sp.Labels {
		labels[k] = v
	}
	annotations := map[string]string{}
	for k, v := range sp.Annotations {
		annotations[k] = v
	}
	return &v1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: mirrorPodName(sp, nodeName), Namespace: sp.namespace(),
			Labels: labels, Annotations: annotations,
		},
		Spec: v1.PodSpec{
			NodeName:    nodeName,
			HostNetwork: true,
			Containers: []v1.Container{{
				Name: sp.Name, Image: sp.Image, Command: append([]string(nil), sp.Command...),
				Resources: *sp.Resources.DeepCopy(), ImagePullPolicy: v1.PullIfNotPresent,
				TerminationMessagePath: v1.TerminationMessagePathDefault, TerminationMessagePolicy: v1.TerminationMessageReadFile,
			}},
			RestartPolicy:     v1.RestartPolicyAlways,
			PriorityClassName: systemNodeCritical,
			// kubeadm's: static pods stay through NoExecute taints.
			Tolerations:     []v1.Toleration{{Operator: v1.TolerationOpExists, Effect: v1.TaintEffectNoExecute}},
			SecurityContext: &v1.PodSecurityContext{SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault}},
		},
	}
}

// staticPodHash is the config.hash of a static pod: a digest of its
// definition (a changed command line makes another pod).
func staticPodHash(pod *v1.Pod) string {
	b, _ := json.Marshal(pod)
	h := fnv.New128a()
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// nodeOwner is the Node that owns this kubelet's mirror pods.
type nodeOwner struct {
	Name string
	UID  types.UID
	// Gone says the Node is missing or being deleted: no mirror pod is
	// created (it would be owned by a Node the garbage collector is
	// removing), as upstream's kubelet ("No need to create a mirror pod,
	// since node has been removed").
	Gone bool
}

// mirrorOwner is the owner of the mirror pods of node name given its
// Node as the API server has it now (nil: not found).
func mirrorOwner(name string, node *v1.Node) nodeOwner {
	if node == nil || node.DeletionTimestamp != nil {
		return nodeOwner{Name: name, Gone: true}
	}
	return nodeOwner{Name: name, UID: node.UID}
}

// mirrorPod is the mirror pod to create for a static pod, as upstream's
// kubelet makes it: the static pod with config.mirror (its hash),
// config.hash, config.source and config.seen, owned by the Node.
func mirrorPod(sp StaticPod, node nodeOwner, seen time.Time) *v1.Pod {
	pod := staticPodSpec(sp, node.Name)
	hash := staticPodHash(pod)
	pod.Annotations[annotationConfigHash] = hash
	pod.Annotations[annotationConfigMirror] = hash
	pod.Annotations[annotationConfigSource] = staticPodSource
	pod.Annotations[annotationConfigSeen] = seen.UTC().Format(time.RFC3339Nano)
	pod.OwnerReferences = []metav1.OwnerReference{{
		APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID, Controller: ptr.To(true),
	}}
	return pod
}

// staticContainerID is the ID of one run of a static pod's component,
// so that each process start is a new container.
func staticContainerID(sp StaticPod) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s/%s/%d", sp.namespace(), sp.Name, sp.Started.UnixNano())))
	return hex.EncodeToString(sum[:])
}

// staticRuntimePod is the CRI view a static pod would have: a ready
// host-network sandbox and the component as its one container.
func staticRuntimePod(sp StaticPod, pod *v1.Pod) *runtimePod {
	rt := &runtimePod{UID: pod.UID, Name: pod.Name, Namespace: pod.Namespace,
		Sandboxes: []sandboxStatus{{ID: "static", Ready: true, HostNetwork: true}}}
	if sp.Started.IsZero() {
		return rt
	}
	// The API keeps times to the second: so does the status, or every
	// comparison with the stored one would differ.
	started := sp.Started.Truncate(time.Second)
	c := containerStatus{
		ID: staticContainerID(sp), Name: sp.Name, State: stateRunning, StartedAt: started, CreatedAt: started,
		Image: sp.Image, RestartCount: sp.RestartCount,
	}
	if !sp.Finished.IsZero() {
		c.State, c.FinishedAt, c.ExitCode, c.Reason, c.Message = stateExited, sp.Finished.Truncate(time.Second), sp.ExitCode, sp.Reason, sp.Message
	}
	rt.Containers = []containerStatus{c}
	return rt
}

// staticPodStatus is the mirror pod's status: the component's state seen
// through upstream's status rules (phase Running while the pod is meant
// to run, even when its one container has ended, as for any pod of
// restartPolicy Always; Ready and ContainersReady from its health). pod
// is the mirror pod as the API server has it.
func staticPodStatus(sp StaticPod, pod *v1.Pod, nodeIP string, now time.Time) v1.PodStatus {
	in := statusInput{
		Pod: pod, Runtime: staticRuntimePod(sp, pod), RuntimeName: staticPodRuntime,
		HostIPs: []string{nodeIP}, Now: now.Truncate(time.Second),
	}
	if !sp.Ready {
		in.Unready = map[string]bool{sp.Name: true}
	}
	s := generatePodStatus(in)
	if started := sp.Started.Truncate(time.Second); !sp.Started.IsZero() && (pod.Status.StartTime == nil || pod.Status.StartTime.Time.Before(started)) {
		t := metav1.NewTime(started)
		s.StartTime = &t
	}
	return s
}

// mirrorAction is one step of the mirror pod sync.
type mirrorAction struct {
	// Create is a mirror pod to create.
	Create *v1.Pod
	// Delete is a mirror pod to delete (grace 0, UID precondition): one
	// being deleted, of another definition, or of no static pod.
	Delete *v1.Pod
	// Status is the mirror pod with the status to write.
	Status *v1.Pod
}

// planMirrorPods is the mirror pod sync, as upstream's kubelet does it:
// each static pod has a mirror pod of its current definition, whose
// status follows the component; a mirror pod someone deleted is deleted
// for good (grace 0) and made again; a mirror pod of another definition
// or of no static pod is deleted. have are the pods bound to the node; a
// pod of the mirror's name that is not a mirror pod is left alone. It is
// pure.
//
// deleted holds when the kubelet deleted mirror pods (by namespace/name):
// one is made again only mirrorRecreateDelay later, so that a client
// waiting for the deletion (kubectl delete lists, then watches) sees the
// pod gone before a new one of that name appears.
func planMirrorPods(want []StaticPod, have []*v1.Pod, node nodeOwner, nodeIP string, now time.Time, deleted map[string]time.Time) []mirrorAction {
	byKey := map[string]*v1.Pod{}
	for _, p := range have {
		byKey[p.Namespace+"/"+p.Name] = p
	}
	var out []mirrorAction
	wanted := map[string]bool{}
	for _, sp := range want {
		key := sp.namespace() + "/" + mirrorPodName(sp, node.Name)
		wanted[key] = true
		cur := byKey[key]
		switch {
		case cur == nil:
			if t, ok := deleted[key]; node.Gone || ok && now.Sub(t) < mirrorRecreateDelay {
				continue
			}
			out = append(out, mirrorAction{Create: mirrorPod(sp, node, now)})
		case !isMirrorPod(cur):
			// Someone else's pod of that name: upstream leaves it too.
		case cur.DeletionTimestamp != nil || cur.Annotations[annotationConfigMirror] != staticPodHash(staticPodSpec(sp, node.Name)):
			out = append(out, mirrorAction{Delete: cur})
		default:
			s := staticPodStatus(sp, cur, nodeIP, now)
			if !statusEqual(&cur.Status, &s) {
				next := cur.DeepCopy()
				next.Status = s
				out = append(out, mirrorAction{Status: next})
			}
		}
	}
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if p := byKey[k]; isMirrorPod(p) && !wanted[k] {
			out = append(out, mirrorAction{Delete: p})
		}
	}
	return out
}
