// Package simruntime is an in-memory container runtime behind the CRI
// interfaces the kubelet uses (k8s.io/cri-api's RuntimeService and
// ImageManagerService). Sandboxes get IPs from the pod CIDR; containers
// "run" without any process. It is what `--runtime=simulated` and
// `skiff agent --simulate-nodes N` run the real kubelet code against.
//
// Behaviour a test or a scale run can ask for:
//
//   - Config.StartLatency and Config.PullLatency slow StartContainer and
//     PullImage down (the call blocks, as a real runtime's does).
//   - An image fails to pull when Config.PullError says so, or when the
//     pod's annotation sim.skiff.sh/missing-images lists it
//     (comma-separated, as written in the pod spec).
//   - A container exits by itself when the pod's annotation
//     sim.skiff.sh/exit-code-<container> is set (the exit code), after
//     sim.skiff.sh/exit-after-<container> (a Go duration, default 0), or
//     when Config.Exit decides so.
//   - A pull from a registry in Config.Registries fails unless its
//     AuthConfig carries that registry's username and password; Pulls
//     lists every pull with the credential it came with.
//   - ExecSync succeeds, except for the command "false" (exit code 1) and
//     whatever Config.Exec decides.
//   - DialContext reaches a running container's declared ports: TCP
//     connects, HTTP answers 200 "ok" except on the paths the pod's
//     annotation sim.skiff.sh/http-fail-paths lists (answered 500), and
//     gRPC health checks answer SERVING. Anything else is refused. The
//     kubelet's httpGet, tcpSocket and grpc probes use it, so that no
//     probe ever leaves the process.
//
// Container state is computed when it is read (a container whose exit
// time has passed is reported exited), so a runtime costs no goroutine
// and nothing happens without a reader; with an injected clock it is
// fully deterministic.
package simruntime

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	cri "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"
)

// Annotations on a pod (seen by the runtime through the sandbox config)
// that script what its containers do.
const (
	AnnotationMissingImages  = "sim.skiff.sh/missing-images"
	AnnotationExitCodePrefix = "sim.skiff.sh/exit-code-"
	AnnotationExitAfter      = "sim.skiff.sh/exit-after-"
	AnnotationHTTPFailPaths  = "sim.skiff.sh/http-fail-paths"
)

// RuntimeName is what Version reports; the kubelet shows it in the node's
// containerRuntimeVersion as "simulated://<version>".
const RuntimeName = "simulated"

// Version is the runtime version Version reports. Its build metadata says
// plainly that nothing runs: a node shows "simulated://" + Version in
// kubectl get nodes -o wide and describe node, and a reader must not take
// it for a real runtime. It stays one word (a valid semantic version) so
// that tools splitting those columns on spaces still read it.
const Version = "v1.37.2+skiff-no-containers"

// Exit is a container's scripted end: it exits with Code After its start.
type Exit struct {
	After time.Duration
	Code  int32
}

// Config configures a Runtime. Zero values are fine.
type Config struct {
	// PodCIDR is the range sandbox IPs come from (the first address and
	// the gateway .1 are skipped). The kubelet replaces it through
	// UpdateRuntimeConfig. Until one is known, NetworkReady is false and
	// RunPodSandbox fails, as containerd's does before CNI is configured.
	PodCIDR string
	// HostIP is the IP of host-network sandboxes. Default 127.0.0.1.
	HostIP string
	// StartLatency is how long StartContainer takes.
	StartLatency time.Duration
	// PullLatency is how long PullImage takes for an image not present.
	PullLatency time.Duration
	// Images are present from the start, without a pull.
	Images []string
	// PullError, when set, may fail a pull: a non-nil error is returned
	// by PullImage as the registry's answer.
	PullError func(image string) error
	// Registries, when set, makes pulls from those registry hosts (as in
	// the normalized reference: "docker.io", "registry.example:5000")
	// require that credential; a pull without it fails with containerd's
	// 401 wording. Every pull and its credential are recorded (Pulls).
	Registries map[string]Credential
	// Exit, when set, scripts the end of containers the annotations do
	// not script: ok=false means the container runs until stopped.
	Exit func(sandbox *runtimeapi.PodSandboxConfig, container *runtimeapi.ContainerConfig) (e Exit, ok bool)
	// Exec, when set, answers ExecSync instead of the default rule.
	Exec func(containerName string, cmd []string) (stdout []byte, exitCode int32)
	// StopExitCode is the exit code of a container stopped by
	// StopContainer. Default 0 (a process that ends on SIGTERM cleanly).
	StopExitCode int32
	// Clock drives every time the runtime reports. Default the real clock.
	Clock clock.WithTicker
}

// Runtime is a simulated CRI runtime and image service. It is safe for
// concurrent use.
type Runtime struct {
	cfg Config

	mu         sync.Mutex
	cidr       netip.Prefix
	usedIPs    map[netip.Addr]struct{}
	nextIP     netip.Addr
	sandboxes  map[string]*sandbox
	containers map[string]*container
	images     map[string]*image // by normalized reference and by ID
	seq        uint64
	probe      *probeServer
	pulls      []Pull
}

type sandbox struct {
	id          string
	config      *runtimeapi.PodSandboxConfig
	ready       bool
	ip          netip.Addr
	hostNetwork bool
	createdAt   int64
}

type container struct {
	id         string
	sandboxID  string
	config     *runtimeapi.ContainerConfig
	image      *runtimeapi.ImageSpec // as containerd reports it: the image's name
	imageRef   string                // repo@digest, as containerd's image_ref
	state      runtimeapi.ContainerState
	createdAt  int64
	startedAt  int64
	finishedAt int64
	exitCode   int32
	reason     string
	exit       *Exit // scripted end, from the start
	// logPath is where a runtime would write the log: the sandbox's log
	// directory joined with the container's log path, as containerd
	// reports it. Nothing is written there.
	logPath string
}

type image struct {
	id   string
	ref  string
	size uint64
}

var (
	_ cri.RuntimeService      = (*Runtime)(nil)
	_ cri.ImageManagerService = (*Runtime)(nil)
)

// New returns a Runtime.
func New(cfg Config) (*Runtime, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.HostIP == "" {
		cfg.HostIP = "127.0.0.1"
	}
	if _, err := netip.ParseAddr(cfg.HostIP); err != nil {
		return nil, fmt.Errorf("simruntime: HostIP: %w", err)
	}
	r := &Runtime{
		cfg:        cfg,
		usedIPs:    map[netip.Addr]struct{}{},
		sandboxes:  map[string]*sandbox{},
		containers: map[string]*container{},
		images:     map[string]*image{},
	}
	if cfg.PodCIDR != "" {
		if err := r.setCIDR(cfg.PodCIDR); err != nil {
			return nil, err
		}
	}
	for _, img := range cfg.Images {
		r.addImage(img)
	}
	return r, nil
}

func (r *Runtime) setCIDR(cidr string) error {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return fmt.Errorf("simruntime: pod CIDR: %w", err)
	}
	p = p.Masked()
	if p.Addr().Is4() && p.Bits() > 30 {
		return fmt.Errorf("simruntime: pod CIDR %s is too small", cidr)
	}
	r.cidr = p
	r.nextIP = p.Addr().Next().Next() // skip the network address and the gateway
	return nil
}

func (r *Runtime) now() int64 { return r.cfg.Clock.Now().UnixNano() }

// newID returns a 64-hex-digit ID, as containerd's.
func (r *Runtime) newID() string {
	r.seq++
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(r.now()))
	binary.BigEndian.PutUint64(b[8:], r.seq)
	sum := sha256.Sum256(b[:])
	return hex.EncodeToString(sum[:])
}

func (r *Runtime) allocateIP() (netip.Addr, error) {
	if !r.cidr.IsValid() {
		return netip.Addr{}, errors.New("network plugin is not ready: no pod CIDR configured")
	}
	start := r.nextIP
	for a := start; ; {
		if !r.cidr.Contains(a) || isBroadcast(r.cidr, a) {
			a = r.cidr.Addr().Next().Next()
		}
		if _, used := r.usedIPs[a]; !used {
			r.usedIPs[a] = struct{}{}
			r.nextIP = a.Next()
			return a, nil
		}
		a = a.Next()
		if a == start {
			return netip.Addr{}, fmt.Errorf("failed to allocate for range 0: no IP addresses available in range set: %s", r.cidr)
		}
	}
}

func isBroadcast(p netip.Prefix, a netip.Addr) bool {
	return a.Is4() && !p.Contains(a.Next())
}

// --- RuntimeVersioner and runtime status ---

func (r *Runtime) Version(context.Context, string) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: RuntimeName, RuntimeVersion: Version, RuntimeApiVersion: "v1"}, nil
}

func (r *Runtime) Status(context.Context, bool) (*runtimeapi.StatusResponse, error) {
	r.mu.Lock()
	netReady := r.cidr.IsValid()
	r.mu.Unlock()
	network := &runtimeapi.RuntimeCondition{Type: runtimeapi.NetworkReady, Status: netReady}
	if !netReady {
		network.Reason = "NetworkPluginNotReady"
		network.Message = "Network plugin returns error: no pod CIDR configured"
	}
	return &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
		{Type: runtimeapi.RuntimeReady, Status: true}, network,
	}}}, nil
}

func (r *Runtime) UpdateRuntimeConfig(_ context.Context, rc *runtimeapi.RuntimeConfig) error {
	cidr := rc.GetNetworkConfig().GetPodCidr()
	if cidr == "" {
		return nil
	}
	// Several CIDRs (dual stack) come comma-separated; the first is used.
	cidr, _, _ = strings.Cut(cidr, ",")
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cidr.IsValid() && r.cidr.String() == cidr {
		return nil
	}
	return r.setCIDR(cidr)
}

func (r *Runtime) RuntimeConfig(context.Context) (*runtimeapi.RuntimeConfigResponse, error) {
	return &runtimeapi.RuntimeConfigResponse{Linux: &runtimeapi.LinuxRuntimeConfiguration{CgroupDriver: runtimeapi.CgroupDriver_SYSTEMD}}, nil
}

func (r *Runtime) Close(context.Context) error { return nil }

// --- PodSandboxManager ---

func (r *Runtime) RunPodSandbox(_ context.Context, config *runtimeapi.PodSandboxConfig, _ string) (string, error) {
	if config.GetMetadata() == nil {
		return "", status.Error(codes.InvalidArgument, "sandbox config must include metadata")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &sandbox{id: r.newID(), config: config, ready: true, createdAt: r.now()}
	if config.GetLinux().GetSecurityContext().GetNamespaceOptions().GetNetwork() == runtimeapi.NamespaceMode_NODE {
		s.hostNetwork = true
		s.ip = netip.MustParseAddr(r.cfg.HostIP)
	} else {
		ip, err := r.allocateIP()
		if err != nil {
			return "", status.Errorf(codes.Unknown, "failed to setup network for sandbox %q: %v", s.id, err)
		}
		s.ip = ip
	}
	r.sandboxes[s.id] = s
	return s.id, nil
}

func (r *Runtime) StopPodSandbox(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sandboxes[id]
	if !ok {
		return nil // stopping what is gone succeeds, as containerd
	}
	now := r.now()
	for _, c := range r.containers {
		if c.sandboxID == id {
			r.settle(c, now)
			if c.state == runtimeapi.ContainerState_CONTAINER_RUNNING {
				r.stop(c, now, 137, "Error")
			}
		}
	}
	r.releaseIP(s)
	s.ready = false
	return nil
}

func (r *Runtime) releaseIP(s *sandbox) {
	if !s.hostNetwork && s.ip.IsValid() {
		delete(r.usedIPs, s.ip)
	}
	s.ip = netip.Addr{}
}

func (r *Runtime) RemovePodSandbox(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sandboxes[id]
	if !ok {
		return nil
	}
	for cid, c := range r.containers {
		if c.sandboxID == id {
			delete(r.containers, cid)
		}
	}
	r.releaseIP(s)
	delete(r.sandboxes, id)
	return nil
}

func (r *Runtime) sandboxState(s *sandbox) runtimeapi.PodSandboxState {
	if s.ready {
		return runtimeapi.PodSandboxState_SANDBOX_READY
	}
	return runtimeapi.PodSandboxState_SANDBOX_NOTREADY
}

func (r *Runtime) PodSandboxStatus(_ context.Context, id string, _ bool) (*runtimeapi.PodSandboxStatusResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sandboxes[id]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "an error occurred when try to find sandbox %q: not found", id)
	}
	st := &runtimeapi.PodSandboxStatus{
		Id:          s.id,
		Metadata:    s.config.GetMetadata(),
		State:       r.sandboxState(s),
		CreatedAt:   s.createdAt,
		Labels:      s.config.GetLabels(),
		Annotations: s.config.GetAnnotations(),
		Linux: &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{
			Options: s.config.GetLinux().GetSecurityContext().GetNamespaceOptions(),
		}},
	}
	if s.ready {
		st.Network = &runtimeapi.PodSandboxNetworkStatus{Ip: s.ip.String()}
	} else {
		st.Network = &runtimeapi.PodSandboxNetworkStatus{}
	}
	return &runtimeapi.PodSandboxStatusResponse{Status: st, Timestamp: r.now()}, nil
}

func (r *Runtime) ListPodSandbox(_ context.Context, f *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*runtimeapi.PodSandbox
	for _, s := range r.sandboxes {
		if f != nil {
			if f.Id != "" && f.Id != s.id {
				continue
			}
			if f.State != nil && f.State.State != r.sandboxState(s) {
				continue
			}
			if !matches(f.LabelSelector, s.config.GetLabels()) {
				continue
			}
		}
		out = append(out, &runtimeapi.PodSandbox{
			Id: s.id, Metadata: s.config.GetMetadata(), State: r.sandboxState(s), CreatedAt: s.createdAt,
			Labels: s.config.GetLabels(), Annotations: s.config.GetAnnotations(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt < out[j].CreatedAt })
	return out, nil
}

func matches(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (r *Runtime) PortForward(context.Context, *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	return nil, unimplemented("PortForward")
}

func (r *Runtime) UpdatePodSandboxResources(context.Context, *runtimeapi.UpdatePodSandboxResourcesRequest) (*runtimeapi.UpdatePodSandboxResourcesResponse, error) {
	return &runtimeapi.UpdatePodSandboxResourcesResponse{}, nil
}

func (r *Runtime) CheckpointPod(context.Context, *runtimeapi.CheckpointPodRequest) error {
	return unimplemented("CheckpointPod")
}

func (r *Runtime) RestorePod(context.Context, *runtimeapi.RestorePodRequest) (*runtimeapi.RestorePodResponse, error) {
	return nil, unimplemented("RestorePod")
}

func unimplemented(method string) error {
	return status.Errorf(codes.Unimplemented, "%s is not implemented by the simulated runtime", method)
}

// --- ContainerManager ---

func (r *Runtime) CreateContainer(_ context.Context, sandboxID string, config *runtimeapi.ContainerConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	if config.GetMetadata() == nil || config.GetImage() == nil {
		return "", status.Error(codes.InvalidArgument, "container config must include metadata and image")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sandboxes[sandboxID]
	if !ok {
		return "", status.Errorf(codes.NotFound, "failed to get sandbox %q: not found", sandboxID)
	}
	if !s.ready {
		return "", status.Errorf(codes.FailedPrecondition, "sandbox %q is not ready", sandboxID)
	}
	img := r.findImage(config.GetImage().GetImage())
	if img == nil {
		return "", status.Errorf(codes.NotFound, "failed to get image %q: not found", config.GetImage().GetImage())
	}
	if sandboxConfig == nil {
		sandboxConfig = s.config
	}
	c := &container{
		id: r.newID(), sandboxID: sandboxID, config: config, imageRef: img.digestRef(),
		image: &runtimeapi.ImageSpec{Image: img.ref, UserSpecifiedImage: config.GetImage().GetUserSpecifiedImage()},
		state: runtimeapi.ContainerState_CONTAINER_CREATED, createdAt: r.now(),
		logPath: config.GetLogPath(),
	}
	if dir := sandboxConfig.GetLogDirectory(); dir != "" && config.GetLogPath() != "" {
		c.logPath = filepath.Join(dir, config.GetLogPath())
	}
	if e, ok, err := r.scriptedExit(sandboxConfig, config); err != nil {
		return "", status.Errorf(codes.InvalidArgument, "%v", err)
	} else if ok {
		c.exit = &e
	}
	r.containers[c.id] = c
	return c.id, nil
}

func (r *Runtime) scriptedExit(sb *runtimeapi.PodSandboxConfig, c *runtimeapi.ContainerConfig) (Exit, bool, error) {
	name := c.GetMetadata().GetName()
	a := sb.GetAnnotations()
	if code, ok := a[AnnotationExitCodePrefix+name]; ok {
		n, err := strconv.ParseInt(code, 10, 32)
		if err != nil {
			return Exit{}, false, fmt.Errorf("annotation %s%s: %w", AnnotationExitCodePrefix, name, err)
		}
		e := Exit{Code: int32(n)}
		if after, ok := a[AnnotationExitAfter+name]; ok {
			d, err := time.ParseDuration(after)
			if err != nil {
				return Exit{}, false, fmt.Errorf("annotation %s%s: %w", AnnotationExitAfter, name, err)
			}
			e.After = d
		}
		return e, true, nil
	}
	if r.cfg.Exit != nil {
		e, ok := r.cfg.Exit(sb, c)
		return e, ok, nil
	}
	return Exit{}, false, nil
}

func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	if d := r.cfg.StartLatency; d > 0 {
		t := r.cfg.Clock.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return status.FromContextError(ctx.Err()).Err()
		case <-t.C():
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return status.Errorf(codes.NotFound, "container %q not found", id)
	}
	if c.state != runtimeapi.ContainerState_CONTAINER_CREATED {
		return status.Errorf(codes.FailedPrecondition, "container %q is in %s state", id, c.state)
	}
	if s := r.sandboxes[c.sandboxID]; s == nil || !s.ready {
		return status.Errorf(codes.FailedPrecondition, "sandbox of container %q is not ready", id)
	}
	c.state = runtimeapi.ContainerState_CONTAINER_RUNNING
	c.startedAt = r.now()
	return nil
}

// settle applies a scripted exit whose time has come.
func (r *Runtime) settle(c *container, now int64) {
	if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING || c.exit == nil {
		return
	}
	end := c.startedAt + int64(c.exit.After)
	if now < end {
		return
	}
	reason := "Completed"
	if c.exit.Code != 0 {
		reason = "Error"
	}
	r.stop(c, end, c.exit.Code, reason)
}

func (r *Runtime) stop(c *container, at int64, code int32, reason string) {
	c.state = runtimeapi.ContainerState_CONTAINER_EXITED
	c.finishedAt = at
	c.exitCode = code
	c.reason = reason
}

// StopContainer stops a container at once: a simulated process obeys
// SIGTERM immediately, whatever the grace period.
func (r *Runtime) StopContainer(_ context.Context, id string, _ int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return status.Errorf(codes.NotFound, "container %q not found", id)
	}
	now := r.now()
	r.settle(c, now)
	switch c.state {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		reason := "Completed"
		if r.cfg.StopExitCode != 0 {
			reason = "Error"
		}
		r.stop(c, now, r.cfg.StopExitCode, reason)
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		r.stop(c, now, 0, "")
	}
	return nil
}

func (r *Runtime) RemoveContainer(_ context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.containers, id)
	return nil
}

func (r *Runtime) ListContainers(_ context.Context, f *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var out []*runtimeapi.Container
	for _, c := range r.containers {
		r.settle(c, now)
		if f != nil {
			if f.Id != "" && f.Id != c.id {
				continue
			}
			if f.PodSandboxId != "" && f.PodSandboxId != c.sandboxID {
				continue
			}
			if f.State != nil && f.State.State != c.state {
				continue
			}
			if !matches(f.LabelSelector, c.config.GetLabels()) {
				continue
			}
		}
		out = append(out, &runtimeapi.Container{
			Id: c.id, PodSandboxId: c.sandboxID, Metadata: c.config.GetMetadata(), Image: c.image,
			ImageRef: c.imageRef, ImageId: c.imageID(), State: c.state, CreatedAt: c.createdAt,
			Labels: c.config.GetLabels(), Annotations: c.config.GetAnnotations(),
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt < out[j].CreatedAt })
	return out, nil
}

func (r *Runtime) ContainerStatus(_ context.Context, id string, _ bool) (*runtimeapi.ContainerStatusResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "an error occurred when try to find container %q: not found", id)
	}
	r.settle(c, r.now())
	return &runtimeapi.ContainerStatusResponse{Status: &runtimeapi.ContainerStatus{
		Id: c.id, Metadata: c.config.GetMetadata(), State: c.state,
		CreatedAt: c.createdAt, StartedAt: c.startedAt, FinishedAt: c.finishedAt,
		ExitCode: c.exitCode, Reason: c.reason,
		Image: c.image, ImageRef: c.imageRef, ImageId: c.imageID(),
		Labels: c.config.GetLabels(), Annotations: c.config.GetAnnotations(),
		LogPath: c.logPath, Mounts: c.config.GetMounts(),
	}}, nil
}

func (r *Runtime) UpdateContainerResources(context.Context, string, *runtimeapi.ContainerResources) error {
	return nil
}

func (r *Runtime) ExecSync(_ context.Context, id string, cmd []string, _ time.Duration) ([]byte, []byte, error) {
	r.mu.Lock()
	c, ok := r.containers[id]
	if ok {
		r.settle(c, r.now())
	}
	running := ok && c.state == runtimeapi.ContainerState_CONTAINER_RUNNING
	name := ""
	if ok {
		name = c.config.GetMetadata().GetName()
	}
	r.mu.Unlock()
	if !ok {
		return nil, nil, status.Errorf(codes.NotFound, "container %q not found", id)
	}
	if !running {
		return nil, nil, status.Errorf(codes.Unknown, "container %q is not running", id)
	}
	var out []byte
	var code int32
	if r.cfg.Exec != nil {
		out, code = r.cfg.Exec(name, cmd)
	} else if len(cmd) > 0 && (cmd[0] == "false" || cmd[0] == "/bin/false") {
		code = 1
	}
	if code != 0 {
		return out, nil, &ExitError{Code: code}
	}
	return out, nil, nil
}

// ExitError is ExecSync's answer for a command that exited non-zero, as
// the CRI client's exec.ExitError: it carries the code.
type ExitError struct{ Code int32 }

func (e *ExitError) Error() string {
	return fmt.Sprintf("command terminated with exit code %d", e.Code)
}
func (e *ExitError) ExitStatus() int { return int(e.Code) }

func (r *Runtime) Exec(context.Context, *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	return nil, unimplemented("Exec")
}

func (r *Runtime) Attach(context.Context, *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return nil, unimplemented("Attach")
}

func (r *Runtime) ReopenContainerLog(context.Context, string) error { return nil }

func (r *Runtime) CheckpointContainer(context.Context, *runtimeapi.CheckpointContainerRequest) error {
	return unimplemented("CheckpointContainer")
}

func (r *Runtime) GetContainerEvents(context.Context, chan *runtimeapi.ContainerEventResponse, func(runtimeapi.RuntimeService_GetContainerEventsClient)) error {
	return unimplemented("GetContainerEvents")
}

// --- ContainerStatsManager: small, plausible, deterministic numbers ---
//
// A container uses a steady 1-10 millicores while it runs and 4-35 MiB
// of memory, both derived from its ID, so that simulated nodes report
// metrics (`kubectl top`) without any process behind them.

func (r *Runtime) ContainerStats(_ context.Context, id string) (*runtimeapi.ContainerStats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "container %q not found", id)
	}
	return r.stats(c, r.now()), nil
}

// usage is a container's simulated CPU time (ns), CPU rate (nanocores)
// and working set (bytes) at now.
func (r *Runtime) usage(c *container, now int64) (cpu, nanoCores, memory uint64) {
	r.settle(c, now)
	seed := sha256.Sum256([]byte(c.id))
	millicores := 1 + uint64(seed[0])%10
	if c.startedAt == 0 {
		return 0, 0, 0
	}
	end := now
	if c.state == runtimeapi.ContainerState_CONTAINER_EXITED {
		end = c.finishedAt
	} else {
		nanoCores = millicores * 1_000_000
		memory = (4 + uint64(seed[1])%32) << 20
	}
	if end > c.startedAt {
		cpu = uint64(end-c.startedAt) * millicores / 1000
	}
	return cpu, nanoCores, memory
}

func (r *Runtime) stats(c *container, now int64) *runtimeapi.ContainerStats {
	cpu, nano, mem := r.usage(c, now)
	return &runtimeapi.ContainerStats{
		Attributes: &runtimeapi.ContainerAttributes{Id: c.id, Metadata: c.config.GetMetadata(), Labels: c.config.GetLabels(), Annotations: c.config.GetAnnotations()},
		Cpu: &runtimeapi.CpuUsage{Timestamp: now, UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: cpu},
			UsageNanoCores: &runtimeapi.UInt64Value{Value: nano}},
		Memory: &runtimeapi.MemoryUsage{Timestamp: now, WorkingSetBytes: &runtimeapi.UInt64Value{Value: mem},
			UsageBytes: &runtimeapi.UInt64Value{Value: mem}, RssBytes: &runtimeapi.UInt64Value{Value: mem / 2}},
		WritableLayer: &runtimeapi.FilesystemUsage{Timestamp: now, UsedBytes: &runtimeapi.UInt64Value{Value: 4096}, InodesUsed: &runtimeapi.UInt64Value{Value: 1}},
	}
}

func (r *Runtime) ListContainerStats(_ context.Context, f *runtimeapi.ContainerStatsFilter) ([]*runtimeapi.ContainerStats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var out []*runtimeapi.ContainerStats
	for _, c := range r.containers {
		if f != nil && ((f.Id != "" && f.Id != c.id) || (f.PodSandboxId != "" && f.PodSandboxId != c.sandboxID) || !matches(f.LabelSelector, c.config.GetLabels())) {
			continue
		}
		out = append(out, r.stats(c, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Attributes.Id < out[j].Attributes.Id })
	return out, nil
}

// sandboxStats sums the sandbox's containers; a sandbox's own overhead
// is left out.
func (r *Runtime) sandboxStats(s *sandbox, now int64) *runtimeapi.PodSandboxStats {
	var cpu, nano, mem uint64
	for _, c := range r.containers {
		if c.sandboxID == s.id {
			cc, cn, cm := r.usage(c, now)
			cpu, nano, mem = cpu+cc, nano+cn, mem+cm
		}
	}
	return &runtimeapi.PodSandboxStats{
		Attributes: &runtimeapi.PodSandboxAttributes{Id: s.id, Metadata: s.config.GetMetadata(), Labels: s.config.GetLabels(), Annotations: s.config.GetAnnotations()},
		Linux: &runtimeapi.LinuxPodSandboxStats{
			Cpu: &runtimeapi.CpuUsage{Timestamp: now, UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: cpu}, UsageNanoCores: &runtimeapi.UInt64Value{Value: nano}},
			Memory: &runtimeapi.MemoryUsage{Timestamp: now, WorkingSetBytes: &runtimeapi.UInt64Value{Value: mem},
				UsageBytes: &runtimeapi.UInt64Value{Value: mem}, RssBytes: &runtimeapi.UInt64Value{Value: mem / 2}},
		},
	}
}

func (r *Runtime) PodSandboxStats(_ context.Context, id string) (*runtimeapi.PodSandboxStats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.sandboxes[id]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "failed to get sandbox %q: not found", id)
	}
	return r.sandboxStats(s, r.now()), nil
}

func (r *Runtime) ListPodSandboxStats(_ context.Context, f *runtimeapi.PodSandboxStatsFilter) ([]*runtimeapi.PodSandboxStats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	var out []*runtimeapi.PodSandboxStats
	for _, s := range r.sandboxes {
		if !s.ready || (f != nil && ((f.Id != "" && f.Id != s.id) || !matches(f.LabelSelector, s.config.GetLabels()))) {
			continue
		}
		out = append(out, r.sandboxStats(s, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Attributes.Id < out[j].Attributes.Id })
	return out, nil
}

func (r *Runtime) ListMetricDescriptors(context.Context) ([]*runtimeapi.MetricDescriptor, error) {
	return nil, nil
}

func (r *Runtime) ListPodSandboxMetrics(context.Context) ([]*runtimeapi.PodSandboxMetrics, error) {
	return nil, nil
}

// ContainerConfig returns the config a container was created with, for
// tests and debugging.
func (r *Runtime) ContainerConfig(id string) (*runtimeapi.ContainerConfig, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	if !ok {
		return nil, false
	}
	return c.config, true
}

func (c *container) imageID() string { return c.config.GetImage().GetImage() }
