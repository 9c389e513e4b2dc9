package iptables

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/hostexec"
	"github.com/skiff-sh/skiff/internal/proxy/model"
	"github.com/skiff-sh/skiff/internal/testnetns"
)

func TestKernelRules(t *testing.T) {
	ns := testnetns.New(t)
	if _, err := exec.LookPath("iptables-restore"); err != nil {
		t.Skip("iptables is not installed")
	}
	ns.MustRun(t, "ip addr add 10.42.0.5/32 dev lo", "ip addr add 10.42.0.6/32 dev lo")
	ns.Serve(t, "10.42.0.5:8080", "five")
	ns.Serve(t, "10.42.0.6:8080", "six")
	run := hostexec.Runner(ns.Run)
	get := func(_ hostexec.Runner, url string) (string, error) { return ns.Get(url) }
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
