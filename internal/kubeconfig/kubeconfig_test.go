package kubeconfig

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/internal/pki"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

type creds struct {
	ca, cert, key []byte
}

func newCreds(t *testing.T) creds {
	t.Helper()
	ca, err := pki.EnsureCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, key, err := ca.IssueClientCert("kubernetes-admin", []string{"system:masters"})
	if err != nil {
		t.Fatal(err)
	}
	return creds{ca: ca.CertPEM, cert: cert, key: key}
}

func load(t *testing.T, path string) *clientcmdapi.Config {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := decode(data)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	return cfg
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestBuild(t *testing.T) {
	c := newCreds(t)
	cfg := Build("https://127.0.0.1:6443", c.ca, c.cert, c.key, "kubernetes-admin", "skiff")

	if cfg.CurrentContext != "skiff" {
		t.Errorf("current-context = %q", cfg.CurrentContext)
	}
	cluster := cfg.Clusters["skiff"]
	if cluster == nil || cluster.Server != "https://127.0.0.1:6443" || !bytes.Equal(cluster.CertificateAuthorityData, c.ca) || cluster.CertificateAuthority != "" {
		t.Errorf("cluster = %+v", cluster)
	}
	user := cfg.AuthInfos["kubernetes-admin"]
	if user == nil || !bytes.Equal(user.ClientCertificateData, c.cert) || !bytes.Equal(user.ClientKeyData, c.key) || user.ClientCertificate != "" || user.ClientKey != "" {
		t.Errorf("user = %+v", user)
	}
	if ctx := cfg.Contexts["skiff"]; ctx == nil || ctx.Cluster != "skiff" || ctx.AuthInfo != "kubernetes-admin" {
		t.Errorf("context = %+v", ctx)
	}

	path := filepath.Join(t.TempDir(), "config")
	if err := Write(path, cfg); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"apiVersion: v1\n", "kind: Config\n", "current-context: skiff\n", "certificate-authority-data: ", "client-certificate-data: ", "client-key-data: "} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("written kubeconfig lacks %q:\n%s", want, raw)
		}
	}

	// The result is independent of the caller's buffers.
	c.ca[0] ^= 0xff
	if bytes.Equal(cluster.CertificateAuthorityData, c.ca) {
		t.Error("Build kept a reference to the caller's CA bytes")
	}
}

func TestWrite(t *testing.T) {
	c := newCreds(t)
	cfg := Build("https://127.0.0.1:6443", c.ca, c.cert, c.key, "admin", "skiff")

	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) (path, realFile string)
	}{
		{
			name: "creates missing directories",
			prepare: func(_ *testing.T, dir string) (string, string) {
				p := filepath.Join(dir, "a", "b", "config")
				return p, p
			},
		},
		{
			name: "replaces a world-readable file with a private one",
			prepare: func(t *testing.T, dir string) (string, string) {
				p := filepath.Join(dir, "config")
				if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
					t.Fatal(err)
				}
				return p, p
			},
		},
		{
			name: "writes through a symlink",
			prepare: func(t *testing.T, dir string) (string, string) {
				real := filepath.Join(dir, "real-config")
				if err := os.WriteFile(real, []byte("old"), 0o600); err != nil {
					t.Fatal(err)
				}
				link := filepath.Join(dir, "config")
				if err := os.Symlink("real-config", link); err != nil {
					t.Fatal(err)
				}
				return link, real
			},
		},
		{
			name: "writes through a dangling symlink",
			prepare: func(t *testing.T, dir string) (string, string) {
				link := filepath.Join(dir, "config")
				if err := os.Symlink("real-config", link); err != nil {
					t.Fatal(err)
				}
				return link, filepath.Join(dir, "real-config")
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, realFile := tc.prepare(t, dir)
			if err := Write(path, cfg); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if m := mode(t, realFile); m != 0o600 {
				t.Errorf("mode = %v, want 0600", m)
			}
			got := load(t, path)
			if got.CurrentContext != "skiff" || got.Clusters["skiff"] == nil || got.AuthInfos["admin"] == nil {
				t.Errorf("written config = %+v", got)
			}
			if realFile != path {
				if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Errorf("symlink %s was replaced", path)
				}
			}
			entries, err := os.ReadDir(filepath.Dir(realFile))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if strings.Contains(e.Name(), ".tmp-") {
					t.Errorf("temporary file %s left behind", e.Name())
				}
			}
		})
	}
}

func TestWriteNil(t *testing.T) {
	if err := Write(filepath.Join(t.TempDir(), "config"), nil); err == nil {
		t.Fatal("expected an error for a nil config")
	}
}

// existingConfig is a kubeconfig as a user might already have: another
// cluster that must survive, a stale "skiff" entry that must be replaced,
// and preferences.
const existingConfig = `apiVersion: v1
kind: Config
preferences:
  colors: true
current-context: prod
clusters:
- name: prod
  cluster:
    server: https://prod.example.com
    certificate-authority: relative/ca.crt
- name: skiff
  cluster:
    server: https://stale.invalid:6443
    insecure-skip-tls-verify: true
users:
- name: prod-admin
  user:
    token: prod-token
- name: admin
  user:
    token: stale-token
contexts:
- name: prod
  context:
    cluster: prod
    user: prod-admin
    namespace: payments
- name: skiff
  context:
    cluster: skiff
    user: admin
    namespace: stale
`

func TestMergeInto(t *testing.T) {
	c := newCreds(t)
	ours := Build("https://127.0.0.1:6443", c.ca, c.cert, c.key, "admin", "skiff")

	tests := []struct {
		name        string
		existing    *string // nil: no file
		setCurrent  bool
		wantCurrent string
		wantProd    bool
	}{
		{name: "absent file is created", wantCurrent: "skiff"},
		{name: "absent file with setCurrent", setCurrent: true, wantCurrent: "skiff"},
		{name: "existing kept current", existing: ptr(existingConfig), wantCurrent: "prod", wantProd: true},
		{name: "existing switched", existing: ptr(existingConfig), setCurrent: true, wantCurrent: "skiff", wantProd: true},
		{name: "existing without current context", existing: ptr(strings.Replace(existingConfig, "current-context: prod", "", 1)), wantCurrent: "skiff", wantProd: true},
		{name: "empty existing file", existing: ptr(""), wantCurrent: "skiff"},
		{name: "whitespace-only existing file", existing: ptr("\n  \n"), wantCurrent: "skiff"},
		{
			name:        "existing without apiVersion and kind",
			existing:    ptr(strings.Replace(existingConfig, "apiVersion: v1\nkind: Config\n", "", 1)),
			wantCurrent: "prod",
			wantProd:    true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".kube", "config")
			if tc.existing != nil {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(*tc.existing), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := MergeInto(path, ours, tc.setCurrent); err != nil {
				t.Fatalf("MergeInto: %v", err)
			}
			if m := mode(t, path); m != 0o600 {
				t.Errorf("mode = %v, want 0600", m)
			}
			if _, err := os.Stat(path + ".lock"); !os.IsNotExist(err) {
				t.Errorf("lock file left behind: %v", err)
			}
			got := load(t, path)
			if got.CurrentContext != tc.wantCurrent {
				t.Errorf("current-context = %q, want %q", got.CurrentContext, tc.wantCurrent)
			}

			// Our entries are there, replacing stale ones completely.
			cl := got.Clusters["skiff"]
			if cl == nil || cl.Server != "https://127.0.0.1:6443" || cl.InsecureSkipTLSVerify || !bytes.Equal(cl.CertificateAuthorityData, c.ca) {
				t.Errorf("skiff cluster = %+v", cl)
			}
			u := got.AuthInfos["admin"]
			if u == nil || u.Token != "" || !bytes.Equal(u.ClientCertificateData, c.cert) || !bytes.Equal(u.ClientKeyData, c.key) {
				t.Errorf("admin user = %+v", u)
			}
			if ctx := got.Contexts["skiff"]; ctx == nil || ctx.Cluster != "skiff" || ctx.AuthInfo != "admin" || ctx.Namespace != "" {
				t.Errorf("skiff context = %+v", ctx)
			}

			// Everything else is preserved as it was.
			if !tc.wantProd {
				if len(got.Clusters) != 1 || len(got.AuthInfos) != 1 || len(got.Contexts) != 1 {
					t.Errorf("unexpected extra entries: %d clusters, %d users, %d contexts", len(got.Clusters), len(got.AuthInfos), len(got.Contexts))
				}
				return
			}
			if p := got.Clusters["prod"]; p == nil || p.Server != "https://prod.example.com" || p.CertificateAuthority != "relative/ca.crt" {
				t.Errorf("prod cluster = %+v", p)
			}
			if p := got.AuthInfos["prod-admin"]; p == nil || p.Token != "prod-token" {
				t.Errorf("prod user = %+v", p)
			}
			if p := got.Contexts["prod"]; p == nil || p.Cluster != "prod" || p.AuthInfo != "prod-admin" || p.Namespace != "payments" {
				t.Errorf("prod context = %+v", p)
			}
			if !got.Preferences.Colors {
				t.Error("preferences lost")
			}
		})
	}
}

func TestMergeIntoErrors(t *testing.T) {
	c := newCreds(t)
	ours := Build("https://127.0.0.1:6443", c.ca, c.cert, c.key, "admin", "skiff")
	noCurrent := Build("https://127.0.0.1:6443", c.ca, c.cert, c.key, "admin", "skiff")
	noCurrent.CurrentContext = ""
	dangling := Build("https://127.0.0.1:6443", c.ca, c.cert, c.key, "admin", "skiff")
	dangling.CurrentContext = "other"

	tests := []struct {
		name       string
		cfg        *clientcmdapi.Config
		setCurrent bool
		existing   string
		locked     bool
		wantErr    string
	}{
		{name: "nil config", cfg: nil, wantErr: "nil"},
		{name: "setCurrent without current context", cfg: noCurrent, setCurrent: true, wantErr: "no current context"},
		{name: "setCurrent with undefined context", cfg: dangling, setCurrent: true, wantErr: `"other" is not defined`},
		{name: "unparseable existing file", cfg: ours, existing: "clusters: [this is: not, a kubeconfig", wantErr: "load kubeconfig"},
		{name: "locked", cfg: ours, existing: existingConfig, locked: true, wantErr: "locked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config")
			if tc.existing != "" {
				if err := os.WriteFile(path, []byte(tc.existing), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.locked {
				if err := os.WriteFile(path+".lock", nil, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := MergeInto(path, tc.cfg, tc.setCurrent)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
			}
			if tc.existing != "" {
				data, rerr := os.ReadFile(path)
				if rerr != nil || string(data) != tc.existing {
					t.Error("existing file was modified")
				}
			}
			_, statErr := os.Stat(path + ".lock")
			if tc.locked && statErr != nil {
				t.Error("another process's lock was removed")
			}
			if !tc.locked && !os.IsNotExist(statErr) {
				t.Errorf("lock file left behind: %v", statErr)
			}
		})
	}
}

func TestMergeIntoTwiceIsStable(t *testing.T) {
	c := newCreds(t)
	ours := Build("https://127.0.0.1:6443", c.ca, c.cert, c.key, "admin", "skiff")
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(existingConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := MergeInto(path, ours, true); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := MergeInto(path, ours, true); err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Errorf("second merge changed the file:\n%s\n---\n%s", first, second)
	}
}

func ptr(s string) *string { return &s }
