package simruntime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// containerPortsAnnotation is where the kubelet writes a container's
// declared ports on the CRI container (upstream's annotation).
const containerPortsAnnotation = "io.kubernetes.container.ports"

// DialContext connects to a simulated container: addr is a sandbox IP (or
// the host IP for host-network pods) and one of a running container's
// declared ports. The connection is in memory; nothing leaves the
// process. Other addresses are refused as a closed port is.
func (r *Runtime) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	refused := &net.OpError{Op: "dial", Net: network, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	ip, err1 := netip.ParseAddr(host)
	port, err2 := strconv.Atoi(portStr)
	if err1 != nil || err2 != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: fmt.Errorf("address %s: not a simulated pod address", addr)}
	}
	refused.Addr = &net.TCPAddr{IP: ip.AsSlice(), Port: port}
	failPaths, ok := r.listening(ip, port)
	if !ok {
		return nil, refused
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	client, server := net.Pipe()
	go r.serve(server, failPaths)
	return client, nil
}

// listening finds a running container listening on ip:port and returns
// its pod's failing HTTP paths.
func (r *Runtime) listening(ip netip.Addr, port int) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	for _, c := range r.containers {
		s := r.sandboxes[c.sandboxID]
		if s == nil || !s.ready || s.ip != ip {
			continue
		}
		r.settle(c, now)
		if c.state != runtimeapi.ContainerState_CONTAINER_RUNNING || !declares(c.config.GetAnnotations()[containerPortsAnnotation], port) {
			continue
		}
		return s.config.GetAnnotations()[AnnotationHTTPFailPaths], true
	}
	return "", false
}

func declares(portsJSON string, port int) bool {
	if portsJSON == "" {
		return false
	}
	var ports []struct {
		ContainerPort int `json:"containerPort"`
	}
	if json.Unmarshal([]byte(portsJSON), &ports) != nil {
		return false
	}
	for _, p := range ports {
		if p.ContainerPort == port {
			return true
		}
	}
	return false
}

// serve answers one connection: gRPC (recognised by the HTTP/2 preface)
// gets the health service, anything else HTTP/1.1, a bare TCP connect
// just an EOF.
func (r *Runtime) serve(conn net.Conn, failPaths string) {
	br := bufio.NewReader(conn)
	head, err := br.Peek(3)
	if err != nil {
		conn.Close()
		return
	}
	if bytes.Equal(head, []byte("PRI")) {
		r.grpcServer().accept(&peekedConn{Conn: conn, r: br})
		return
	}
	defer conn.Close()
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, req.Body)
	code, body := http.StatusOK, "ok"
	for _, p := range strings.Split(failPaths, ",") {
		if p = strings.TrimSpace(p); p != "" && p == req.URL.Path {
			code, body = http.StatusInternalServerError, "simulated failure"
		}
	}
	resp := &http.Response{
		StatusCode: code, ProtoMajor: 1, ProtoMinor: 1, Request: req,
		Header:        http.Header{"Content-Type": {"text/plain; charset=utf-8"}},
		ContentLength: int64(len(body)), Body: io.NopCloser(strings.NewReader(body)), Close: true,
	}
	_ = conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_ = resp.Write(conn)
}

type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// probeServer is a gRPC server with the standard health service, fed
// with in-memory connections. It is created on first use.
type probeServer struct {
	srv   *grpc.Server
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (r *Runtime) grpcServer() *probeServer {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.probe == nil {
		p := &probeServer{srv: grpc.NewServer(), conns: make(chan net.Conn), done: make(chan struct{})}
		healthpb.RegisterHealthServer(p.srv, health.NewServer())
		go func() { _ = p.srv.Serve(p) }()
		r.probe = p
	}
	return r.probe
}

func (p *probeServer) accept(c net.Conn) {
	select {
	case p.conns <- c:
	case <-p.done:
		c.Close()
	}
}

// Accept, Close and Addr make probeServer the server's net.Listener.
func (p *probeServer) Accept() (net.Conn, error) {
	select {
	case c := <-p.conns:
		return c, nil
	case <-p.done:
		return nil, errors.New("simruntime: closed")
	}
}

func (p *probeServer) Close() error {
	p.once.Do(func() { close(p.done) })
	return nil
}

func (p *probeServer) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// Shutdown stops the gRPC health server if one was started. The runtime
// stays usable otherwise.
func (r *Runtime) Shutdown() {
	r.mu.Lock()
	p := r.probe
	r.probe = nil
	r.mu.Unlock()
	if p != nil {
		p.srv.Stop()
		p.Close()
	}
}
