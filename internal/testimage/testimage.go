// Package testimage builds small container images for tests, without a
// network: busybox-static from the host in one layer, written as a
// docker-archive tar or pushed to a registry served on 127.0.0.1. It is
// for tests only; every helper skips the test when the host lacks what it
// needs.
package testimage

import (
	"archive/tar"
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// BusyboxPath is Debian's busybox-static, the one binary of Busybox images.
const BusyboxPath = "/usr/bin/busybox"

// Busybox is an image with /bin/busybox and a /bin symlink per applet
// (sh, sleep, echo, cat, nc, httpd, wget...), PATH=/bin and Cmd /bin/sh.
// It skips t when busybox is not installed.
func Busybox(t testing.TB) v1.Image {
	t.Helper()
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Skipf("testimage: no busybox (apt-get install busybox-static): %v", err)
	}
	list, err := exec.Command(BusyboxPath, "--list").Output()
	if err != nil {
		t.Skipf("testimage: %s --list: %v", BusyboxPath, err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(0, 0)
	write := func(h *tar.Header, body []byte) {
		h.ModTime = mtime
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"bin/", "etc/", "tmp/", "var/", "var/www/"} {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		write(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: mode}, nil)
	}
	write(&tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))}, bin)
	for _, applet := range strings.Fields(string(list)) {
		if applet == "busybox" || strings.ContainsAny(applet, "/[") {
			continue
		}
		write(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}, nil)
	}
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
	write(&tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(passwd))}, passwd)
	group := []byte("root:x:0:\nnogroup:x:65534:\n")
	write(&tar.Header{Name: "etc/group", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(group))}, group)
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	return WithConfig(t, img, v1.Config{Cmd: []string{"/bin/sh"}, Env: []string{"PATH=/bin"}})
}

// WithConfig is img with its runtime config replaced by cfg, for
// linux on the host's architecture.
func WithConfig(t testing.TB, img v1.Image, cfg v1.Config) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goarch
	cf.Created = v1.Time{Time: time.Unix(0, 0)}
	cf.Config = cfg
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// WriteArchive writes img as a docker-archive tar (`docker save`'s
// format) tagged ref, at path.
func WriteArchive(t testing.TB, path, ref string, img v1.Image) {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := tarball.WriteToFile(path, tag, img); err != nil {
		t.Fatalf("testimage: write %s: %v", path, err)
	}
}

// WriteOCIArchive writes img as a tar of an OCI image layout at path,
// named ref in the index the way containerd's and buildkit's exports do
// (io.containerd.image.name the full name, org.opencontainers.image.ref.name
// the tag).
func WriteOCIArchive(t testing.TB, path, ref string, img v1.Image) {
	t.Helper()
	tag, err := name.NewTag(ref)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{
		"io.containerd.image.name":          tag.Name(),
		"org.opencontainers.image.ref.name": tag.TagStr(),
	})); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatalf("testimage: tar %s: %v", dir, err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// Registry is an in-memory OCI registry on 127.0.0.1, over plain HTTP.
type Registry struct {
	// Host is "127.0.0.1:PORT", the registry part of its image names.
	Host string
	// Username and Password, when set, are required by every request
	// (HTTP basic auth), as a private registry's image pull secret.
	Username, Password string
}

// StartRegistry serves a registry on an ephemeral loopback port until t
// ends. With username set, every request needs those basic credentials.
func StartRegistry(t testing.TB, username, password string) *Registry {
	t.Helper()
	var h http.Handler = registry.New(registry.Logger(discardLogger()))
	if username != "" {
		inner := h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != username || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="testimage"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			inner.ServeHTTP(w, r)
		})
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &Registry{Host: strings.TrimPrefix(srv.URL, "http://"), Username: username, Password: password}
}

// Push pushes img as repoTag ("busybox:1") and returns its full name
// ("127.0.0.1:PORT/busybox:1").
func (r *Registry) Push(t testing.TB, repoTag string, img v1.Image) string {
	t.Helper()
	ref, err := name.NewTag(r.Host+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithTransport(r.Transport())); err != nil {
		t.Fatalf("testimage: push %s: %v", ref, err)
	}
	return ref.String()
}

// Transport sends the registry's credentials with every request. It
// stands in for go-containerregistry's authn package, whose keychain
// would pull the docker CLI's modules into the build.
func (r *Registry) Transport() http.RoundTripper {
	return basicAuth{username: r.Username, password: r.Password}
}

type basicAuth struct{ username, password string }

func (b basicAuth) RoundTrip(req *http.Request) (*http.Response, error) {
	if b.username != "" {
		req = req.Clone(req.Context())
		req.SetBasicAuth(b.username, b.password)
	}
	return http.DefaultTransport.RoundTrip(req)
}
