package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// persisted is what a test writes before a restart and reads after it.
type persisted struct {
	uid, clusterIP, rv string
}

// writeState applies the app and records what must survive a restart.
func writeState(t *testing.T, k kubectl, ns string) persisted {
	t.Helper()
	applyApp(t, k, ns)
	wantLines(t, k.ok(t, "label", "-n", ns, "cm", "web-config", "restarted=no"), "configmap/web-config labeled")
	return persisted{
		uid:       k.ok(t, "get", "-n", ns, "deploy", "web", "-o", "jsonpath={.metadata.uid}"),
		clusterIP: k.ok(t, "get", "-n", ns, "svc", "web", "-o", "jsonpath={.spec.clusterIP}"),
		rv:        k.ok(t, "get", "-n", ns, "cm", "web-config", "-o", "jsonpath={.metadata.resourceVersion}"),
	}
}

// checkState reads the objects back after a restart and writes again.
func checkState(t *testing.T, k kubectl, ns string, want persisted) {
	t.Helper()
	wantLines(t, k.ok(t, "get", "-n", ns, "deploy,svc,cm,secret", "-o", "name"),
		"deployment.apps/web", "service/web", "configmap/web-config", "secret/web-secret")
	if got := k.ok(t, "get", "-n", ns, "deploy", "web", "-o", "jsonpath={.metadata.uid}"); got != want.uid {
		t.Errorf("deployment uid after restart = %s, want %s", got, want.uid)
	}
	if got := k.ok(t, "get", "-n", ns, "svc", "web", "-o", "jsonpath={.spec.clusterIP}"); got != want.clusterIP {
		t.Errorf("cluster IP after restart = %s, want %s", got, want.clusterIP)
	}
	if got := k.ok(t, "get", "-n", ns, "cm", "web-config", "-o", "jsonpath={.metadata.labels.restarted}"); got != "no" {
		t.Errorf("label after restart = %q", got)
	}
	// Applying the same file again changes nothing; a write continues
	// the revision sequence.
	f := writeFile(t, "app.yaml", appManifest(ns, "blue", "nginx:1.27"))
	wantLines(t, k.ok(t, "apply", "-f", f), appReappliedLines(ns, "unchanged", "unchanged")...)
	wantLines(t, k.ok(t, "label", "-n", ns, "cm", "web-config", "restarted=yes", "--overwrite"), "configmap/web-config labeled")
	rv, _ := strconv.ParseInt(k.ok(t, "get", "-n", ns, "cm", "web-config", "-o", "jsonpath={.metadata.resourceVersion}"), 10, 64)
	old, _ := strconv.ParseInt(want.rv, 10, 64)
	if rv <= old {
		t.Errorf("resourceVersion after restart = %d, not above %d", rv, old)
	}
}

// TestRestartEmbeddedEtcd stops the server with SIGTERM and starts it
// again on the same data dir.
func TestRestartEmbeddedEtcd(t *testing.T) {
	requireE2E(t)
	c := startCluster(t)
	k := newKubectl(c)
	ns := "e2e-restart"
	state := writeState(t, k, ns)
	if err := c.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := c.start(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	checkState(t, k, ns, state)
}

// TestExternalEtcd runs the server on Debian's etcd: objects outlive a
// restart of the server, and a server with a new data dir (new CA) sees
// them too.
func TestExternalEtcd(t *testing.T) {
	requireE2E(t)
	etcdBin, err := exec.LookPath("etcd")
	if err != nil {
		t.Skip("etcd is not installed (hack/install-deps.sh installs etcd-server)")
	}
	dir := t.TempDir()
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	logf, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	etcd := exec.Command(etcdBin, "--name", "e2e", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", clientURL, "--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "e2e="+peerURL)
	etcd.Stdout, etcd.Stderr = logf, logf
	if err := etcd.Start(); err != nil {
		t.Fatal(err)
	}
	etcdDone := make(chan struct{})
	var etcdErr error
	go func() {
		etcdErr = etcd.Wait()
		close(etcdDone)
	}()
	t.Cleanup(func() {
		_ = etcd.Process.Signal(syscall.SIGTERM)
		select {
		case <-etcdDone:
		case <-time.After(20 * time.Second):
			_ = etcd.Process.Kill()
			<-etcdDone
		}
	})
	waitEtcd(t, clientURL, etcdDone, func() error { return etcdErr }, filepath.Join(dir, "etcd.log"))

	c := startCluster(t, "--etcd-servers", clientURL)
	k := newKubectl(c)
	ns := "e2e-external"
	state := writeState(t, k, ns)
	if err := c.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if err := c.start(); err != nil {
		t.Fatalf("restart: %v", err)
	}
	checkState(t, k, ns, state)

	// A second server with its own data dir, on the same etcd.
	c2 := startCluster(t, "--etcd-servers", clientURL)
	k2 := newKubectl(c2)
	if got := k2.ok(t, "get", "-n", ns, "deploy", "web", "-o", "jsonpath={.metadata.uid}"); got != state.uid {
		t.Errorf("second server sees deployment uid %q, want %q", got, state.uid)
	}
	wantLines(t, k2.ok(t, "create", "configmap", "-n", ns, "from-second"), "configmap/from-second created")
	wantLines(t, k.ok(t, "get", "-n", ns, "cm", "from-second", "-o", "name"), "configmap/from-second")
}

// waitEtcd waits until etcd's /health says true.
func waitEtcd(t *testing.T, url string, done <-chan struct{}, exitErr func() error, logPath string) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("etcd exited (%v):\n%s", exitErr(), b)
		case <-time.After(100 * time.Millisecond):
		}
		resp, err := client.Get(url + "/health")
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), `"health":"true"`) {
			return
		}
	}
	b, _ := os.ReadFile(logPath)
	t.Fatalf("etcd not healthy within 30s:\n%s", b)
}
