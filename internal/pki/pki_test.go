package pki

import (
	"bytes"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	certutil "k8s.io/client-go/util/cert"
	clocktesting "k8s.io/utils/clock/testing"
)

func mustCA(t *testing.T) *CA {
	t.Helper()
	ca, err := EnsureCA(t.TempDir())
	if err != nil {
		t.Fatalf("EnsureCA: %v", err)
	}
	return ca
}

func parseOne(t *testing.T, pemBytes []byte) *x509.Certificate {
	t.Helper()
	certs, err := certutil.ParseCertsPEM(pemBytes)
	if err != nil {
		t.Fatalf("parse cert: %v", err)
	}
	return certs[0]
}

func writeCAFiles(t *testing.T, dir string, certPEM, keyPEM []byte) {
	t.Helper()
	if certPEM != nil {
		if err := os.WriteFile(filepath.Join(dir, CACertFile), certPEM, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if keyPEM != nil {
		if err := os.WriteFile(filepath.Join(dir, CAKeyFile), keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEnsureCACreatesAndReloads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "pki")
	ca, err := EnsureCA(dir)
	if err != nil {
		t.Fatalf("EnsureCA: %v", err)
	}
	if !ca.Cert.IsCA {
		t.Error("certificate is not a CA")
	}
	if ca.Cert.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("key algorithm = %v, want ECDSA", ca.Cert.PublicKeyAlgorithm)
	}
	life := ca.Cert.NotAfter.Sub(ca.Cert.NotBefore)
	if life < CAValidity || life > CAValidity+time.Hour {
		t.Errorf("CA lifetime = %v, want about %v", life, CAValidity)
	}
	st, err := os.Stat(filepath.Join(dir, CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("ca.key mode = %v, want 0600", st.Mode().Perm())
	}
	onDisk, err := os.ReadFile(filepath.Join(dir, CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(onDisk, ca.CertPEM) {
		t.Error("CertPEM differs from ca.crt on disk")
	}

	again, err := EnsureCA(dir)
	if err != nil {
		t.Fatalf("second EnsureCA: %v", err)
	}
	if !again.Cert.Equal(ca.Cert) || !bytes.Equal(again.KeyPEM, ca.KeyPEM) {
		t.Error("second EnsureCA did not load the existing CA")
	}
}

func TestEnsureCAExistingState(t *testing.T) {
	good := mustCA(t)
	other := mustCA(t)
	expired, err := newCA(clocktesting.NewFakePassiveClock(time.Now().Add(-11 * 365 * 24 * time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	leafPEM, _, err := good.IssueClientCert("alice", nil)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name        string
		certPEM     []byte
		keyPEM      []byte
		wantErr     string
		wantNewCert bool
	}{
		{name: "matching pair is loaded", certPEM: good.CertPEM, keyPEM: good.KeyPEM},
		{name: "key without cert is replaced", keyPEM: good.KeyPEM, wantNewCert: true},
		{name: "cert without key", certPEM: good.CertPEM, wantErr: "key"},
		{name: "mismatched key", certPEM: good.CertPEM, keyPEM: other.KeyPEM, wantErr: "does not match"},
		{name: "not a CA", certPEM: leafPEM, keyPEM: good.KeyPEM, wantErr: "not a CA"},
		{name: "expired", certPEM: expired.CertPEM, keyPEM: expired.KeyPEM, wantErr: "expired"},
		{name: "garbage cert", certPEM: []byte("junk"), keyPEM: good.KeyPEM, wantErr: "parse certificate"},
		{name: "garbage key", certPEM: good.CertPEM, keyPEM: []byte("junk"), wantErr: "parse key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeCAFiles(t, dir, tc.certPEM, tc.keyPEM)
			ca, err := EnsureCA(dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("EnsureCA: %v", err)
			}
			if got := ca.Cert.Equal(good.Cert); got == tc.wantNewCert {
				t.Errorf("loaded existing cert = %v, want %v", got, !tc.wantNewCert)
			}
			if tc.wantNewCert && bytes.Equal(ca.KeyPEM, good.KeyPEM) {
				t.Error("stale key was kept")
			}
		})
	}
}

func TestEnsureServingCert(t *testing.T) {
	hosts := []string{"127.0.0.1", "::1", "localhost", "kubernetes.default.svc", "10.0.0.1"}
	start := time.Now()

	tests := []struct {
		name string
		// prepare runs after a first EnsureServingCert with hosts at start;
		// it returns the hosts for the second call.
		prepare     func(t *testing.T, ca *CA, clk *clocktesting.FakePassiveClock, dir string) []string
		wantReissue bool
	}{
		{
			name:        "same hosts reuse",
			prepare:     func(*testing.T, *CA, *clocktesting.FakePassiveClock, string) []string { return hosts },
			wantReissue: false,
		},
		{
			name: "subset of hosts reuse",
			prepare: func(*testing.T, *CA, *clocktesting.FakePassiveClock, string) []string {
				return []string{"localhost", "0:0:0:0:0:0:0:1"}
			},
		},
		{
			name: "new host reissues",
			prepare: func(*testing.T, *CA, *clocktesting.FakePassiveClock, string) []string {
				return append(slices.Clone(hosts), "skiff.example.com")
			},
			wantReissue: true,
		},
		{
			name: "far from expiry reuse",
			prepare: func(_ *testing.T, _ *CA, clk *clocktesting.FakePassiveClock, _ string) []string {
				clk.SetTime(start.Add(LeafValidity - RenewBefore - 24*time.Hour))
				return hosts
			},
		},
		{
			name: "near expiry reissues",
			prepare: func(_ *testing.T, _ *CA, clk *clocktesting.FakePassiveClock, _ string) []string {
				clk.SetTime(start.Add(LeafValidity - RenewBefore + 24*time.Hour))
				return hosts
			},
			wantReissue: true,
		},
		{
			name: "signed by another CA reissues",
			prepare: func(t *testing.T, _ *CA, _ *clocktesting.FakePassiveClock, dir string) []string {
				// The other CA finds a certificate it did not sign and
				// replaces it with its own; ca must then do the same.
				if _, _, err := mustCA(t).EnsureServingCert(dir, "apiserver", hosts); err != nil {
					t.Fatal(err)
				}
				return hosts
			},
			wantReissue: true,
		},
		{
			name: "key missing reissues",
			prepare: func(t *testing.T, _ *CA, _ *clocktesting.FakePassiveClock, dir string) []string {
				if err := os.Remove(filepath.Join(dir, "apiserver.key")); err != nil {
					t.Fatal(err)
				}
				return hosts
			},
			wantReissue: true,
		},
		{
			name: "mismatched key reissues",
			prepare: func(t *testing.T, ca *CA, _ *clocktesting.FakePassiveClock, dir string) []string {
				_, key, err := ca.IssueClientCert("x", nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "apiserver.key"), key, 0o600); err != nil {
					t.Fatal(err)
				}
				return hosts
			},
			wantReissue: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ca := mustCA(t)
			clk := clocktesting.NewFakePassiveClock(start)
			ca.Clock = clk
			dir := filepath.Join(t.TempDir(), "certs")

			certFile, keyFile, err := ca.EnsureServingCert(dir, "apiserver", hosts)
			if err != nil {
				t.Fatalf("first EnsureServingCert: %v", err)
			}
			first, err := os.ReadFile(certFile)
			if err != nil {
				t.Fatal(err)
			}
			checkServingCert(t, ca, certFile, keyFile, hosts)

			second := tc.prepare(t, ca, clk, dir)
			before, _ := os.ReadFile(certFile)
			if _, _, err := ca.EnsureServingCert(dir, "apiserver", second); err != nil {
				t.Fatalf("second EnsureServingCert: %v", err)
			}
			after, err := os.ReadFile(certFile)
			if err != nil {
				t.Fatal(err)
			}
			if reissued := !bytes.Equal(before, after); reissued != tc.wantReissue {
				t.Errorf("reissued = %v, want %v", reissued, tc.wantReissue)
			}
			if !tc.wantReissue && !bytes.Equal(first, after) {
				t.Error("certificate changed although it should have been reused")
			}
			checkServingCert(t, ca, certFile, keyFile, second)
		})
	}
}

func checkServingCert(t *testing.T, ca *CA, certFile, keyFile string, hosts []string) {
	t.Helper()
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf := parseOne(t, certPEM)
	now := ca.now()
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("serving cert does not verify: %v", err)
	}
	for _, h := range hosts {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("VerifyHostname(%q): %v", h, err)
		}
	}
	for _, ip := range leaf.IPAddresses {
		if slices.Contains(leaf.DNSNames, ip.String()) {
			t.Errorf("IP %s also listed as a DNS name", ip)
		}
	}
	for _, name := range leaf.DNSNames {
		if net.ParseIP(name) != nil {
			t.Errorf("IP %s listed as a DNS name", name)
		}
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > LeafValidity+time.Hour {
		t.Errorf("serving cert lifetime %v exceeds %v", life, LeafValidity)
	}
	st, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode = %v, want 0600", st.Mode().Perm())
	}
}

func TestEnsureServingCertRejectsBadInput(t *testing.T) {
	ca := mustCA(t)
	tests := []struct {
		name      string
		certName  string
		hosts     []string
		wantError string
	}{
		{name: "no hosts", certName: "apiserver", wantError: "at least one host"},
		{name: "empty host", certName: "apiserver", hosts: []string{"localhost", ""}, wantError: "must not be empty"},
		{name: "empty name", certName: "", hosts: []string{"localhost"}, wantError: "plain file name"},
		{name: "path name", certName: "../x", hosts: []string{"localhost"}, wantError: "plain file name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ca.EnsureServingCert(t.TempDir(), tc.certName, tc.hosts)
			if err == nil || !strings.Contains(err.Error(), tc.wantError) {
				t.Fatalf("err = %v, want containing %q", err, tc.wantError)
			}
		})
	}
}

func TestIssueClientCert(t *testing.T) {
	ca := mustCA(t)
	tests := []struct {
		name    string
		user    string
		groups  []string
		wantErr bool
	}{
		{name: "admin", user: "kubernetes-admin", groups: []string{"system:masters"}},
		{name: "several groups", user: "bob", groups: []string{"dev", "ops"}},
		{name: "no groups", user: "carol"},
		{name: "empty user", user: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			certPEM, keyPEM, err := ca.IssueClientCert(tc.user, tc.groups)
			if tc.wantErr {
				if err == nil {
					t.Fatal("expected an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("IssueClientCert: %v", err)
			}
			leaf := parseOne(t, certPEM)
			if leaf.Subject.CommonName != tc.user {
				t.Errorf("CN = %q, want %q", leaf.Subject.CommonName, tc.user)
			}
			if !slices.Equal(leaf.Subject.Organization, tc.groups) && (len(tc.groups) != 0 || len(leaf.Subject.Organization) != 0) {
				t.Errorf("O = %v, want %v", leaf.Subject.Organization, tc.groups)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("client cert does not verify for client auth: %v", err)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
				t.Error("client cert verifies for server auth")
			}
			key, err := parseSigner(keyPEM)
			if err != nil {
				t.Fatal(err)
			}
			if !publicKeysEqual(key.Public(), leaf.PublicKey) {
				t.Error("key does not match certificate")
			}
		})
	}
}

func TestIssueNeverOutlivesCA(t *testing.T) {
	ca := mustCA(t)
	ca.Clock = clocktesting.NewFakePassiveClock(ca.Cert.NotAfter.Add(-24 * time.Hour))
	certPEM, _, err := ca.IssueClientCert("late", nil)
	if err != nil {
		t.Fatal(err)
	}
	if leaf := parseOne(t, certPEM); leaf.NotAfter.After(ca.Cert.NotAfter) {
		t.Errorf("leaf NotAfter %v is after CA NotAfter %v", leaf.NotAfter, ca.Cert.NotAfter)
	}
}

func TestDefaultServingHosts(t *testing.T) {
	cidr := func(s string) net.Addr {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		return n
	}
	tail := func(domain string) []string {
		return []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc." + domain}
	}
	tests := []struct {
		name      string
		serviceIP net.IP
		domain    string
		hostname  func() (string, error)
		addrs     func() ([]net.Addr, error)
		want      []string
	}{
		{
			name:      "typical host",
			serviceIP: net.ParseIP("10.96.0.1"),
			domain:    "cluster.local",
			hostname:  func() (string, error) { return "Node-1", nil },
			addrs: func() ([]net.Addr, error) {
				return []net.Addr{cidr("127.0.0.1/8"), cidr("::1/128"), cidr("192.168.1.10/24"), cidr("fe80::1/64"), cidr("2001:db8::5/64"), &net.IPAddr{IP: net.ParseIP("172.17.0.1")}}, nil
			},
			want: append([]string{"127.0.0.1", "::1", "localhost", "node-1", "192.168.1.10", "2001:db8::5", "172.17.0.1", "10.96.0.1"}, tail("cluster.local")...),
		},
		{
			name:     "lookups fail, empty domain, no service IP",
			hostname: func() (string, error) { return "", errors.New("boom") },
			addrs:    func() ([]net.Addr, error) { return nil, errors.New("boom") },
			want:     append([]string{"127.0.0.1", "::1", "localhost"}, tail("cluster.local")...),
		},
		{
			name:      "duplicates removed, trailing dot dropped",
			serviceIP: net.ParseIP("192.168.1.10"),
			domain:    "corp.example.",
			hostname:  func() (string, error) { return "localhost", nil },
			addrs: func() ([]net.Addr, error) {
				return []net.Addr{cidr("192.168.1.10/24"), cidr("192.168.1.10/24")}, nil
			},
			want: append([]string{"127.0.0.1", "::1", "localhost", "192.168.1.10"}, tail("corp.example")...),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := defaultServingHosts(tc.serviceIP, tc.domain, tc.hostname, tc.addrs)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}

func TestDefaultServingHostsRealHostIsIssuable(t *testing.T) {
	hosts := DefaultServingHosts(net.ParseIP("10.96.0.1"), "")
	for _, want := range []string{"127.0.0.1", "localhost", "10.96.0.1", "kubernetes.default.svc.cluster.local"} {
		if !slices.Contains(hosts, want) {
			t.Errorf("hosts %v lack %q", hosts, want)
		}
	}
	ca := mustCA(t)
	certFile, keyFile, err := ca.EnsureServingCert(t.TempDir(), "apiserver", hosts)
	if err != nil {
		t.Fatalf("EnsureServingCert: %v", err)
	}
	checkServingCert(t, ca, certFile, keyFile, hosts)
}
