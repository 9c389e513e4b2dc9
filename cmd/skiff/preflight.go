package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/controlplane"
)

// portCheck is one address a process will bind, and the flag that
// chooses it.
type portCheck struct {
	flag    string // "--api-port 6443"
	network string // "tcp" or "udp"
	addr    string // host:port
}

// upPortChecks lists what `skiff up` (and `skiff server`, node nil)
// binds before it starts anything: the API server, the embedded etcd
// member's client and peer URLs, the cluster DNS (UDP and TCP) and the
// kubelet's API. Ports the components only try (the scheduler's metrics)
// are not listed: they turn off with a warning instead.
func upPortChecks(cfg *controlplane.Config, node *nodeFlags) ([]portCheck, error) {
	checks := []portCheck{{
		flag: fmt.Sprintf("--api-port %d", cfg.APIPort), network: "tcp",
		addr: net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.APIPort)),
	}}
	if len(cfg.EtcdServers) == 0 {
		for _, u := range []struct{ flag, url string }{{"--etcd-client-url", cfg.EtcdClientURL}, {"--etcd-peer-url", cfg.EtcdPeerURL}} {
			if u.url == "" {
				continue
			}
			p, err := url.Parse(u.url)
			if err != nil || p.Port() == "" {
				return nil, fmt.Errorf("%s %q: want scheme://host:port", u.flag, u.url)
			}
			checks = append(checks, portCheck{flag: u.flag + " " + u.url, network: "tcp", addr: p.Host})
		}
	}
	if cfg.ClusterDNSPort > 0 {
		adv := cfg.AdvertiseAddress
		if adv == nil {
			adv = apiserver.DefaultAdvertiseAddress()
		}
		addr := net.JoinHostPort(adv.String(), strconv.Itoa(cfg.ClusterDNSPort))
		flag := fmt.Sprintf("--cluster-dns-port %d", cfg.ClusterDNSPort)
		checks = append(checks, portCheck{flag: flag, network: "udp", addr: addr}, portCheck{flag: flag, network: "tcp", addr: addr})
	}
	if node != nil && node.kubeletPort > 0 {
		checks = append(checks, portCheck{
			flag: fmt.Sprintf("--kubelet-port %d", node.kubeletPort), network: "tcp",
			addr: net.JoinHostPort("0.0.0.0", strconv.Itoa(node.kubeletPort)),
		})
	}
	return checks, nil
}

// checkPorts binds each address for a moment and names the flag of the
// first that cannot be, so that a busy port stops `skiff up` before any
// component started rather than leaving half a cluster behind.
func checkPorts(checks []portCheck) error {
	for _, c := range checks {
		var err error
		if c.network == "udp" {
			var pc net.PacketConn
			if pc, err = net.ListenPacket("udp", c.addr); err == nil {
				pc.Close()
			}
		} else {
			var l net.Listener
			if l, err = net.Listen("tcp", c.addr); err == nil {
				l.Close()
			}
		}
		if err == nil {
			continue
		}
		flagName, _, _ := strings.Cut(c.flag, " ")
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("%s: %s address %s already in use; is another skiff up running? choose another with %s", c.flag, c.network, c.addr, flagName)
		}
		return fmt.Errorf("%s: cannot listen on %s %s: %w (choose another with %s)", c.flag, c.network, c.addr, err, flagName)
	}
	return nil
}

// lockDataDir takes an exclusive lock on dir/lock and writes this
// process's id into it; closing the returned file (or the process ending,
// however it ends) releases it. A second skiff on the same data dir gets
// an error naming the first one's pid instead of an etcd that waits for
// its files.
func lockDataDir(dir, shown string) (*os.File, error) {
	path := filepath.Join(dir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--data-dir %s: %w", shown, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(path)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			pid := strings.TrimSpace(string(b))
			if pid == "" {
				pid = "unknown"
			}
			return nil, fmt.Errorf("data dir %s is in use by another skiff (pid %s); stop it, or use another --data-dir", shown, pid)
		}
		return nil, fmt.Errorf("--data-dir %s: lock: %w", shown, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
