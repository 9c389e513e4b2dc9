// Package controlplane prepares and runs the control plane of one Skiff
// server: certificates and the admin kubeconfig in the data dir, etcd
// (embedded, or an external cluster), and the API server. It is the glue
// between cmd/skiff's flags and the components, which never import each
// other.
package controlplane

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/version"

	"github.com/skiff-sh/skiff/internal/apiserver"
	"github.com/skiff-sh/skiff/internal/atomicfile"
	"github.com/skiff-sh/skiff/internal/auth"
	"github.com/skiff-sh/skiff/internal/etcd"
	"github.com/skiff-sh/skiff/internal/kubeconfig"
	"github.com/skiff-sh/skiff/internal/pki"
	"github.com/skiff-sh/skiff/internal/storage"
)

// Config is a control plane's configuration; cmd/skiff fills it from flags.
type Config struct {
	// DataDir holds certificates, the kubeconfig and embedded etcd's data.
	DataDir string
	// BindAddress and APIPort are where the API server listens.
	BindAddress string
	APIPort     int
	// AdvertiseAddress is the address written into the kubernetes
	// Endpoints; default the host's first address.
	AdvertiseAddress net.IP
	// ServiceCIDR is the ClusterIP range (default 10.43.0.0/16).
	ServiceCIDR *net.IPNet
	// ClusterDomain is the DNS domain (default cluster.local).
	ClusterDomain string
	// ClusterDNS is the cluster IP of the kube-dns Service (default
	// 10.43.0.10); the cluster DNS listens on AdvertiseAddress at
	// ClusterDNSPort (default 53) behind it.
	ClusterDNS     net.IP
	ClusterDNSPort int
	// EtcdServers, when set, is an external etcd cluster to use instead of
	// the embedded member; EtcdCAFile, EtcdCertFile and EtcdKeyFile are its
	// TLS credentials.
	EtcdServers                           []string
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	// EtcdClientURL and EtcdPeerURL are the embedded member's URLs.
	EtcdClientURL, EtcdPeerURL string
	// TokenAuthFile is an upstream-format static token file.
	TokenAuthFile string
	// CompactionInterval is how much etcd history is kept (default 5m).
	CompactionInterval time.Duration
	// LogRequests logs one line per API request.
	LogRequests bool
	Logger      *slog.Logger
	Version     version.Info
}

// KubeconfigPath is where the admin kubeconfig is written.
func (c *Config) KubeconfigPath() string { return filepath.Join(c.DataDir, "admin.kubeconfig") }

// Etcd is the storage component: an embedded member, or a client of an
// external cluster.
type Etcd struct {
	cfg    *Config
	client atomic.Pointer[clientv3.Client]
}

// NewEtcd returns the storage component.
func NewEtcd(cfg *Config) *Etcd { return &Etcd{cfg: cfg} }

func (e *Etcd) Name() string { return "etcd" }

// Ready reports that the client is usable.
func (e *Etcd) Ready() bool { return e.client.Load() != nil }

// Healthz reads the key "health" with a linearizable read, as etcd's own
// /health does: it fails when the member has no leader or no quorum.
func (e *Etcd) Healthz(ctx context.Context) error {
	c := e.client.Load()
	if c == nil {
		return errors.New("etcd: not started")
	}
	if _, err := c.Get(ctx, "health"); err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	return nil
}

// Client is the etcd client, once Ready.
func (e *Etcd) Client() *clientv3.Client { return e.client.Load() }

func (e *Etcd) Run(ctx context.Context) error {
	if len(e.cfg.EtcdServers) > 0 {
		tlsCfg, err := etcdTLS(e.cfg)
		if err != nil {
			return err
		}
		c, err := clientv3.New(clientv3.Config{Endpoints: e.cfg.EtcdServers, TLS: tlsCfg, DialTimeout: 10 * time.Second, Context: ctx})
		if err != nil {
			return fmt.Errorf("connecting to etcd %v: %w", e.cfg.EtcdServers, err)
		}
		defer c.Close()
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		_, err = c.Get(sctx, "health")
		cancel()
		if err != nil {
			return fmt.Errorf("etcd %v does not answer: %w", e.cfg.EtcdServers, err)
		}
		e.client.Store(c)
		<-ctx.Done()
		return nil
	}
	srv, err := etcd.Start(ctx, etcd.Config{DataDir: e.cfg.DataDir, ClientURL: e.cfg.EtcdClientURL, PeerURL: e.cfg.EtcdPeerURL, Logger: e.cfg.Logger})
	if err != nil {
		return err
	}
	defer srv.Close()
	e.client.Store(srv.Client())
	select {
	case <-ctx.Done():
		return nil
	case err := <-srv.Err():
		return err
	}
}

func etcdTLS(cfg *Config) (*tls.Config, error) {
	if cfg.EtcdCAFile == "" && cfg.EtcdCertFile == "" {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.EtcdCAFile != "" {
		pem, err := os.ReadFile(cfg.EtcdCAFile)
		if err != nil {
			return nil, fmt.Errorf("etcd CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("etcd CA: no certificates found")
		}
		t.RootCAs = pool
	}
	if cfg.EtcdCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.EtcdCertFile, cfg.EtcdKeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcd client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// APIServer is the API server component; it starts on the etcd
// component's client.
type APIServer struct {
	cfg    *Config
	etcd   *Etcd
	server atomic.Pointer[apiserver.Server]
}

// NewAPIServer returns the API server component.
func NewAPIServer(cfg *Config, e *Etcd) *APIServer { return &APIServer{cfg: cfg, etcd: e} }

func (a *APIServer) Name() string { return "kube-apiserver" }

func (a *APIServer) Ready() bool {
	s := a.server.Load()
	return s != nil && s.Ready()
}

// Healthz runs the API server's /readyz checks.
func (a *APIServer) Healthz(ctx context.Context) error {
	s := a.server.Load()
	if s == nil {
		return errors.New("kube-apiserver: not started")
	}
	return s.Healthz(ctx)
}

func (a *APIServer) Run(ctx context.Context) error {
	certs, err := EnsureCertificates(a.cfg)
	if err != nil {
		return err
	}
	authns := []auth.Authenticator{auth.NewX509(certs.CA.Pool())}
	if a.cfg.TokenAuthFile != "" {
		t, err := auth.NewTokenFile(a.cfg.TokenAuthFile)
		if err != nil {
			return err
		}
		authns = append(authns, t)
	}
	srv, err := apiserver.New(apiserver.Config{
		Store:              storage.New(a.etcd.Client()),
		BindAddress:        a.cfg.BindAddress,
		Port:               a.cfg.APIPort,
		CertFile:           certs.ServingCert,
		KeyFile:            certs.ServingKey,
		ClientCA:           certs.CA.Pool(),
		Authenticator:      auth.NewUnion(authns...),
		ServiceCIDR:        a.cfg.ServiceCIDR,
		AdvertiseAddress:   a.cfg.AdvertiseAddress,
		CompactionInterval: a.cfg.CompactionInterval,
		Logger:             a.cfg.Logger,
		LogRequests:        a.cfg.LogRequests,
		Version:            a.cfg.Version,

		KubeletClientCertFile: certs.KubeletClientCert,
		KubeletClientKeyFile:  certs.KubeletClientKey,
	})
	if err != nil {
		return err
	}
	a.server.Store(srv)
	return srv.Run(ctx)
}

// Certificates are the control plane's files in the data dir.
type Certificates struct {
	CA                      *pki.CA
	ServingCert, ServingKey string
	// KubeletClientCert and KubeletClientKey are what the API server shows
	// kubelets: CN kube-apiserver-kubelet-client in system:masters, as
	// kubeadm's apiserver-kubelet-client certificate.
	KubeletClientCert, KubeletClientKey string
}

// KubeletClientUser is the API server's identity towards kubelets.
const KubeletClientUser = "kube-apiserver-kubelet-client"

// ensureKubeletClientCert issues the API server's kubelet client
// certificate into dir. It is issued afresh on every start, so it never
// outlives the CA or a rotation.
func ensureKubeletClientCert(dir string, ca *pki.CA) (certFile, keyFile string, err error) {
	certPEM, keyPEM, err := ca.IssueClientCert(KubeletClientUser, []string{"system:masters"})
	if err != nil {
		return "", "", fmt.Errorf("kubelet client certificate: %w", err)
	}
	certFile, keyFile = filepath.Join(dir, "apiserver-kubelet-client.crt"), filepath.Join(dir, "apiserver-kubelet-client.key")
	if err := atomicfile.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return "", "", err
	}
	if err := atomicfile.WriteFile(certFile, certPEM, 0o644); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// EnsureCertificates creates (once) the cluster CA and the serving
// certificate, and writes the admin kubeconfig if it is missing.
func EnsureCertificates(cfg *Config) (*Certificates, error) {
	dir := filepath.Join(cfg.DataDir, "pki")
	ca, err := pki.EnsureCA(dir)
	if err != nil {
		return nil, err
	}
	firstIP := firstServiceIP(cfg.ServiceCIDR)
	hosts := pki.DefaultServingHosts(firstIP, cfg.ClusterDomain)
	if cfg.AdvertiseAddress != nil {
		hosts = append(hosts, cfg.AdvertiseAddress.String())
	}
	cert, key, err := ca.EnsureServingCert(dir, "apiserver", hosts)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(cfg.KubeconfigPath()); errors.Is(err, os.ErrNotExist) {
		if err := WriteAdminKubeconfig(cfg, ca); err != nil {
			return nil, err
		}
	}
	kcert, kkey, err := ensureKubeletClientCert(dir, ca)
	if err != nil {
		return nil, err
	}
	return &Certificates{CA: ca, ServingCert: cert, ServingKey: key, KubeletClientCert: kcert, KubeletClientKey: kkey}, nil
}

// WriteAdminKubeconfig writes a kubeconfig for user skiff-admin in group
// system:masters, pointing at this server over 127.0.0.1.
func WriteAdminKubeconfig(cfg *Config, ca *pki.CA) error {
	certPEM, keyPEM, err := ca.IssueClientCert("skiff-admin", []string{"system:masters"})
	if err != nil {
		return err
	}
	server := "https://127.0.0.1:" + strconv.Itoa(cfg.APIPort)
	return kubeconfig.Write(cfg.KubeconfigPath(), kubeconfig.Build(server, ca.CertPEM, certPEM, keyPEM, "skiff-admin", "skiff"))
}

// ComponentKubeconfig issues a client certificate from the cluster CA for
// user in groups and writes DIR/<name>.kubeconfig pointing at this
// server over 127.0.0.1, for a component that runs in the server's
// process but reaches the API server as any other client does. It is
// rewritten on every call, so it always names the current port. The CA
// must exist (the API server component creates it).
func ComponentKubeconfig(cfg *Config, name, user string, groups []string) (string, error) {
	ca, err := pki.EnsureCA(filepath.Join(cfg.DataDir, "pki"))
	if err != nil {
		return "", err
	}
	certPEM, keyPEM, err := ca.IssueClientCert(user, groups)
	if err != nil {
		return "", fmt.Errorf("%s client certificate: %w", name, err)
	}
	path := filepath.Join(cfg.DataDir, name+".kubeconfig")
	server := "https://127.0.0.1:" + strconv.Itoa(cfg.APIPort)
	if err := kubeconfig.Write(path, kubeconfig.Build(server, ca.CertPEM, certPEM, keyPEM, user, "skiff")); err != nil {
		return "", err
	}
	return path, nil
}

func firstServiceIP(cidr *net.IPNet) net.IP {
	ip := cidr.IP.To4()
	out := make(net.IP, 4)
	copy(out, ip)
	out[3]++
	return out
}
