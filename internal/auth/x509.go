package auth

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"slices"

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
}

func (a *x509Authenticator) Authenticate(r *http.Request) (*User, bool, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || a.pool == nil {
		return nil, false, nil
	}
	leaf := r.TLS.PeerCertificates[0]
	opts := x509.VerifyOptions{
		Roots:         a.pool,
		Intermediates: x509.NewCertPool(),
		CurrentTime:   a.clock.Now(),
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	for _, c := range r.TLS.PeerCertificates[1:] {
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
