package auth

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// NewX509 returns an Authenticator for TLS client certificates. It looks at
// r.TLS.PeerCertificates: the first is the client's certificate, the rest are
// intermediates. The certificate must chain to a root in pool and be valid for
// client authentication at the current time. The user name is the subject
// common name and the groups are the subject organizations.
//
// No client certificate, or a nil or empty pool, means no opinion. A certificate that
// fails verification is an error. A verified certificate without a common
// name means no opinion, as upstream.
func NewX509(pool *x509.CertPool) Authenticator {
	return newX509(pool, clock.RealClock{})
}

// newX509 is NewX509 with an injectable clock for verification time.
func newX509(pool *x509.CertPool, clk clock.PassiveClock) *x509Authenticator {
	if pool != nil && pool.Equal(x509.NewCertPool()) {
		pool = nil
	}
	return &x509Authenticator{pool: pool, clock: clk}
}

type x509Authenticator struct {
	pool  *x509.CertPool // nil when there is nothing to verify against
	clock clock.PassiveClock

	// verified remembers chains that verified, until the first of their
	// certificates expires: verifying an ECDSA chain on every request was
	// the API server's largest single cost under load.
	mu       sync.Mutex
	verified map[[sha256.Size]byte]verifiedChain
}

type verifiedChain struct {
	user     User
	notAfter time.Time
}

// maxVerified bounds the cache; when full it starts over.
const maxVerified = 4096

func chainKey(certs []*x509.Certificate) [sha256.Size]byte {
	h := sha256.New()
	for _, c := range certs {
		h.Write(c.Raw)
	}
	var k [sha256.Size]byte
	copy(k[:], h.Sum(nil))
	return k
}

func (a *x509Authenticator) Authenticate(r *http.Request) (*User, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || a.pool == nil {
		return nil, false, nil
	}
	key := chainKey(r.TLS.PeerCertificates)
	now := a.clock.Now()
	a.mu.Lock()
	hit, ok := a.verified[key]
	a.mu.Unlock()
	if ok && now.Before(hit.notAfter) {
		u := hit.user.clone()
		return u, true, nil
	}
	user, ok, err := a.verify(r.TLS.PeerCertificates, now)
	if err != nil || !ok {
		return user, ok, err
	}
	notAfter := r.TLS.PeerCertificates[0].NotAfter
	for _, c := range r.TLS.PeerCertificates[1:] {
		if c.NotAfter.Before(notAfter) {
			notAfter = c.NotAfter
		}
	}
	a.mu.Lock()
	if a.verified == nil || len(a.verified) >= maxVerified {
		a.verified = map[[sha256.Size]byte]verifiedChain{}
	}
	a.verified[key] = verifiedChain{user: *user.clone(), notAfter: notAfter}
	a.mu.Unlock()
	return user, true, nil
}

// verify checks a chain against the pool at now.
func (a *x509Authenticator) verify(certs []*x509.Certificate, now time.Time) (*User, bool, error) {
	leaf := certs[0]
	opts := x509.VerifyOptions{
		Roots:         a.pool,
		Intermediates: x509.NewCertPool(),
		CurrentTime:   now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	for _, c := range certs[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := leaf.Verify(opts); err != nil {
		return nil, false, fmt.Errorf("verifying client certificate (serial %s, subject %q) failed: %w", leaf.SerialNumber, leaf.Subject.String(), err)
	}
	if leaf.Subject.CommonName == "" {
		return nil, false, nil
	}
	return &User{
		Name:   leaf.Subject.CommonName,
		Groups: slices.Clone(leaf.Subject.Organization),
	}, true, nil
}
