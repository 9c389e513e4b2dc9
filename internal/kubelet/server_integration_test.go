package kubelet

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/pki"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// kubeletClient is an HTTPS client of a kubelet server that trusts its
// self-signed certificate and presents a certificate of the cluster CA
// for user in groups (none when user is empty).
func kubeletClient(t *testing.T, ca *pki.CA, certDir, user string, groups ...string) *http.Client {
	t.Helper()
	serving, err := os.ReadFile(filepath.Join(certDir, selfSignedCertFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(serving)
	cfg := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if user != "" {
		certPEM, keyPEM, err := ca.IssueClientCert(user, groups)
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: time.Minute}
}

func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestKubeletServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	c := newCluster(t)
	ctx := context.Background()
	port := testserver.FreePort(t)
	certDir, logsDir := t.TempDir(), t.TempDir()
	c.startNode(t, "node-api", nil, func(cfg *Config) {
		cfg.ServerPort, cfg.ServerAddress = port, "127.0.0.1"
		cfg.CertDir, cfg.PodLogsDir = certDir, logsDir
		cfg.NodeStats = SimulatedNodeReadings(MachineInfo{CPUs: 8, MemoryBytes: 16 << 30, EphemeralStorageBytes: 100 << 30}, clock.RealClock{})
	})
	ca, err := pki.EnsureCA(filepath.Join(c.srv.DataDir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	admin := kubeletClient(t, ca, certDir, "kube-apiserver-kubelet-client", "system:masters")

	t.Run("Auth", func(t *testing.T) {
		if code, body := get(t, kubeletClient(t, ca, certDir, ""), base+"/pods"); code != http.StatusUnauthorized || strings.TrimSpace(body) != "Unauthorized" {
			t.Errorf("no client certificate: %d %q", code, body)
		}
		code, body := get(t, kubeletClient(t, ca, certDir, "bob", "dev"), base+"/stats/summary")
		if code != http.StatusForbidden || strings.TrimSpace(body) != "Forbidden (user=bob, verb=get, resource=nodes, subresource=stats)" {
			t.Errorf("bob: %d %q", code, body)
		}
		// A certificate of another CA does not even get through TLS.
		other, err := pki.EnsureCA(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kubeletClient(t, other, certDir, "eve", "system:masters").Get(base + "/healthz"); err == nil {
			t.Error("a certificate of another CA was accepted")
		}
		if code, body := get(t, admin, base+"/healthz"); code != http.StatusOK || body != "ok" {
			t.Errorf("healthz: %d %q", code, body)
		}
	})

	t.Run("DaemonEndpoint", func(t *testing.T) {
		waitFor(t, 10*time.Second, "kubeletEndpoint port", func() (bool, error) {
			node, err := c.client.CoreV1().Nodes().Get(ctx, "node-api", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return node.Status.DaemonEndpoints.KubeletEndpoint.Port == int32(port), nil
		})
	})

	pod := c.bindPod(t, simplePod("logs"), "node-api")
	c.waitPod(t, "default", "logs", "running", 30*time.Second, func(p *v1.Pod) bool { return p.Status.Phase == v1.PodRunning })

	t.Run("Pods", func(t *testing.T) {
		code, body := get(t, admin, base+"/pods")
		var list v1.PodList
		if err := json.Unmarshal([]byte(body), &list); code != http.StatusOK || err != nil {
			t.Fatalf("%d %v %s", code, err, body)
		}
		if list.Kind != "PodList" || len(list.Items) != 1 || list.Items[0].Name != "logs" || list.Items[0].UID != pod.UID {
			t.Errorf("%+v", list)
		}
	})

	t.Run("StatsSummary", func(t *testing.T) {
		code, body := get(t, admin, base+"/stats/summary")
		var s statsapi.Summary
		if err := json.Unmarshal([]byte(body), &s); code != http.StatusOK || err != nil {
			t.Fatalf("%d %v %s", code, err, body)
		}
		if s.Node.NodeName != "node-api" || s.Node.CPU == nil || s.Node.Memory == nil || s.Node.Fs == nil {
			t.Errorf("node: %+v", s.Node)
		}
		if len(s.Pods) != 1 || s.Pods[0].PodRef.Name != "logs" || len(s.Pods[0].Containers) != 1 {
			t.Fatalf("pods: %+v", s.Pods)
		}
		ct := s.Pods[0].Containers[0]
		if ct.Name != "app" || ct.Memory == nil || *ct.Memory.WorkingSetBytes == 0 || ct.CPU == nil || s.Pods[0].Memory == nil {
			t.Errorf("container: %+v", ct)
		}
	})

	t.Run("MetricsResource", func(t *testing.T) {
		code, body := get(t, admin, base+"/metrics/resource")
		for _, want := range []string{
			`container_memory_working_set_bytes{container="app",namespace="default",pod="logs"}`,
			`container_cpu_usage_seconds_total{container="app",namespace="default",pod="logs"}`,
			`pod_memory_working_set_bytes{namespace="default",pod="logs"}`,
			"node_cpu_usage_seconds_total ", "node_memory_working_set_bytes ", "\nresource_scrape_error 0\n",
		} {
			if code != http.StatusOK || !strings.Contains(body, want) {
				t.Errorf("%d: no %s in\n%s", code, want, body)
			}
		}
		if code, body := get(t, admin, base+"/metrics"); code != http.StatusOK || !strings.Contains(body, "kubelet_running_pods 1") {
			t.Errorf("/metrics: %d\n%s", code, body)
		}
	})

	t.Run("StreamErrors", func(t *testing.T) {
		for _, c := range []struct {
			path string
			code int
			body string
		}{
			{"/exec/default/logs/app", http.StatusBadRequest, "you must specify at least 1 of stdin, stdout, stderr"},
			{"/exec/default/ghost/app?output=1", http.StatusNotFound, "pod does not exist"},
			{"/exec/default/logs/not-the-uid/app?output=1", http.StatusNotFound, "pod not found"},
			{"/attach/default/logs/nope?output=1", http.StatusInternalServerError, `container not found ("nope")`},
			// The simulated runtime has no streaming server.
			{"/exec/default/logs/" + string(pod.UID) + "/app?command=ls&output=1", http.StatusInternalServerError, "Unimplemented"},
			{"/portForward/default/logs", http.StatusInternalServerError, "Unimplemented"},
		} {
			resp, err := admin.Post(base+c.path, "", nil)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != c.code || !strings.Contains(string(b), c.body) {
				t.Errorf("%s: %d %q, want %d %q", c.path, resp.StatusCode, b, c.code, c.body)
			}
		}
	})

	t.Run("ContainerLogs", func(t *testing.T) {
		logFile := filepath.Join(logsDir, fmt.Sprintf("default_logs_%s", pod.UID), "app", "0.log")
		if err := os.MkdirAll(filepath.Dir(logFile), 0o755); err != nil {
			t.Fatal(err)
		}
		t0 := time.Now().UTC().Add(-time.Minute)
		if err := os.WriteFile(logFile, []byte(criLines(t0, "stdout F one", "stderr P tw", "stderr F o", "stdout F three")), 0o644); err != nil {
			t.Fatal(err)
		}
		logs := base + "/containerLogs/default/logs/app"
		if code, body := get(t, admin, logs); code != http.StatusOK || body != "one\ntwo\nthree\n" {
			t.Errorf("all: %d %q", code, body)
		}
		if code, body := get(t, admin, logs+"?tailLines=1&timestamps=true"); code != http.StatusOK || body != t0.Add(3*time.Second).Format(time.RFC3339Nano)+" three\n" {
			t.Errorf("tail: %d %q", code, body)
		}
		if code, body := get(t, admin, logs+"?limitBytes=5"); body != "one\nt" {
			t.Errorf("limitBytes: %d %q", code, body)
		}
		if code, body := get(t, admin, logs+"?previous=true"); code != http.StatusBadRequest || !strings.Contains(body, `previous terminated container "app" in pod "logs" not found`) {
			t.Errorf("previous: %d %q", code, body)
		}
		if code, body := get(t, admin, base+"/containerLogs/default/logs/nope"); code != http.StatusNotFound || !strings.Contains(body, `container "nope" not found in pod "logs"`) {
			t.Errorf("unknown container: %d %q", code, body)
		}
		if code, _ := get(t, admin, logs+"?tailLines=-1"); code != http.StatusUnprocessableEntity {
			t.Errorf("invalid: %d", code)
		}

		// Follow: a line appended later arrives; the stream ends when
		// the container stops.
		resp, err := admin.Get(logs + "?follow=true&tailLines=1")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		next := func(what string) (string, bool) {
			select {
			case l, ok := <-lines:
				return l, ok
			case <-time.After(30 * time.Second):
				t.Fatalf("followed log: no %s", what)
				return "", false
			}
		}
		if l, _ := next("tail line"); l != "three" {
			t.Errorf("first followed line %q", l)
		}
		f, err := os.OpenFile(logFile, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = f.WriteString(criLines(time.Now().UTC(), "stdout F four"))
		_ = f.Close()
		if l, _ := next("appended line"); l != "four" {
			t.Errorf("appended line %q", l)
		}
		if err := c.client.CoreV1().Pods("default").Delete(ctx, "logs", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		if l, ok := next("end of stream"); ok {
			t.Errorf("after the container stopped: %q", l)
		}
	})
}
