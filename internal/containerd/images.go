package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	containerd "github.com/containerd/containerd"
	"github.com/containerd/containerd/namespaces"
)

// CRINamespace is the containerd namespace the CRI plugin serves images
// and containers from.
const CRINamespace = "k8s.io"

// snapshotter is the one snapshotter the generated config uses.
const snapshotter = "overlayfs"

// ErrNotRunning says nothing answers at a containerd address.
var ErrNotRunning = errors.New("containerd is not running")

// dial connects containerd's Go client to address (a socket path),
// returning ErrNotRunning when no socket is there.
func dial(ctx context.Context, address string) (*containerd.Client, error) {
	if _, err := os.Stat(address); err != nil {
		return nil, fmt.Errorf("%w at %s (no socket): start skiff on this data dir, or pass --address", ErrNotRunning, address)
	}
	client, err := containerd.New(address, containerd.WithDefaultNamespace(CRINamespace))
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %v", ErrNotRunning, address, err)
	}
	if _, err := client.Version(ctx); err != nil {
		client.Close()
		return nil, fmt.Errorf("%w at %s: %v", ErrNotRunning, address, err)
	}
	return client, nil
}

// ImportImages imports the images of a docker-archive (`docker save`) or
// OCI-layout tar into containerd's CRI namespace and unpacks them for the
// overlayfs snapshotter, so that pods can use them without a pull. It
// returns the image names imported, sorted.
func ImportImages(ctx context.Context, address string, r io.Reader) ([]string, error) {
	client, err := dial(ctx, address)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	return importImages(ctx, client, r)
}

func importImages(ctx context.Context, client *containerd.Client, r io.Reader) ([]string, error) {
	ctx = namespaces.WithNamespace(ctx, CRINamespace)
	// A lease keeps the new content from the garbage collector until
	// the images point at it.
	ctx, done, err := client.WithLease(ctx)
	if err != nil {
		return nil, fmt.Errorf("lease: %w", err)
	}
	defer done(context.WithoutCancel(ctx))
	imgs, err := client.Import(ctx, r, containerd.WithAllPlatforms(false))
	if err != nil {
		return nil, fmt.Errorf("import (is it a docker-archive or OCI-layout tar?): %w", err)
	}
	names := make([]string, 0, len(imgs))
	for _, img := range imgs {
		if err := containerd.NewImage(client, img).Unpack(ctx, snapshotter); err != nil {
			return names, fmt.Errorf("unpack %s: %w", img.Name, err)
		}
		names = append(names, img.Name)
	}
	sort.Strings(names)
	return names, nil
}

// Image is one image of the CRI namespace.
type Image struct {
	// Name is the image reference (a tag, or name@digest).
	Name string
	// Digest is the digest of its manifest or index.
	Digest string
	// Size is the size of its content in containerd's store.
	Size int64
}

// ListImages lists the images of containerd's CRI namespace, by name.
func ListImages(ctx context.Context, address string) ([]Image, error) {
	client, err := dial(ctx, address)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	imgs, err := client.ListImages(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]Image, 0, len(imgs))
	for _, img := range imgs {
		size, err := img.Size(ctx)
		if err != nil {
			size = -1
		}
		out = append(out, Image{Name: img.Name(), Digest: img.Target().Digest.String(), Size: size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// importPause imports PauseImage into the containerd at address.
func importPause(ctx context.Context, address string) error {
	archive, err := pauseArchive()
	if err != nil {
		return err
	}
	if _, err := ImportImages(ctx, address, bytes.NewReader(archive)); err != nil {
		return fmt.Errorf("import pause image: %w", err)
	}
	return nil
}
