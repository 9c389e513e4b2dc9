package testimage

import (
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestBusyboxArchiveAndRegistry(t *testing.T) {
	img := Busybox(t)
	path := filepath.Join(t.TempDir(), "busybox.tar")
	WriteArchive(t, path, "example.test/busybox:1", img)
	if _, err := tarball.ImageFromPath(path, nil); err != nil {
		t.Fatalf("archive does not read back: %v", err)
	}

	reg := StartRegistry(t, "alice", "s3cret")
	ref := reg.Push(t, "busybox:1", img)
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Image(r); err == nil {
		t.Fatal("anonymous pull from a registry with auth succeeded")
	}
	got, err := remote.Image(r, remote.WithTransport(reg.Transport()))
	if err != nil {
		t.Fatalf("pull with credentials: %v", err)
	}
	want, _ := img.Digest()
	if d, _ := got.Digest(); d != want {
		t.Fatalf("pulled %s, pushed %s", d, want)
	}
}
