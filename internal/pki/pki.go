// Package pki manages skiff's cluster certificate authority and the
// certificates it issues: API server serving certificates and client
// certificates for kubeconfig users.
//
// All keys are ECDSA P-256. Private keys are written with mode 0600 and every
// file is replaced atomically (write to a temporary file, then rename), so a
// crash never leaves a half-written certificate or key behind. The functions
// here are safe for concurrent use by goroutines sharing one *CA, but not for
// several processes ensuring the same directory at the same moment.
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/atomicfile"
)

const (
	// CACertFile and CAKeyFile are the file names EnsureCA uses inside its
	// directory.
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"

	// CAValidity is the lifetime of a newly created cluster CA.
	CAValidity = 10 * 365 * 24 * time.Hour
	// LeafValidity is the lifetime of issued serving and client certificates.
	LeafValidity = 365 * 24 * time.Hour
	// RenewBefore is how close to expiry a serving certificate may be before
	// EnsureServingCert replaces it.
	RenewBefore = 30 * 24 * time.Hour

	// caCommonName is the subject common name of a CA created by EnsureCA.
	caCommonName = "skiff-ca"
	// backdate is subtracted from NotBefore so that peers whose clocks run
	// slightly behind still accept a freshly issued certificate.
	backdate = time.Minute
)

// CA is a loaded cluster certificate authority.
//
// Clock is used for every validity decision and for the NotBefore/NotAfter of
// issued certificates; when nil the real clock is used. Tests may replace it
// after EnsureCA returns.
type CA struct {
	// Cert is the parsed CA certificate.
	Cert *x509.Certificate
	// Key is the CA private key; it matches Cert's public key.
	Key crypto.Signer
	// CertPEM and KeyPEM are the PEM encodings of Cert and Key exactly as
	// stored on disk.
	CertPEM []byte
	KeyPEM  []byte
	// Clock supplies the current time; nil means the real clock.
	Clock clock.PassiveClock
}

// EnsureCA loads the cluster CA from dir/ca.crt and dir/ca.key, creating dir
// (0700) and a new self-signed ECDSA P-256 CA valid for CAValidity if neither
// file exists.
//
// Contract:
//   - both files present: they are loaded; the certificate must be a CA
//     certificate matching the key, and must not have expired, otherwise an
//     error is returned and nothing is changed (replacing a CA would
//     invalidate every certificate it issued, so that is left to an operator).
//   - only ca.key present: a previous creation was interrupted before the
//     certificate was written, so nobody can trust that key yet; a new CA
//     replaces it.
//   - only ca.crt present: an error, since the key cannot be recovered.
func EnsureCA(dir string) (*CA, error) {
	certPath := filepath.Join(dir, CACertFile)
	keyPath := filepath.Join(dir, CAKeyFile)

	certPEM, certErr := os.ReadFile(certPath)
	if certErr != nil && !errors.Is(certErr, fs.ErrNotExist) {
		return nil, fmt.Errorf("read CA certificate: %w", certErr)
	}
	keyPEM, keyErr := os.ReadFile(keyPath)
	if keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist) {
		return nil, fmt.Errorf("read CA key: %w", keyErr)
	}
	switch {
	case certErr == nil && keyErr == nil:
		ca, err := parseCA(certPEM, keyPEM)
		if err != nil {
			return nil, fmt.Errorf("load CA from %s: %w", dir, err)
		}
		if now := ca.now(); now.After(ca.Cert.NotAfter) {
			return nil, fmt.Errorf("load CA from %s: certificate expired at %s", dir, ca.Cert.NotAfter.Format(time.RFC3339))
		}
		return ca, nil
	case certErr == nil:
		return nil, fmt.Errorf("CA certificate %s exists but its key %s is missing", certPath, keyPath)
	}

	ca, err := newCA(clock.RealClock{})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create CA directory: %w", err)
	}
	// Key first: a crash between the two writes leaves only the key, which
	// the next call treats as "not yet created".
	if err := atomicfile.WriteFile(keyPath, ca.KeyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("write CA key: %w", err)
	}
	if err := atomicfile.WriteFile(certPath, ca.CertPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write CA certificate: %w", err)
	}
	return ca, nil
}

// newCA generates a fresh self-signed CA using clk for its validity window.
func newCA(clk clock.PassiveClock) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	now := clk.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: caCommonName},
		NotBefore:             now.Add(-backdate).UTC(),
		NotAfter:              now.Add(CAValidity).UTC(),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new CA certificate: %w", err)
	}
	certPEM, err := certutil.EncodeCertificates(cert)
	if err != nil {
		return nil, fmt.Errorf("encode CA certificate: %w", err)
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return nil, fmt.Errorf("encode CA key: %w", err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: keyPEM, Clock: clk}, nil
}

// parseCA decodes a CA certificate and key pair and checks they belong
// together. Only the first certificate in certPEM is used.
func parseCA(certPEM, keyPEM []byte) (*CA, error) {
	certs, err := certutil.ParseCertsPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	cert := certs[0]
	if !cert.IsCA {
		return nil, errors.New("certificate is not a CA certificate")
	}
	key, err := parseSigner(keyPEM)
	if err != nil {
		return nil, err
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, errors.New("key does not match certificate")
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM, KeyPEM: keyPEM}, nil
}

// Pool returns a new certificate pool holding only the CA certificate, for
// verifying certificates it issued.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

// EnsureServingCert returns the paths of a serving certificate and key at
// dir/name.crt and dir/name.key that are valid for every entry of hosts (IP
// literals become IP SANs, everything else DNS SANs).
//
// Existing files are reused only if they parse, belong together, chain to
// this CA for server auth, cover every host, and stay valid for at least
// RenewBefore; otherwise a new key and certificate valid for LeafValidity
// (never past the CA's own expiry) replace them. The files are managed by
// skiff: anything there that fails these checks is overwritten. The key is
// written with mode 0600.
func (ca *CA) EnsureServingCert(dir, name string, hosts []string) (certFile, keyFile string, err error) {
	if name == "" || name != filepath.Base(name) {
		return "", "", fmt.Errorf("serving certificate name %q must be a plain file name", name)
	}
	hosts, err = cleanHosts(hosts)
	if err != nil {
		return "", "", err
	}
	certFile = filepath.Join(dir, name+".crt")
	keyFile = filepath.Join(dir, name+".key")

	if ca.servingCertUsable(certFile, keyFile, hosts) {
		return certFile, keyFile, nil
	}

	var ips []net.IP
	var dnsNames []string
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			dnsNames = append(dnsNames, h)
		}
	}
	certPEM, keyPEM, err := ca.issue(leafSpec{
		subject:     pkix.Name{CommonName: name},
		dnsNames:    dnsNames,
		ips:         ips,
		extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return "", "", fmt.Errorf("issue serving certificate %q: %w", name, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("create certificate directory: %w", err)
	}
	if err := atomicfile.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("write serving key: %w", err)
	}
	if err := atomicfile.WriteFile(certFile, certPEM, 0o644); err != nil {
		return "", "", fmt.Errorf("write serving certificate: %w", err)
	}
	return certFile, keyFile, nil
}

// servingCertUsable reports whether the certificate and key on disk satisfy
// every requirement of EnsureServingCert. Any problem, including unreadable
// files, means "not usable".
func (ca *CA) servingCertUsable(certFile, keyFile string, hosts []string) bool {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return false
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return false
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return false
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return false
	}
	now := ca.now()
	if now.Add(RenewBefore).After(leaf.NotAfter) {
		return false
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots:       ca.Pool(),
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return false
	}
	for _, h := range hosts {
		if leaf.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// IssueClientCert issues a client-auth certificate for user (the subject
// common name) with groups as the subject organizations, the identity the
// API server's x509 authenticator derives. It returns the PEM certificate and
// a fresh PEM ECDSA key; nothing is written to disk. user must be non-empty.
func (ca *CA) IssueClientCert(user string, groups []string) (certPEM, keyPEM []byte, err error) {
	if user == "" {
		return nil, nil, errors.New("client certificate user must not be empty")
	}
	certPEM, keyPEM, err = ca.issue(leafSpec{
		subject:     pkix.Name{CommonName: user, Organization: append([]string(nil), groups...)},
		extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("issue client certificate for %q: %w", user, err)
	}
	return certPEM, keyPEM, nil
}

// leafSpec describes a certificate for issue to sign.
type leafSpec struct {
	subject     pkix.Name
	dnsNames    []string
	ips         []net.IP
	extKeyUsage []x509.ExtKeyUsage
}

// issue generates a key and signs a leaf certificate for it.
func (ca *CA) issue(spec leafSpec) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	now := ca.now()
	notAfter := now.Add(LeafValidity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               spec.subject,
		NotBefore:             now.Add(-backdate).UTC(),
		NotAfter:              notAfter.UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           spec.extKeyUsage,
		BasicConstraintsValid: true,
		DNSNames:              spec.dnsNames,
		IPAddresses:           spec.ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parse signed certificate: %w", err)
	}
	if certPEM, err = certutil.EncodeCertificates(cert); err != nil {
		return nil, nil, fmt.Errorf("encode certificate: %w", err)
	}
	if keyPEM, err = keyutil.MarshalPrivateKeyToPEM(key); err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	return certPEM, keyPEM, nil
}

// now returns the CA clock's time, defaulting to the real clock.
func (ca *CA) now() time.Time {
	if ca.Clock == nil {
		return time.Now()
	}
	return ca.Clock.Now()
}

// cleanHosts removes duplicates (keeping first occurrences) and rejects an
// empty list or empty entries.
func cleanHosts(hosts []string) ([]string, error) {
	seen := make(map[string]bool, len(hosts))
	out := make([]string, 0, len(hosts))
	for _, h := range hosts {
		if h == "" {
			return nil, errors.New("serving certificate host must not be empty")
		}
		key := h
		if ip := net.ParseIP(h); ip != nil {
			key = ip.String()
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, h)
	}
	if len(out) == 0 {
		return nil, errors.New("serving certificate needs at least one host")
	}
	return out, nil
}

// newSerial returns a random positive 128-bit certificate serial number.
func newSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	n, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// parseSigner decodes a PEM private key usable for signing.
func parseSigner(keyPEM []byte) (crypto.Signer, error) {
	parsed, err := keyutil.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parse key: %w", err)
	}
	signer, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key of type %T cannot sign", parsed)
	}
	return signer, nil
}

// publicKeysEqual compares two public keys by their PKIX encoding.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	da, errA := x509.MarshalPKIXPublicKey(a)
	db, errB := x509.MarshalPKIXPublicKey(b)
	return errA == nil && errB == nil && bytes.Equal(da, db)
}
