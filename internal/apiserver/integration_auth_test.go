package apiserver_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/skiff-sh/skiff/internal/pki"
	"github.com/skiff-sh/skiff/internal/testserver"
)

func httpClient(s *testserver.Server) (*http.Client, error) { return rest.HTTPClientFor(s.Config) }

// TestIntegrationAuth covers authentication, authorization and the
// health, version and metrics endpoints.
func TestIntegrationAuth(t *testing.T) {
	t.Parallel()
	tokens := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(tokens, []byte("bob-token,bob,1001,\"dev,qa\"\nroot-token,root,1002,system:masters\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := testserver.Start(t, testserver.Options{TokenAuthFile: tokens})
	anon := anonymousConfig(s.Config)
	withToken := func(token string) *rest.Config {
		cfg := anonymousConfig(s.Config)
		cfg.BearerToken = token
		return cfg
	}

	t.Run("Anonymous", func(t *testing.T) {
		t.Parallel()
		for _, p := range []string{"/api/v1/namespaces", "/api", "/apis", "/metrics", "/openapi/v2", "/", "/api/v1/namespaces/default/pods/x"} {
			r := rawDo(t, anon, "GET", p, "", nil)
			var st metav1.Status
			_ = json.Unmarshal(r.body, &st)
			if r.code != 401 || st.Reason != metav1.StatusReasonUnauthorized || st.Message != "Unauthorized" {
				t.Errorf("anonymous GET %s: %d %s", p, r.code, r.body)
			}
		}
		for _, p := range []string{"/healthz", "/livez", "/readyz", "/version", "/healthz/etcd", "/readyz?verbose"} {
			r := rawDo(t, anon, "GET", p, "", nil)
			if r.code != 200 {
				t.Errorf("anonymous GET %s: %d %s", p, r.code, r.body)
			}
		}
		// A typed client without credentials gets 401 too.
		c, err := kubernetes.NewForConfig(anon)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.CoreV1().Pods("default").List(bg(), metav1.ListOptions{})
		wantStatus(t, err, 401, metav1.StatusReasonUnauthorized)
		// A wrong token is 401, not anonymous.
		r := rawDo(t, withToken("wrong"), "GET", "/api/v1/namespaces", "", nil)
		if r.code != 401 {
			t.Errorf("wrong token: %d %s", r.code, r.body)
		}
	})

	t.Run("TokenUsers", func(t *testing.T) {
		t.Parallel()
		bob, err := kubernetes.NewForConfig(withToken("bob-token"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = bob.CoreV1().Pods("default").List(bg(), metav1.ListOptions{})
		st := wantStatus(t, err, 403, metav1.StatusReasonForbidden)
		want := `pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "default"`
		if !strings.HasPrefix(st.Message, want) {
			t.Errorf("message = %q\nwant prefix %q", st.Message, want)
		}
		_, err = bob.AppsV1().Deployments("kube-system").Get(bg(), "coredns", metav1.GetOptions{})
		st = wantStatus(t, err, 403, metav1.StatusReasonForbidden)
		want = `deployments.apps "coredns" is forbidden: User "bob" cannot get resource "deployments" in API group "apps" in the namespace "kube-system"`
		if !strings.HasPrefix(st.Message, want) {
			t.Errorf("message = %q\nwant prefix %q", st.Message, want)
		}
		if st.Details == nil || st.Details.Name != "coredns" || st.Details.Group != "apps" || st.Details.Kind != "deployments" {
			t.Errorf("details = %+v", st.Details)
		}
		_, err = bob.CoreV1().Nodes().List(bg(), metav1.ListOptions{})
		st = wantStatus(t, err, 403, metav1.StatusReasonForbidden)
		want = `nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" at the cluster scope`
		if !strings.HasPrefix(st.Message, want) {
			t.Errorf("message = %q\nwant prefix %q", st.Message, want)
		}
		_, err = bob.AppsV1().Deployments("default").GetScale(bg(), "x", metav1.GetOptions{})
		st = wantStatus(t, err, 403, metav1.StatusReasonForbidden)
		want = `deployments.apps "x" is forbidden: User "bob" cannot get resource "deployments/scale" in API group "apps" in the namespace "default"`
		if !strings.HasPrefix(st.Message, want) {
			t.Errorf("message = %q\nwant prefix %q", st.Message, want)
		}
		r := rawDo(t, withToken("bob-token"), "GET", "/metrics", "", nil)
		if r.code != 403 || !strings.Contains(string(r.body), `forbidden: User \"bob\" cannot get path \"/metrics\"`) {
			t.Errorf("bob /metrics: %d %s", r.code, r.body)
		}
		// Health stays open to everyone.
		if r := rawDo(t, withToken("bob-token"), "GET", "/healthz", "", nil); r.code != 200 {
			t.Errorf("bob /healthz: %d", r.code)
		}
		// A token in system:masters may do everything.
		root, err := kubernetes.NewForConfig(withToken("root-token"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := root.CoreV1().Namespaces().Get(bg(), "default", metav1.GetOptions{}); err != nil {
			t.Errorf("root token: %v", err)
		}
	})

	t.Run("X509", func(t *testing.T) {
		t.Parallel()
		// The admin certificate works, protobuf and JSON.
		for _, cfg := range []*rest.Config{s.Config, jsonConfig(s.Config)} {
			c, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.CoreV1().Namespaces().Get(bg(), "kube-system", metav1.GetOptions{}); err != nil {
				t.Errorf("admin: %v", err)
			}
		}
		// A certificate from the cluster CA outside system:masters is
		// identified but forbidden.
		ca, err := pki.EnsureCA(filepath.Join(s.DataDir, "pki"))
		if err != nil {
			t.Fatal(err)
		}
		certPEM, keyPEM, err := ca.IssueClientCert("alice", []string{"dev"})
		if err != nil {
			t.Fatal(err)
		}
		cfg := anonymousConfig(s.Config)
		cfg.CertData, cfg.KeyData = certPEM, keyPEM
		alice, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = alice.CoreV1().Secrets("default").List(bg(), metav1.ListOptions{})
		st := wantStatus(t, err, 403, metav1.StatusReasonForbidden)
		if !strings.HasPrefix(st.Message, `secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "default"`) {
			t.Errorf("alice message = %q", st.Message)
		}
	})

	t.Run("HealthVersionMetrics", func(t *testing.T) {
		t.Parallel()
		r := rawDo(t, anon, "GET", "/healthz?verbose", "", nil)
		body := string(r.body)
		if r.code != 200 || !strings.Contains(body, "[+]ping ok") || !strings.Contains(body, "[+]etcd ok") || !strings.HasSuffix(body, "healthz check passed\n") {
			t.Errorf("/healthz?verbose: %d %q", r.code, body)
		}
		for _, p := range []string{"/readyz", "/livez", "/healthz"} {
			if r := rawDo(t, anon, "GET", p, "", nil); r.code != 200 || string(r.body) != "ok" {
				t.Errorf("%s: %d %q", p, r.code, r.body)
			}
		}
		r = rawDo(t, anon, "GET", "/readyz?verbose&exclude=etcd", "", nil)
		if !strings.Contains(string(r.body), "[+]etcd excluded: ok") || !strings.Contains(string(r.body), "readyz check passed") {
			t.Errorf("/readyz?verbose&exclude=etcd: %q", r.body)
		}
		if r := rawDo(t, anon, "GET", "/healthz/nosuch", "", nil); r.code != 404 {
			t.Errorf("/healthz/nosuch: %d", r.code)
		}
		r = rawDo(t, anon, "GET", "/version", "", nil)
		var v version.Info
		if err := json.Unmarshal(r.body, &v); err != nil || v.Major != "1" || v.Minor != "37" || v.GitVersion != "v1.37.2+skiff" {
			t.Errorf("/version: %s (%v)", r.body, err)
		}
		// The discovery client reads the same.
		c := s.Client(t)
		sv, err := c.Discovery().ServerVersion()
		if err != nil || sv.GitVersion != "v1.37.2+skiff" {
			t.Errorf("ServerVersion = %+v, %v", sv, err)
		}
		// Some traffic, then metrics count it.
		if _, err := c.CoreV1().Namespaces().Get(bg(), "default", metav1.GetOptions{}); err != nil {
			t.Fatal(err)
		}
		r = rawDo(t, s.Config, "GET", "/metrics", "", nil)
		body = string(r.body)
		if r.code != 200 || !strings.Contains(body, "apiserver_request_total{") ||
			!strings.Contains(body, `apiserver_request_total{code="200",group="",resource="namespaces",verb="get"}`) {
			t.Errorf("/metrics: %d, request_total lines: %s", r.code, grepLines(body, "apiserver_request_total{"))
		}
		if !strings.Contains(body, `code="401"`) && !strings.Contains(body, "apiserver_request_duration_seconds") {
			t.Errorf("/metrics lacks latency: %s", grepLines(body, "apiserver_request"))
		}
	})
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
