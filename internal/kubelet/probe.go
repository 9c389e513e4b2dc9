package kubelet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// probeKind is which of a container's three probes.
type probeKind int

const (
	liveness probeKind = iota
	readiness
	startup
)

// String is upstream's spelling in events: "Liveness probe failed: ...".
func (k probeKind) String() string { return [...]string{"Liveness", "Readiness", "Startup"}[k] }

// initialResult is what a probe reports for a container it has not
// probed yet: not ready, alive, not started.
func (k probeKind) initialResult() probeResult {
	switch k {
	case readiness:
		return probeFailure
	case liveness:
		return probeSuccess
	}
	return probeUnknown
}

func probeSpec(c *v1.Container, k probeKind) *v1.Probe {
	switch k {
	case liveness:
		return c.LivenessProbe
	case readiness:
		return c.ReadinessProbe
	}
	return c.StartupProbe
}

// probeTarget is what a probe worker knows of its container at a tick,
// from the pod's last computed status.
type probeTarget struct {
	ContainerID string
	Running     bool
	StartedAt   time.Time
	// Started is the container's started flag (its startup probe passed).
	Started bool
	// Terminated says the container ended; NeverRestart that it stays so.
	Terminated   bool
	NeverRestart bool
	// Deleting says the pod is being deleted.
	Deleting bool
}

// proberState is one probe worker's memory between ticks.
type proberState struct {
	containerID string
	lastResult  probeResult
	run         int
	onHold      bool
}

// probeStep is what a tick decides before (or instead of) probing.
type probeStep struct {
	// Set, when not probeUnknown... a verdict to publish now without
	// probing (reset on a new container, failure of a stopped one).
	Set    probeResult
	HasSet bool
	// Probe says to run the probe this tick.
	Probe bool
	// Stop ends the worker.
	Stop bool
}

// nextProbeStep decides one tick of a probe worker, as upstream's
// worker.doProbe: a new container resets the verdict to the kind's
// initial value (unless it ran before the kubelet started, when the
// verdict stays unknown until probed); a liveness failure holds the
// worker until the container is replaced; nothing is probed during the
// initial delay, liveness and readiness wait for the startup probe, and
// the startup probe stops once it passed.
func nextProbeStep(k probeKind, spec *v1.Probe, t probeTarget, s *proberState, kubeletStart, now time.Time) probeStep {
	var step probeStep
	if t.ContainerID == "" {
		return step
	}
	if t.ContainerID != s.containerID {
		s.containerID = t.ContainerID
		s.onHold, s.run, s.lastResult = false, 0, probeUnknown
		if !(t.Running && !t.StartedAt.IsZero() && t.StartedAt.Before(kubeletStart)) {
			step.Set, step.HasSet = k.initialResult(), true
		}
	}
	if s.onHold {
		return step
	}
	if !t.Running {
		step.Set, step.HasSet = probeFailure, true
		step.Stop = t.Terminated && t.NeverRestart
		return step
	}
	if t.Deleting && (k == liveness || k == startup) {
		step.Set, step.HasSet = probeSuccess, true
		step.Stop = true
		return step
	}
	if now.Sub(t.StartedAt) < time.Duration(spec.InitialDelaySeconds)*time.Second {
		return step
	}
	if t.Started == (k == startup) {
		return step // startup is done, or the others wait for it
	}
	step.Probe = true
	return step
}

// recordProbe feeds one probe outcome to the thresholds and returns the
// verdict to publish, if the run of equal outcomes reached its threshold.
func recordProbe(k probeKind, spec *v1.Probe, s *proberState, r probeResult) (probeResult, bool) {
	if r == s.lastResult {
		s.run++
	} else {
		s.lastResult, s.run = r, 1
	}
	failure, success := threshold(spec.FailureThreshold), threshold(spec.SuccessThreshold)
	if (r == probeFailure && s.run < failure) || (r == probeSuccess && s.run < success) {
		return probeUnknown, false
	}
	if (k == liveness && r == probeFailure) || k == startup {
		// Liveness failed: the container is being restarted, wait for
		// the new one. Startup decided: done either way.
		s.onHold, s.run = true, 0
	}
	return r, true
}

func threshold(v int32) int {
	if v <= 0 {
		return 1
	}
	return int(v)
}

// prober runs one probe attempt. Network probes go through dial so that
// simulated pods are probed in memory.
type prober struct {
	exec func(ctx context.Context, containerID string, cmd []string, timeout time.Duration) ([]byte, error)
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// probeOutcome is a probe attempt's result: a verdict with its output
// (the event's text), or an error (the probe could not be run).
type probeOutcome struct {
	Result probeResult
	Output string
	Err    error
}

func (p *prober) run(ctx context.Context, spec *v1.Probe, pod *v1.Pod, c *v1.Container, podIP, containerID string) probeOutcome {
	timeout := time.Duration(spec.TimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case spec.Exec != nil:
		out, err := p.exec(ctx, containerID, spec.Exec.Command, timeout)
		var exit interface{ ExitStatus() int }
		switch {
		case err == nil:
			return probeOutcome{Result: probeSuccess, Output: string(out)}
		case errors.As(err, &exit):
			return probeOutcome{Result: probeFailure, Output: string(out)}
		case errors.Is(err, context.DeadlineExceeded):
			return probeOutcome{Result: probeFailure, Output: fmt.Sprintf("command %q timed out", strings.Join(spec.Exec.Command, " "))}
		}
		return probeOutcome{Result: probeUnknown, Err: err}
	case spec.HTTPGet != nil:
		return p.httpGet(ctx, spec.HTTPGet, c, podIP)
	case spec.TCPSocket != nil:
		port, err := resolvePort(spec.TCPSocket.Port, c)
		if err != nil {
			return probeOutcome{Result: probeUnknown, Err: err}
		}
		host := spec.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		conn, err := p.dial(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return probeOutcome{Result: probeFailure, Output: err.Error()}
		}
		conn.Close()
		return probeOutcome{Result: probeSuccess}
	case spec.GRPC != nil:
		return p.grpc(ctx, spec.GRPC, podIP, timeout)
	}
	return probeOutcome{Result: probeUnknown, Err: errors.New("missing probe handler")}
}

func (p *prober) httpGet(ctx context.Context, g *v1.HTTPGetAction, c *v1.Container, podIP string) probeOutcome {
	port, err := resolvePort(g.Port, c)
	if err != nil {
		return probeOutcome{Result: probeUnknown, Err: err}
	}
	host := g.Host
	if host == "" {
		host = podIP
	}
	scheme := strings.ToLower(string(g.Scheme))
	if scheme == "" {
		scheme = "http"
	}
	path := g.Path
	if path != "" && !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := &url.URL{Scheme: scheme, Host: net.JoinHostPort(host, strconv.Itoa(port))}
	if rel, err := url.Parse(path); err == nil {
		u = u.ResolveReference(rel)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return probeOutcome{Result: probeUnknown, Err: err}
	}
	req.Header.Set("User-Agent", "kube-probe/1.37")
	req.Header.Set("Accept", "*/*")
	for _, h := range g.HTTPHeaders {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	client := &http.Client{
		Transport: &http.Transport{
			DialContext:       p.dial,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return probeOutcome{Result: probeFailure, Output: err.Error()}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 10<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 400 {
		return probeOutcome{Result: probeSuccess, Output: string(body)}
	}
	return probeOutcome{Result: probeFailure, Output: fmt.Sprintf("HTTP probe failed with statuscode: %d", resp.StatusCode)}
}

func (p *prober) grpc(ctx context.Context, g *v1.GRPCAction, podIP string, timeout time.Duration) probeOutcome {
	addr := net.JoinHostPort(podIP, strconv.Itoa(int(g.Port)))
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, a string) (net.Conn, error) { return p.dial(ctx, "tcp", a) }),
	)
	if err != nil {
		return probeOutcome{Result: probeFailure, Output: fmt.Sprintf("failed to connect service %q: %v", addr, err)}
	}
	defer conn.Close()
	service := ""
	if g.Service != nil {
		service = *g.Service
	}
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return probeOutcome{Result: probeFailure, Output: fmt.Sprintf("timeout: failed to connect service %q within %v: %v", addr, timeout, err)}
		}
		return probeOutcome{Result: probeFailure, Output: fmt.Sprintf("error: this server does not implement the grpc health protocol (grpc.health.v1.Health): %v", err)}
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return probeOutcome{Result: probeFailure, Output: fmt.Sprintf("service unhealthy (responded with %q)", resp.GetStatus().String())}
	}
	return probeOutcome{Result: probeSuccess}
}

// resolvePort turns a probe's port (a number or a container port's name)
// into a number.
func resolvePort(p intstr.IntOrString, c *v1.Container) (int, error) {
	if p.Type == intstr.Int {
		if p.IntVal <= 0 || p.IntVal > 65535 {
			return 0, fmt.Errorf("invalid port number: %v", p.IntVal)
		}
		return int(p.IntVal), nil
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(p.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("couldn't find port: %v in %v", p.StrVal, c.Name)
}
