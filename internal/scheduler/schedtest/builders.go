// Package schedtest builds the pods and nodes the scheduler's table tests
// use, so a test case reads as one line:
//
//	schedtest.Pod("web").Req("cpu", "500m").Label("app", "web").Obj()
//	schedtest.Node("n1").Cap("cpu", "2", "memory", "4Gi").Zone("a").Obj()
package schedtest

import (
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// PodWrapper builds a pod.
type PodWrapper struct{ p *v1.Pod }

// Pod starts a pod in namespace "default" with UID = name and one
// container "c" without requests.
func Pod(name string) *PodWrapper {
	return &PodWrapper{p: &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "pause"}}},
	}}
}

// Obj returns the pod.
func (w *PodWrapper) Obj() *v1.Pod { return w.p }

// Namespace sets the namespace.
func (w *PodWrapper) Namespace(ns string) *PodWrapper { w.p.Namespace = ns; return w }

// UID sets the UID.
func (w *PodWrapper) UID(uid string) *PodWrapper { w.p.UID = types.UID(uid); return w }

// Node sets spec.nodeName.
func (w *PodWrapper) Node(name string) *PodWrapper { w.p.Spec.NodeName = name; return w }

// Label adds labels, as key, value pairs.
func (w *PodWrapper) Label(kv ...string) *PodWrapper {
	if w.p.Labels == nil {
		w.p.Labels = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		w.p.Labels[kv[i]] = kv[i+1]
	}
	return w
}

// Priority sets spec.priority.
func (w *PodWrapper) Priority(p int32) *PodWrapper { w.p.Spec.Priority = &p; return w }

// PreemptNever sets preemptionPolicy Never.
func (w *PodWrapper) PreemptNever() *PodWrapper {
	never := v1.PreemptNever
	w.p.Spec.PreemptionPolicy = &never
	return w
}

// StartTime sets status.startTime.
func (w *PodWrapper) StartTime(t time.Time) *PodWrapper {
	mt := metav1.NewTime(t)
	w.p.Status.StartTime = &mt
	return w
}

// Nominated sets status.nominatedNodeName.
func (w *PodWrapper) Nominated(node string) *PodWrapper {
	w.p.Status.NominatedNodeName = node
	return w
}

// Req sets the requests of the first container, as name, quantity pairs.
func (w *PodWrapper) Req(kv ...string) *PodWrapper {
	w.p.Spec.Containers[0].Resources.Requests = List(kv...)
	return w
}

// Container adds a container with requests.
func (w *PodWrapper) Container(image string, kv ...string) *PodWrapper {
	w.p.Spec.Containers = append(w.p.Spec.Containers, v1.Container{
		Name: fmt.Sprintf("c%d", len(w.p.Spec.Containers)), Image: image,
		Resources: v1.ResourceRequirements{Requests: List(kv...)},
	})
	return w
}

// Image sets the first container's image.
func (w *PodWrapper) Image(image string) *PodWrapper { w.p.Spec.Containers[0].Image = image; return w }

// Init adds an init container with requests.
func (w *PodWrapper) Init(kv ...string) *PodWrapper {
	w.p.Spec.InitContainers = append(w.p.Spec.InitContainers, v1.Container{
		Name: fmt.Sprintf("init%d", len(w.p.Spec.InitContainers)), Image: "pause",
		Resources: v1.ResourceRequirements{Requests: List(kv...)},
	})
	return w
}

// Sidecar adds a restartable init container with requests.
func (w *PodWrapper) Sidecar(kv ...string) *PodWrapper {
	always := v1.ContainerRestartPolicyAlways
	w.p.Spec.InitContainers = append(w.p.Spec.InitContainers, v1.Container{
		Name: fmt.Sprintf("init%d", len(w.p.Spec.InitContainers)), Image: "pause", RestartPolicy: &always,
		Resources: v1.ResourceRequirements{Requests: List(kv...)},
	})
	return w
}

// Overhead sets spec.overhead.
func (w *PodWrapper) Overhead(kv ...string) *PodWrapper { w.p.Spec.Overhead = List(kv...); return w }

// PodLevel sets pod-level requests (spec.resources.requests).
func (w *PodWrapper) PodLevel(kv ...string) *PodWrapper {
	w.p.Spec.Resources = &v1.ResourceRequirements{Requests: List(kv...)}
	return w
}

// HostPort adds a host port on the first container.
func (w *PodWrapper) HostPort(port int32, protocol v1.Protocol, ip string) *PodWrapper {
	c := &w.p.Spec.Containers[0]
	c.Ports = append(c.Ports, v1.ContainerPort{HostPort: port, ContainerPort: port, Protocol: protocol, HostIP: ip})
	return w
}

// NodeSelector adds nodeSelector entries, as key, value pairs.
func (w *PodWrapper) NodeSelector(kv ...string) *PodWrapper {
	if w.p.Spec.NodeSelector == nil {
		w.p.Spec.NodeSelector = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		w.p.Spec.NodeSelector[kv[i]] = kv[i+1]
	}
	return w
}

func (w *PodWrapper) nodeAffinity() *v1.NodeAffinity {
	if w.p.Spec.Affinity == nil {
		w.p.Spec.Affinity = &v1.Affinity{}
	}
	if w.p.Spec.Affinity.NodeAffinity == nil {
		w.p.Spec.Affinity.NodeAffinity = &v1.NodeAffinity{}
	}
	return w.p.Spec.Affinity.NodeAffinity
}

// RequiredNodeTerm adds a required node selector term (terms are ORed).
func (w *PodWrapper) RequiredNodeTerm(t v1.NodeSelectorTerm) *PodWrapper {
	na := w.nodeAffinity()
	if na.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		na.RequiredDuringSchedulingIgnoredDuringExecution = &v1.NodeSelector{}
	}
	r := na.RequiredDuringSchedulingIgnoredDuringExecution
	r.NodeSelectorTerms = append(r.NodeSelectorTerms, t)
	return w
}

// PreferredNodeTerm adds a weighted preferred node selector term.
func (w *PodWrapper) PreferredNodeTerm(weight int32, t v1.NodeSelectorTerm) *PodWrapper {
	na := w.nodeAffinity()
	na.PreferredDuringSchedulingIgnoredDuringExecution = append(na.PreferredDuringSchedulingIgnoredDuringExecution,
		v1.PreferredSchedulingTerm{Weight: weight, Preference: t})
	return w
}

// Expr is a node selector requirement.
func Expr(key string, op v1.NodeSelectorOperator, values ...string) v1.NodeSelectorRequirement {
	return v1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

// Term is a node selector term of label expressions.
func Term(exprs ...v1.NodeSelectorRequirement) v1.NodeSelectorTerm {
	return v1.NodeSelectorTerm{MatchExpressions: exprs}
}

// Toleration adds a toleration.
func (w *PodWrapper) Toleration(key string, op v1.TolerationOperator, value string, effect v1.TaintEffect) *PodWrapper {
	w.p.Spec.Tolerations = append(w.p.Spec.Tolerations, v1.Toleration{Key: key, Operator: op, Value: value, Effect: effect})
	return w
}

// AffinityTerm is a pod affinity term selecting pods with the label
// key=value, within topologyKey.
func AffinityTerm(topologyKey, key, value string) v1.PodAffinityTerm {
	return v1.PodAffinityTerm{
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{key: value}},
		TopologyKey:   topologyKey,
	}
}

func (w *PodWrapper) affinity() *v1.Affinity {
	if w.p.Spec.Affinity == nil {
		w.p.Spec.Affinity = &v1.Affinity{}
	}
	return w.p.Spec.Affinity
}

// PodAffinity adds a required pod affinity term.
func (w *PodWrapper) PodAffinity(t v1.PodAffinityTerm) *PodWrapper {
	a := w.affinity()
	if a.PodAffinity == nil {
		a.PodAffinity = &v1.PodAffinity{}
	}
	a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution, t)
	return w
}

// PodAntiAffinity adds a required pod anti-affinity term.
func (w *PodWrapper) PodAntiAffinity(t v1.PodAffinityTerm) *PodWrapper {
	a := w.affinity()
	if a.PodAntiAffinity == nil {
		a.PodAntiAffinity = &v1.PodAntiAffinity{}
	}
	a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, t)
	return w
}

// PreferredPodAffinity adds a weighted preferred pod affinity term.
func (w *PodWrapper) PreferredPodAffinity(weight int32, t v1.PodAffinityTerm) *PodWrapper {
	a := w.affinity()
	if a.PodAffinity == nil {
		a.PodAffinity = &v1.PodAffinity{}
	}
	a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PodAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
		v1.WeightedPodAffinityTerm{Weight: weight, PodAffinityTerm: t})
	return w
}

// PreferredPodAntiAffinity adds a weighted preferred pod anti-affinity term.
func (w *PodWrapper) PreferredPodAntiAffinity(weight int32, t v1.PodAffinityTerm) *PodWrapper {
	a := w.affinity()
	if a.PodAntiAffinity == nil {
		a.PodAntiAffinity = &v1.PodAntiAffinity{}
	}
	a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
		v1.WeightedPodAffinityTerm{Weight: weight, PodAffinityTerm: t})
	return w
}

// Spread adds a topology spread constraint selecting pods with key=value.
func (w *PodWrapper) Spread(maxSkew int32, topologyKey string, action v1.UnsatisfiableConstraintAction, key, value string) *PodWrapper {
	w.p.Spec.TopologySpreadConstraints = append(w.p.Spec.TopologySpreadConstraints, v1.TopologySpreadConstraint{
		MaxSkew: maxSkew, TopologyKey: topologyKey, WhenUnsatisfiable: action,
		LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{key: value}},
	})
	return w
}

// Gate adds a scheduling gate.
func (w *PodWrapper) Gate(name string) *PodWrapper {
	w.p.Spec.SchedulingGates = append(w.p.Spec.SchedulingGates, v1.PodSchedulingGate{Name: name})
	return w
}

// NodeWrapper builds a node.
type NodeWrapper struct{ n *v1.Node }

// Node starts a node labelled with its hostname and allocatable room for
// 110 pods.
func Node(name string) *NodeWrapper {
	return &NodeWrapper{n: &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1.LabelHostname: name}},
		Status:     v1.NodeStatus{Allocatable: v1.ResourceList{v1.ResourcePods: resource.MustParse("110")}},
	}}
}

// Obj returns the node.
func (w *NodeWrapper) Obj() *v1.Node { return w.n }

// Cap sets allocatable quantities, as name, quantity pairs.
func (w *NodeWrapper) Cap(kv ...string) *NodeWrapper {
	for k, v := range List(kv...) {
		w.n.Status.Allocatable[k] = v
	}
	return w
}

// Label adds labels, as key, value pairs.
func (w *NodeWrapper) Label(kv ...string) *NodeWrapper {
	for i := 0; i+1 < len(kv); i += 2 {
		w.n.Labels[kv[i]] = kv[i+1]
	}
	return w
}

// Zone sets the zone label.
func (w *NodeWrapper) Zone(z string) *NodeWrapper { return w.Label(v1.LabelTopologyZone, z) }

// Taint adds a taint.
func (w *NodeWrapper) Taint(key, value string, effect v1.TaintEffect) *NodeWrapper {
	w.n.Spec.Taints = append(w.n.Spec.Taints, v1.Taint{Key: key, Value: value, Effect: effect})
	return w
}

// Unschedulable cordons the node.
func (w *NodeWrapper) Unschedulable() *NodeWrapper { w.n.Spec.Unschedulable = true; return w }

// Images adds an image with its names and size.
func (w *NodeWrapper) Images(size int64, names ...string) *NodeWrapper {
	w.n.Status.Images = append(w.n.Status.Images, v1.ContainerImage{Names: names, SizeBytes: size})
	return w
}

// List builds a ResourceList from name, quantity pairs.
func List(kv ...string) v1.ResourceList {
	l := v1.ResourceList{}
	for i := 0; i+1 < len(kv); i += 2 {
		l[v1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return l
}
