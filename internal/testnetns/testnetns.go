// Package testnetns gives a test a network namespace of its own, so that
// the packet rules and addresses it sets up never touch the host's. It is
// for tests only, and needs root and iproute2.
package testnetns

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vishvananda/netns"
)

var seq atomic.Int64

// NS is a network namespace that lives as long as its test.
type NS struct {
	Name string
}

// New makes a namespace with loopback up and a default route out of a
// veth pair (192.0.2.50/24 on v0), and deletes it when the test ends. It
// skips the test in -short mode, when not root, or without iproute2.
func New(t testing.TB) *NS {
	t.Helper()
	if testing.Short() {
		t.Skip("sets up a network namespace")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("iproute2 is not installed")
	}
	ns := &NS{Name: fmt.Sprintf("skiff-test-%d-%d", os.Getpid(), seq.Add(1))}
	if out, err := exec.Command("ip", "netns", "add", ns.Name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", ns.Name).Run() })
	ns.MustRun(t,
		"ip link set lo up",
		// The nat OUTPUT chain runs after routing: a cluster IP needs a
		// route, so the namespace gets a default one.
		"ip link add v0 type veth peer name v1",
		"ip link set v0 up",
		"ip link set v1 up",
		"ip addr add 192.0.2.50/24 dev v0",
		"ip route add default via 192.0.2.1 dev v0 onlink",
	)
	return ns
}

// Run runs a command inside the namespace with stdin and returns its
// standard output; an error carries its standard error.
func (ns *NS) Run(ctx context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("%s %v: %w: %s", name, args, err, bytes.TrimSpace(errb.Bytes()))
	}
	return out.Bytes(), nil
}

// MustRun runs each space-separated command line in the namespace.
func (ns *NS) MustRun(t testing.TB, lines ...string) {
	t.Helper()
	for _, l := range lines {
		f := strings.Fields(l)
		if _, err := ns.Run(context.Background(), nil, f[0], f[1:]...); err != nil {
			t.Fatal(err)
		}
	}
}

// Serve runs busybox httpd in the namespace on addr ("ip:port"),
// answering body, until the test ends.
func (ns *NS) Serve(t testing.TB, addr, body string) {
	t.Helper()
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("busybox is not installed")
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/index.html", []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { ns.Run(ctx, nil, "busybox", "httpd", "-f", "-p", addr, "-h", dir); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// Get fetches url from inside the namespace with busybox wget, giving up
// after 5 s.
func (ns *NS) Get(url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// (busybox wget -T crashes when the connection fails: the context
	// bounds it instead.)
	out, err := ns.Run(ctx, nil, "busybox", "wget", "-q", "-O", "-", url)
	return string(bytes.TrimSpace(out)), err
}

// Path is the namespace's file, for setns(2) and netlink handles.
func (ns *NS) Path() string { return "/run/netns/" + ns.Name }

// ListenUDP opens a UDP socket bound to addr ("ip:port") inside the
// namespace, closed when the test ends. The socket stays in the
// namespace whichever thread then uses it.
func (ns *NS) ListenUDP(t testing.TB, addr string) *net.UDPConn {
	t.Helper()
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		conn *net.UDPConn
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread enters the namespace and is never unlocked, so
		// it ends with this goroutine and nothing else runs there.
		runtime.LockOSThread()
		h, err := netns.GetFromPath(ns.Path())
		if err != nil {
			ch <- result{err: err}
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			ch <- result{err: err}
			return
		}
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(ap))
		ch <- result{c, err}
	}()
	r := <-ch
	if r.err != nil {
		t.Fatalf("listen on udp %s in %s: %v", addr, ns.Name, r.err)
	}
	t.Cleanup(func() { r.conn.Close() })
	return r.conn
}

// ServeUDP answers every datagram to addr ("ip:port") in the namespace
// with reply, until the test ends.
func (ns *NS) ServeUDP(t testing.TB, addr, reply string) {
	t.Helper()
	c := ns.ListenUDP(t, addr)
	go func() {
		buf := make([]byte, 1500)
		for {
			_, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			c.WriteToUDP([]byte(reply), from)
		}
	}()
}
