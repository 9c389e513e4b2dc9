package main

import (
	"net"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/internal/controlplane"
)

func TestUpPortChecks(t *testing.T) {
	cfg := &controlplane.Config{
		BindAddress: "0.0.0.0", APIPort: 6443, AdvertiseAddress: net.IPv4(192, 0, 2, 2), ClusterDNSPort: 53,
		EtcdClientURL: "http://127.0.0.1:2379", EtcdPeerURL: "http://127.0.0.1:2380",
	}
	got, err := upPortChecks(cfg, &nodeFlags{kubeletPort: 10250})
	if err != nil {
		t.Fatal(err)
	}
	want := []portCheck{
		{"--api-port 6443", "tcp", "0.0.0.0:6443"},
		{"--etcd-client-url http://127.0.0.1:2379", "tcp", "127.0.0.1:2379"},
		{"--etcd-peer-url http://127.0.0.1:2380", "tcp", "127.0.0.1:2380"},
		{"--cluster-dns-port 53", "udp", "192.0.2.2:53"},
		{"--cluster-dns-port 53", "tcp", "192.0.2.2:53"},
		{"--kubelet-port 10250", "tcp", "0.0.0.0:10250"},
	}
	if len(got) != len(want) {
		t.Fatalf("checks = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("check %d = %v, want %v", i, got[i], want[i])
		}
	}

	// External etcd, no cluster DNS, no node: only the API port.
	cfg.EtcdServers, cfg.ClusterDNSPort = []string{"http://etcd:2379"}, 0
	got, err = upPortChecks(cfg, nil)
	if err != nil || len(got) != 1 || got[0].flag != "--api-port 6443" {
		t.Errorf("external etcd: %v %v", got, err)
	}

	cfg.EtcdServers, cfg.EtcdClientURL = nil, "http://127.0.0.1"
	if _, err := upPortChecks(cfg, nil); err == nil || !strings.Contains(err.Error(), "--etcd-client-url") {
		t.Errorf("a URL without a port: %v", err)
	}
}

func TestCheckPortsNamesTheFlag(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	err = checkPorts([]portCheck{{"--api-port 1", "tcp", l.Addr().String()}})
	if err == nil || !strings.HasPrefix(err.Error(), "--api-port 1: tcp address "+l.Addr().String()+" already in use") ||
		!strings.HasSuffix(err.Error(), "choose another with --api-port") {
		t.Errorf("busy port: %v", err)
	}
	if err := checkPorts([]portCheck{{"--kubelet-port 0", "tcp", "127.0.0.1:0"}, {"--cluster-dns-port 0", "udp", "127.0.0.1:0"}}); err != nil {
		t.Errorf("free ports: %v", err)
	}
}

func TestLockDataDir(t *testing.T) {
	dir := t.TempDir()
	first, err := lockDataDir(dir, "d")
	if err != nil {
		t.Fatal(err)
	}
	// flock locks belong to open file descriptions: a second open in the
	// same process conflicts as another process's would.
	if _, err := lockDataDir(dir, "d"); err == nil || !strings.Contains(err.Error(), "data dir d is in use by another skiff (pid ") {
		t.Errorf("second lock: %v", err)
	}
	first.Close()
	again, err := lockDataDir(dir, "d")
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	again.Close()
}
