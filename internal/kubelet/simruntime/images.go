package simruntime

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Normalize spells an image reference the way containerd stores it:
// "nginx" is "docker.io/library/nginx:latest".
func Normalize(ref string) string {
	if strings.HasPrefix(ref, "sha256:") {
		return ref
	}
	name, digest, hasDigest := strings.Cut(ref, "@")
	first, _, hasSlash := strings.Cut(name, "/")
	switch {
	case !hasSlash:
		name = "docker.io/library/" + name
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		name = "docker.io/" + name
	}
	if hasDigest {
		return name + "@" + digest
	}
	if i := strings.LastIndex(name, ":"); i < 0 || strings.Contains(name[i:], "/") {
		name += ":latest"
	}
	return name
}

// addImage records an image as present; callers hold r.mu or own r.
func (r *Runtime) addImage(ref string) *image {
	n := Normalize(ref)
	if img, ok := r.images[n]; ok {
		return img
	}
	sum := sha256.Sum256([]byte(n))
	img := &image{
		id:  "sha256:" + hex.EncodeToString(sum[:]),
		ref: n,
		// A plausible, stable size: 2 to 66 MB.
		size: 2<<20 + binary.BigEndian.Uint64(sum[:8])%(64<<20),
	}
	r.images[n] = img
	r.images[img.id] = img
	return img
}

func (r *Runtime) findImage(ref string) *image {
	if img, ok := r.images[ref]; ok {
		return img
	}
	return r.images[Normalize(ref)]
}

// digestRef is the image's repo@digest reference.
func (img *image) digestRef() string {
	repo, _, _ := strings.Cut(img.ref, "@")
	if i := strings.LastIndex(repo, ":"); i > 0 && !strings.Contains(repo[i:], "/") {
		repo = repo[:i]
	}
	return repo + "@" + img.id
}

func (img *image) cri() *runtimeapi.Image {
	return &runtimeapi.Image{
		Id:          img.id,
		RepoTags:    []string{img.ref},
		RepoDigests: []string{img.digestRef()},
		Size:        img.size,
		Spec:        &runtimeapi.ImageSpec{Image: img.id},
	}
}

func (r *Runtime) ListImages(_ context.Context, f *runtimeapi.ImageFilter) ([]*runtimeapi.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*runtimeapi.Image
	for key, img := range r.images {
		if key != img.id {
			continue // each image once, under its ID
		}
		if want := f.GetImage().GetImage(); want != "" && r.findImage(want) != img {
			continue
		}
		out = append(out, img.cri())
	}
	return out, nil
}

func (r *Runtime) ImageStatus(_ context.Context, spec *runtimeapi.ImageSpec, _ bool) (*runtimeapi.ImageStatusResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	img := r.findImage(spec.GetImage())
	if img == nil {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	return &runtimeapi.ImageStatusResponse{Image: img.cri()}, nil
}

// PullImage "pulls" an image: after PullLatency it is present, unless
// Config.PullError or the pod's sim.skiff.sh/missing-images annotation
// fails it with containerd's not-found wording.
func (r *Runtime) PullImage(ctx context.Context, spec *runtimeapi.ImageSpec, auth *runtimeapi.AuthConfig, sb *runtimeapi.PodSandboxConfig) (string, error) {
	ref := spec.GetImage()
	if ref == "" {
		return "", status.Error(codes.InvalidArgument, "image reference is empty")
	}
	if d := r.cfg.PullLatency; d > 0 {
		r.mu.Lock()
		present := r.findImage(ref) != nil
		r.mu.Unlock()
		if !present {
			if err := r.wait(ctx, d); err != nil {
				return "", err
			}
		}
	}
	if err := r.authorize(ref, auth); err != nil {
		return "", err
	}
	if missing(sb.GetAnnotations()[AnnotationMissingImages], ref) {
		return "", notFound(ref)
	}
	if r.cfg.PullError != nil {
		if err := r.cfg.PullError(ref); err != nil {
			return "", status.Errorf(codes.Unknown, "failed to pull and unpack image %q: %v", Normalize(ref), err)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addImage(ref).id, nil
}

func (r *Runtime) wait(ctx context.Context, d time.Duration) error {
	t := r.cfg.Clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	case <-t.C():
		return nil
	}
}

func missing(list, ref string) bool {
	if list == "" {
		return false
	}
	n := Normalize(ref)
	for _, m := range strings.Split(list, ",") {
		if m = strings.TrimSpace(m); m != "" && (m == ref || Normalize(m) == n) {
			return true
		}
	}
	return false
}

// notFound is containerd's answer for an image the registry does not have.
func notFound(ref string) error {
	n := Normalize(ref)
	return status.Errorf(codes.NotFound,
		"failed to pull and unpack image %q: failed to resolve reference %q: %s: not found", n, n, n)
}

func (r *Runtime) RemoveImage(_ context.Context, spec *runtimeapi.ImageSpec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if img := r.findImage(spec.GetImage()); img != nil {
		delete(r.images, img.ref)
		delete(r.images, img.id)
	}
	return nil
}

func (r *Runtime) ImageFsInfo(context.Context) (*runtimeapi.ImageFsInfoResponse, error) {
	r.mu.Lock()
	var used uint64
	for key, img := range r.images {
		if key == img.id {
			used += img.size
		}
	}
	r.mu.Unlock()
	now := r.now()
	return &runtimeapi.ImageFsInfoResponse{ImageFilesystems: []*runtimeapi.FilesystemUsage{{
		Timestamp: now, FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: "/simulated/images"},
		UsedBytes: &runtimeapi.UInt64Value{Value: used}, InodesUsed: &runtimeapi.UInt64Value{},
	}}}, nil
}

// Credential is a registry's username and password.
type Credential struct {
	Username string
	Password string
}

// Pull is one PullImage call: the image as asked for and the credential
// it came with (nil: anonymous).
type Pull struct {
	Image string
	Auth  *Credential
}

// Pulls lists every PullImage call so far, in order.
func (r *Runtime) Pulls() []Pull {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Pull(nil), r.pulls...)
}

// authorize records a pull and checks its credential against
// Config.Registries.
func (r *Runtime) authorize(ref string, auth *runtimeapi.AuthConfig) error {
	p := Pull{Image: ref}
	if auth != nil {
		p.Auth = &Credential{Username: auth.GetUsername(), Password: auth.GetPassword()}
	}
	r.mu.Lock()
	r.pulls = append(r.pulls, p)
	r.mu.Unlock()
	n := Normalize(ref)
	host, _, _ := strings.Cut(n, "/")
	want, ok := r.cfg.Registries[host]
	if !ok || (p.Auth != nil && *p.Auth == want) {
		return nil
	}
	return status.Errorf(codes.Unknown,
		"failed to pull and unpack image %q: failed to resolve reference %q: pull access denied, repository does not exist or may require authorization: authorization failed: 401 Unauthorized", n, n)
}
