package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/pki"
	certutil "k8s.io/client-go/util/cert"
	clocktesting "k8s.io/utils/clock/testing"
)

func newTestCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.EnsureCA(t.TempDir())
	if err != nil {
		t.Fatalf("EnsureCA: %v", err)
	}
	return ca
}

func parseCert(t *testing.T, pemBytes []byte) *x509.Certificate {
	t.Helper()
	certs, err := certutil.ParseCertsPEM(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return certs[0]
}

// sign creates a certificate from tmpl signed by parent/parentKey (self-signed
// when parent is nil) and returns it with its new key.
func sign(t *testing.T, tmpl, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, crypto.Signer) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
		tmpl.NotAfter = time.Now().Add(time.Hour)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func TestX509Authenticator(t *testing.T) {
	root := newTestCA(t)
	other := newTestCA(t)

	interCert, interKey := sign(t, &x509.Certificate{
		Subject:               pkix.Name{CommonName: "intermediate"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, root.Cert, root.Key)
	intermediate := &pki.CA{Cert: interCert, Key: interKey}

	client := func(ca *pki.CA, user string, groups ...string) *x509.Certificate {
		certPEM, _, err := ca.IssueClientCert(user, groups)
		if err != nil {
			t.Fatal(err)
		}
		return parseCert(t, certPEM)
	}
	adminCert := client(root, "kubernetes-admin", "system:masters")
	viaIntermediate := client(intermediate, "dave", "dev")
	foreign := client(other, "mallory", "system:masters")

	servingDir := t.TempDir()
	servingFile, _, err := root.EnsureServingCert(servingDir, "apiserver", []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	serving, err := certutil.CertsFromFile(servingFile)
	if err != nil {
		t.Fatal(err)
	}

	noCN, _ := sign(t, &x509.Certificate{
		Subject:     pkix.Name{Organization: []string{"system:masters"}},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}, root.Cert, root.Key)

	past := *root
	past.Clock = clocktesting.NewFakePassiveClock(time.Now().Add(-2 * pki.LeafValidity))
	expired := client(&past, "old-timer")

	tests := []struct {
		name       string
		pool       *x509.CertPool
		tls        *tls.ConnectionState
		now        time.Time
		wantUser   *User
		wantOK     bool
		wantErrSub string
	}{
		{name: "no TLS", pool: root.Pool()},
		{name: "no peer certificates", pool: root.Pool(), tls: &tls.ConnectionState{}},
		{
			name:     "admin client certificate",
			pool:     root.Pool(),
			tls:      &tls.ConnectionState{PeerCertificates: []*x509.Certificate{adminCert}},
			wantUser: &User{Name: "kubernetes-admin", Groups: []string{"system:masters"}},
			wantOK:   true,
		},
		{
			name:     "chain through supplied intermediate",
			pool:     root.Pool(),
			tls:      &tls.ConnectionState{PeerCertificates: []*x509.Certificate{viaIntermediate, interCert}},
			wantUser: &User{Name: "dave", Groups: []string{"dev"}},
			wantOK:   true,
		},
		{
			name:       "intermediate not supplied",
			pool:       root.Pool(),
			tls:        &tls.ConnectionState{PeerCertificates: []*x509.Certificate{viaIntermediate}},
			wantErrSub: "unknown authority",
		},
		{
			name:       "signed by another CA",
			pool:       root.Pool(),
			tls:        &tls.ConnectionState{PeerCertificates: []*x509.Certificate{foreign}},
			wantErrSub: "unknown authority",
		},
		{
			name:       "serving certificate is not for client auth",
			pool:       root.Pool(),
			tls:        &tls.ConnectionState{PeerCertificates: serving},
			wantErrSub: "key usage",
		},
		{
			name:       "expired",
			pool:       root.Pool(),
			tls:        &tls.ConnectionState{PeerCertificates: []*x509.Certificate{expired}},
			wantErrSub: "expired",
		},
		{
			name:       "verified at a time after expiry",
			pool:       root.Pool(),
			tls:        &tls.ConnectionState{PeerCertificates: []*x509.Certificate{adminCert}},
			now:        time.Now().Add(pki.LeafValidity + 24*time.Hour),
			wantErrSub: "expired",
		},
		{
			name: "verified certificate without common name",
			pool: root.Pool(),
			tls:  &tls.ConnectionState{PeerCertificates: []*x509.Certificate{noCN}},
		},
		{
			name: "nil pool",
			tls:  &tls.ConnectionState{PeerCertificates: []*x509.Certificate{adminCert}},
		},
		{
			name: "empty pool",
			pool: x509.NewCertPool(),
			tls:  &tls.ConnectionState{PeerCertificates: []*x509.Certificate{adminCert}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = time.Now()
			}
			a := newX509(tc.pool, clocktesting.NewFakePassiveClock(now))
			r := httptest.NewRequest("GET", "/api", nil)
			r.TLS = tc.tls
			user, ok, err := a.Authenticate(r)
			if tc.wantErrSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErrSub) {
					t.Fatalf("err = %v, want containing %q", err, tc.wantErrSub)
				}
			} else if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if !equalUser(user, tc.wantUser) {
				t.Errorf("user = %+v, want %+v", user, tc.wantUser)
			}
		})
	}
}

func TestNewX509UsesRealClock(t *testing.T) {
	ca := newTestCA(t)
	certPEM, _, err := ca.IssueClientCert("alice", []string{"a", "b"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{parseCert(t, certPEM)}}
	user, ok, err := NewX509(ca.Pool()).Authenticate(r)
	if err != nil || !ok || user.Name != "alice" || !slices.Equal(user.Groups, []string{"a", "b"}) {
		t.Fatalf("Authenticate = %+v, %v, %v", user, ok, err)
	}
}

func equalUser(a, b *User) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Name != b.Name || a.UID != b.UID || !slices.Equal(a.Groups, b.Groups) || len(a.Extra) != len(b.Extra) {
		return false
	}
	for k, v := range a.Extra {
		if !slices.Equal(v, b.Extra[k]) {
			return false
		}
	}
	return true
}
