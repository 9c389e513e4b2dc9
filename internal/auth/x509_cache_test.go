package auth

import (
	"crypto/tls"
	"crypto/x509"
	"net/http/httptest"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

// A verified chain is remembered, but only until its certificate expires.
func TestX509CacheHonoursExpiry(t *testing.T) {
	root := newTestCA(t)
	certPEM, _, err := root.IssueClientCert("alice", []string{"dev"})
	if err != nil {
		t.Fatal(err)
	}
	cert := parseCert(t, certPEM)
	clk := clocktesting.NewFakePassiveClock(time.Now())
	a := newX509(root.Pool(), clk)
	req := httptest.NewRequest("GET", "/api", nil)
	req.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}

	for i := 0; i < 2; i++ {
		u, ok, err := a.Authenticate(req)
		if err != nil || !ok || u.Name != "alice" || len(u.Groups) != 1 {
			t.Fatalf("request %d: %+v %v %v", i, u, ok, err)
		}
		u.Groups = append(u.Groups, "mutated")
	}
	if len(a.verified) != 1 {
		t.Fatalf("cache holds %d chains, want 1", len(a.verified))
	}
	clk.SetTime(cert.NotAfter.Add(time.Second))
	if _, ok, err := a.Authenticate(req); ok || err == nil {
		t.Fatalf("an expired certificate authenticated from the cache: ok=%v err=%v", ok, err)
	}
}
