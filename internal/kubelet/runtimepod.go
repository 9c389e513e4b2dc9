package kubelet

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Labels and annotations the kubelet puts on CRI objects, upstream's
// io.kubernetes.* keys: a restarted kubelet finds its pods' sandboxes and
// containers, and what it needs to stop them, from these alone.
const (
	labelPodName       = "io.kubernetes.pod.name"
	labelPodNamespace  = "io.kubernetes.pod.namespace"
	labelPodUID        = "io.kubernetes.pod.uid"
	labelContainerName = "io.kubernetes.container.name"

	annotationContainerHash          = "io.kubernetes.container.hash"
	annotationRestartCount           = "io.kubernetes.container.restartCount"
	annotationTerminationMessagePath = "io.kubernetes.container.terminationMessagePath"
	annotationTerminationPolicy      = "io.kubernetes.container.terminationMessagePolicy"
	annotationPodDeletionGrace       = "io.kubernetes.pod.deletionGracePeriod"
	annotationPodTerminationGrace    = "io.kubernetes.pod.terminationGracePeriod"
	annotationContainerPorts         = "io.kubernetes.container.ports"
)

// containerState is a CRI container's state as the kubelet sees it.
type containerState int

const (
	stateUnknown containerState = iota
	stateCreated
	stateRunning
	stateExited
)

func (s containerState) String() string {
	return [...]string{"unknown", "created", "running", "exited"}[s]
}

// sandboxStatus is one CRI sandbox of a pod.
type sandboxStatus struct {
	ID          string
	Attempt     uint32
	Ready       bool
	IPs         []string
	HostNetwork bool
	CreatedAt   time.Time
}

// containerStatus is one CRI container of a pod, with what the kubelet
// wrote in its labels and annotations parsed back.
type containerStatus struct {
	ID           string
	Name         string
	SandboxID    string
	State        containerState
	CreatedAt    time.Time
	StartedAt    time.Time
	FinishedAt   time.Time
	ExitCode     int32
	Reason       string
	Message      string
	Image        string
	ImageRef     string
	RestartCount int32
	Hash         string
	// Grace is the pod's termination grace period when the container was
	// created, so that an orphan can be stopped as its pod asked.
	Grace int64
}

// runtimePod is everything the CRI says about one pod: the input of the
// pure sync plan and status computation.
type runtimePod struct {
	UID       types.UID
	Name      string
	Namespace string
	// Sandboxes and Containers are newest first.
	Sandboxes  []sandboxStatus
	Containers []containerStatus
}

// latest is the newest container of that name, or nil.
func (p *runtimePod) latest(name string) *containerStatus {
	if p == nil {
		return nil
	}
	for i := range p.Containers {
		if p.Containers[i].Name == name {
			return &p.Containers[i]
		}
	}
	return nil
}

// latestActive is the newest container of that name in the newest
// sandbox: what a restarted sandbox must start again ignores the rest.
func (p *runtimePod) latestActive(name string) *containerStatus {
	if p == nil || len(p.Sandboxes) == 0 {
		return nil
	}
	sb := p.Sandboxes[0].ID
	for i := range p.Containers {
		if p.Containers[i].Name == name && p.Containers[i].SandboxID == sb {
			return &p.Containers[i]
		}
	}
	return nil
}

// latestExited is the newest exited container of that name: the one whose
// end starts a crash-loop back-off.
func (p *runtimePod) latestExited(name string) *containerStatus {
	if p == nil {
		return nil
	}
	for i := range p.Containers {
		if p.Containers[i].Name == name && p.Containers[i].State == stateExited {
			return &p.Containers[i]
		}
	}
	return nil
}

// running lists the containers the runtime still runs (or may: unknown
// and created ones are stopped too, to be sure).
func (p *runtimePod) running() []containerStatus {
	var out []containerStatus
	for _, c := range p.Containers {
		if c.State != stateExited {
			out = append(out, c)
		}
	}
	return out
}

func (p *runtimePod) readySandboxes() []sandboxStatus {
	var out []sandboxStatus
	for _, s := range p.Sandboxes {
		if s.Ready {
			out = append(out, s)
		}
	}
	return out
}

// containerHash identifies what of a container's spec requires a new
// container when it changes: as upstream v1.37, its name and image.
func containerHash(c *v1.Container) string {
	h := fnv.New64a()
	h.Write([]byte(c.Name))
	h.Write([]byte{0})
	h.Write([]byte(c.Image))
	return strconv.FormatUint(h.Sum64(), 16)
}

func sandboxLabels(pod *v1.Pod) map[string]string {
	l := make(map[string]string, len(pod.Labels)+3)
	for k, v := range pod.Labels {
		l[k] = v
	}
	l[labelPodName] = pod.Name
	l[labelPodNamespace] = pod.Namespace
	l[labelPodUID] = string(pod.UID)
	return l
}

func containerLabels(pod *v1.Pod, c *v1.Container) map[string]string {
	return map[string]string{
		labelPodName:       pod.Name,
		labelPodNamespace:  pod.Namespace,
		labelPodUID:        string(pod.UID),
		labelContainerName: c.Name,
	}
}

func containerAnnotations(pod *v1.Pod, c *v1.Container, restartCount int32) map[string]string {
	a := map[string]string{
		annotationContainerHash:          containerHash(c),
		annotationRestartCount:           strconv.Itoa(int(restartCount)),
		annotationTerminationMessagePath: c.TerminationMessagePath,
		annotationTerminationPolicy:      string(c.TerminationMessagePolicy),
		annotationPodTerminationGrace:    strconv.FormatInt(terminationGrace(pod), 10),
	}
	if pod.DeletionGracePeriodSeconds != nil {
		a[annotationPodDeletionGrace] = strconv.FormatInt(*pod.DeletionGracePeriodSeconds, 10)
	}
	if len(c.Ports) > 0 {
		if b, err := json.Marshal(c.Ports); err == nil {
			a[annotationContainerPorts] = string(b)
		}
	}
	return a
}

func terminationGrace(pod *v1.Pod) int64 {
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return v1.DefaultTerminationGracePeriodSeconds
}

// criRuntime is the part of the CRI the pod view reads.
type criReader interface {
	ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error)
	PodSandboxStatus(ctx context.Context, id string, verbose bool) (*runtimeapi.PodSandboxStatusResponse, error)
	ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error)
	ContainerStatus(ctx context.Context, id string, verbose bool) (*runtimeapi.ContainerStatusResponse, error)
}

// readRuntimePod asks the CRI for everything about the pod with that UID.
func readRuntimePod(ctx context.Context, rt criReader, uid types.UID) (*runtimePod, error) {
	sel := map[string]string{labelPodUID: string(uid)}
	sbs, err := rt.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list sandboxes: %w", err)
	}
	p := &runtimePod{UID: uid}
	for _, sb := range sbs {
		p.Name, p.Namespace = sb.GetLabels()[labelPodName], sb.GetLabels()[labelPodNamespace]
		s := sandboxStatus{
			ID: sb.Id, Attempt: sb.GetMetadata().GetAttempt(), Ready: sb.State == runtimeapi.PodSandboxState_SANDBOX_READY,
			CreatedAt: time.Unix(0, sb.CreatedAt),
		}
		if s.Ready {
			st, err := rt.PodSandboxStatus(ctx, sb.Id, false)
			if err != nil {
				return nil, fmt.Errorf("sandbox %s status: %w", sb.Id, err)
			}
			s.HostNetwork = st.GetStatus().GetLinux().GetNamespaces().GetOptions().GetNetwork() == runtimeapi.NamespaceMode_NODE
			if ip := st.GetStatus().GetNetwork().GetIp(); ip != "" {
				s.IPs = append(s.IPs, ip)
			}
			for _, extra := range st.GetStatus().GetNetwork().GetAdditionalIps() {
				s.IPs = append(s.IPs, extra.GetIp())
			}
		}
		p.Sandboxes = append(p.Sandboxes, s)
	}
	sort.SliceStable(p.Sandboxes, func(i, j int) bool { return p.Sandboxes[i].CreatedAt.After(p.Sandboxes[j].CreatedAt) })

	cs, err := rt.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: sel})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range cs {
		st, err := rt.ContainerStatus(ctx, c.Id, false)
		if err != nil {
			continue // removed meanwhile
		}
		cs := fromCRIContainer(st.GetStatus(), c.PodSandboxId)
		if cs.State == stateExited {
			cs.Message = withTerminationMessage(cs.Message, terminationMessage(st.GetStatus()))
		}
		p.Containers = append(p.Containers, cs)
		if p.Name == "" {
			p.Name, p.Namespace = c.GetLabels()[labelPodName], c.GetLabels()[labelPodNamespace]
		}
	}
	sort.SliceStable(p.Containers, func(i, j int) bool { return p.Containers[i].CreatedAt.After(p.Containers[j].CreatedAt) })
	return p, nil
}

func fromCRIContainer(s *runtimeapi.ContainerStatus, sandboxID string) containerStatus {
	a := s.GetAnnotations()
	rc, _ := strconv.Atoi(a[annotationRestartCount])
	grace, err := strconv.ParseInt(a[annotationPodTerminationGrace], 10, 64)
	if err != nil {
		grace = v1.DefaultTerminationGracePeriodSeconds
	}
	if g, err := strconv.ParseInt(a[annotationPodDeletionGrace], 10, 64); err == nil {
		grace = g
	}
	c := containerStatus{
		ID: s.GetId(), Name: s.GetLabels()[labelContainerName], SandboxID: sandboxID,
		ExitCode: s.GetExitCode(), Reason: s.GetReason(), Message: s.GetMessage(),
		Image: s.GetImage().GetImage(), ImageRef: s.GetImageRef(),
		RestartCount: int32(rc), Hash: a[annotationContainerHash], Grace: grace,
	}
	if c.Image == "" || strings.HasPrefix(c.Image, "sha256:") {
		c.Image = s.GetImage().GetUserSpecifiedImage()
	}
	if c.Name == "" {
		c.Name = s.GetMetadata().GetName()
	}
	switch s.GetState() {
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		c.State = stateCreated
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		c.State = stateRunning
	case runtimeapi.ContainerState_CONTAINER_EXITED:
		c.State = stateExited
	default:
		c.State = stateUnknown
	}
	if s.GetCreatedAt() != 0 {
		c.CreatedAt = time.Unix(0, s.GetCreatedAt())
	}
	if s.GetStartedAt() != 0 {
		c.StartedAt = time.Unix(0, s.GetStartedAt())
	}
	if s.GetFinishedAt() != 0 {
		c.FinishedAt = time.Unix(0, s.GetFinishedAt())
	}
	return c
}
