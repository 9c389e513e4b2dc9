package iptables

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/proxy/model"
)

// netns is a network namespace of its own for one test, so that the
// rules it writes never touch the host's.
func netns(t *testing.T) Runner {
	t.Helper()
	if testing.Short() {
		t.Skip("writes iptables rules in a network namespace")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if _, err := exec.LookPath("iptables-restore"); err != nil {
		t.Skip("iptables is not installed")
	}
	name := fmt.Sprintf("skiff-ipt-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", name).Run() })
	run := func(ctx context.Context, stdin []byte, cmd string, args ...string) ([]byte, error) {
		return HostRunner(ctx, stdin, "ip", append([]string{"netns", "exec", name, cmd}, args...)...)
	}
	ctx := context.Background()
	for _, c := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "addr", "add", "10.42.0.5/32", "dev", "lo"},
		{"ip", "addr", "add", "10.42.0.6/32", "dev", "lo"},
		// A veth pair gives the namespace a default route (the nat
		// OUTPUT chain runs after routing: a cluster IP needs a route).
		{"ip", "link", "add", "v0", "type", "veth", "peer", "name", "v1"},
		{"ip", "link", "set", "v0", "up"},
		{"ip", "link", "set", "v1", "up"},
		{"ip", "addr", "add", "192.0.2.50/24", "dev", "v0"},
		{"ip", "route", "add", "default", "via", "192.0.2.1", "dev", "v0", "onlink"},
	} {
		if _, err := run(ctx, nil, c[0], c[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	return run
}

// serve runs busybox httpd in the namespace on addr, answering body.
func serve(t *testing.T, run Runner, addr, body string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/index.html", []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { run(ctx, nil, "busybox", "httpd", "-f", "-p", addr, "-h", dir); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// get fetches url from inside the namespace.
func get(run Runner, url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// (busybox wget -T crashes when the connection fails: the context
	// bounds it instead.)
	out, err := run(ctx, nil, "busybox", "wget", "-q", "-O", "-", url)
	return string(bytes.TrimSpace(out)), err
}

func TestKernelRules(t *testing.T) {
	run := netns(t)
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("busybox is not installed")
	}
	serve(t, run, "10.42.0.5:8080", "five")
	serve(t, run, "10.42.0.6:8080", "six")
	web := &model.ServicePort{
		Name:      model.ServicePortName{Namespace: "default", Name: "web", Port: "http", Protocol: "TCP"},
		ClusterIP: netip.MustParseAddr("10.43.0.20"), Port: 80, NodePort: 30080,
		Endpoints: []model.Endpoint{{IP: netip.MustParseAddr("10.42.0.5"), Port: 8080, Ready: true}},
	}
	empty := &model.ServicePort{
		Name:      model.ServicePortName{Namespace: "default", Name: "empty", Protocol: "TCP"},
		ClusterIP: netip.MustParseAddr("10.43.0.21"), Port: 80,
	}
	b := NewBackend(Options{ClusterCIDR: netip.MustParsePrefix("10.42.0.0/16")}, run)
	ctx := context.Background()
	res, err := b.Sync(ctx, &model.Snapshot{Ports: []*model.ServicePort{empty, web}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Full {
		t.Errorf("first sync was not full: %+v", res)
	}
	waitFor(t, func() (bool, string) {
		body, err := get(run, "http://10.43.0.20/")
		return body == "five", fmt.Sprintf("cluster IP: %q %v", body, err)
	})
	if body, err := get(run, "http://192.0.2.50:30080/"); body != "five" {
		t.Errorf("node port: %q %v", body, err)
	}
	start := time.Now()
	_, err = get(run, "http://10.43.0.21/")
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("service without endpoints: %v, want connection refused", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("service without endpoints took %v to refuse", d)
	}

	// One endpoint changes: only the chains of that service are written.
	web.Endpoints = []model.Endpoint{{IP: netip.MustParseAddr("10.42.0.6"), Port: 8080, Ready: true}}
	res, err = b.Sync(ctx, &model.Snapshot{Ports: []*model.ServicePort{empty, web}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if res.Full || res.Written != 2 || res.Deleted != 1 {
		t.Errorf("partial sync = %+v, want the SVC chain and a new SEP chain written, the old SEP deleted", res)
	}
	if body, err := get(run, "http://10.43.0.20/"); body != "six" {
		t.Errorf("after the endpoint moved: %q %v", body, err)
	}

	// A full sync by a new backend (a restarted proxy) removes chains of
	// services that are gone.
	b2 := NewBackend(Options{ClusterCIDR: netip.MustParsePrefix("10.42.0.0/16")}, run)
	if res, err = b2.Sync(ctx, &model.Snapshot{Ports: []*model.ServicePort{empty}}, false); err != nil {
		t.Fatal(err)
	}
	if res.Deleted != 3 {
		t.Errorf("restart sync deleted %d chains, want 3 (SVC, EXT, SEP of web)", res.Deleted)
	}
	save, _ := run(ctx, nil, "iptables-save")
	if bytes.Contains(save, []byte("default/web")) {
		t.Errorf("rules of a deleted service remain:\n%s", save)
	}

	if err := b2.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	save, _ = run(ctx, nil, "iptables-save")
	if bytes.Contains(save, []byte("KUBE-")) {
		t.Errorf("cleanup left rules:\n%s", save)
	}
}

func waitFor(t *testing.T, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
