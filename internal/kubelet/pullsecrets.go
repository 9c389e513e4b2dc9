package kubelet

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"github.com/distribution/reference"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// registryCredential is one username/password of a docker config.
type registryCredential struct {
	Username string
	Password string
}

// dockerConfigEntry is one registry of a .dockercfg or the auths of a
// .dockerconfigjson; "auth" is base64 "user:password" and wins over the
// separate fields, as upstream's DockerConfigEntry.
type dockerConfigEntry struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Auth     string `json:"auth,omitempty"`
	Email    string `json:"email,omitempty"`
}

func (e dockerConfigEntry) credential() (registryCredential, error) {
	c := registryCredential{Username: e.Username, Password: e.Password}
	if e.Auth == "" {
		return c, nil
	}
	raw, err := base64.StdEncoding.DecodeString(e.Auth)
	if err != nil {
		return c, err
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return c, errors.New("auth is not user:password")
	}
	return registryCredential{Username: user, Password: pass}, nil
}

// keyring is upstream's BasicDockerKeyring: credentials by registry
// location (host[:port][/path prefix], a glob allowed in each part of the
// host), the most specific first.
type keyring struct {
	index []string // reverse-sorted so that longer paths match first
	creds map[string][]registryCredential
}

// makeKeyring reads the pull secrets of type kubernetes.io/dockerconfigjson
// and kubernetes.io/dockercfg, in order; other secrets, and entries that
// do not parse, are skipped (upstream logs and ignores them too).
func makeKeyring(secrets []*v1.Secret) (*keyring, []error) {
	k := &keyring{creds: map[string][]registryCredential{}}
	var errs []error
	for _, s := range secrets {
		var cfg map[string]dockerConfigEntry
		switch {
		case s.Type == v1.SecretTypeDockerConfigJson && len(s.Data[v1.DockerConfigJsonKey]) > 0:
			var doc struct {
				Auths map[string]dockerConfigEntry `json:"auths"`
			}
			if err := json.Unmarshal(s.Data[v1.DockerConfigJsonKey], &doc); err != nil {
				errs = append(errs, fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err))
				continue
			}
			cfg = doc.Auths
		case s.Type == v1.SecretTypeDockercfg && len(s.Data[v1.DockerConfigKey]) > 0:
			if err := json.Unmarshal(s.Data[v1.DockerConfigKey], &cfg); err != nil {
				errs = append(errs, fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err))
				continue
			}
		default:
			continue
		}
		if err := k.add(cfg); err != nil {
			errs = append(errs, fmt.Errorf("secret %s/%s: %w", s.Namespace, s.Name, err))
		}
	}
	return k, errs
}

// add indexes one docker config: a location "https://host/v1/" and
// "host" are the same key; /v1/ and /v2/ path prefixes are dropped.
func (k *keyring) add(cfg map[string]dockerConfigEntry) error {
	locs := make([]string, 0, len(cfg))
	for loc := range cfg {
		locs = append(locs, loc)
	}
	sort.Strings(locs) // deterministic order among one config's entries
	var errs []error
	for _, loc := range locs {
		cred, err := cfg[loc].credential()
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %q: %w", loc, err))
			continue
		}
		value := loc
		if !strings.HasPrefix(value, "https://") && !strings.HasPrefix(value, "http://") {
			value = "https://" + value
		}
		u, err := url.Parse(value)
		if err != nil {
			errs = append(errs, fmt.Errorf("entry %q: %w", loc, err))
			continue
		}
		path := u.Path
		if strings.HasPrefix(path, "/v2/") || strings.HasPrefix(path, "/v1/") {
			path = path[3:]
		}
		key := u.Host
		if path != "" && path != "/" {
			key += path
		}
		if _, ok := k.creds[key]; !ok {
			k.index = append(k.index, key)
		}
		k.creds[key] = append(k.creds[key], cred)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(k.index)))
	return utilerrors.NewAggregate(errs)
}

// lookup returns every credential whose location matches the image's
// repository (e.g. "docker.io/library/nginx"), most specific first; the
// index.docker.io ones for a Docker Hub image when nothing else matched.
func (k *keyring) lookup(repo string) []registryCredential {
	var out []registryCredential
	for _, key := range k.index {
		if locationMatches(key, repo) {
			out = append(out, k.creds[key]...)
		}
	}
	if len(out) == 0 && isDockerHub(repo) {
		out = append(out, k.creds["index.docker.io"]...)
	}
	return out
}

// locationMatches is upstream's URLsMatchStr: same port, same number of
// host parts each matching the glob's, and the glob's path a prefix of
// the target's.
func locationMatches(glob, target string) bool {
	g, err1 := url.Parse("https://" + glob)
	t, err2 := url.Parse("https://" + target)
	if err1 != nil || err2 != nil {
		return false
	}
	gParts, gPort := splitHostPort(g.Host)
	tParts, tPort := splitHostPort(t.Host)
	if gPort != tPort || len(gParts) != len(tParts) || !strings.HasPrefix(t.Path, g.Path) {
		return false
	}
	for i := range gParts {
		if ok, err := filepath.Match(gParts[i], tParts[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

func splitHostPort(hostport string) ([]string, string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, ""
	}
	return strings.Split(host, "."), port
}

// isDockerHub is upstream's isDefaultRegistryMatch.
func isDockerHub(repo string) bool {
	first, _, hasSlash := strings.Cut(repo, "/")
	switch {
	case first == "":
		return false
	case !hasSlash:
		return true
	case first == "docker.io" || first == "index.docker.io":
		return true
	}
	return !strings.ContainsAny(first, ".:")
}

// imageRepository is the repository an image is pulled from, normalized
// as upstream's parsers.ParseImageName: "nginx:1.27" is
// "docker.io/library/nginx".
func imageRepository(image string) (string, error) {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return "", fmt.Errorf("couldn't parse image name %q: %w", image, err)
	}
	return named.Name(), nil
}

// pullCredentials reads the pod's image pull secrets through the API and
// returns the credentials matching the image, in the order to try them.
// Secrets that cannot be read get upstream's
// FailedToRetrieveImagePullSecret event, once per sync.
func (k *Kubelet) pullCredentials(ctx context.Context, pod *v1.Pod, image string) []registryCredential {
	if len(pod.Spec.ImagePullSecrets) == 0 {
		return nil
	}
	var secrets []*v1.Secret
	var failed []string
	for _, ref := range pod.Spec.ImagePullSecrets {
		if ref.Name == "" {
			continue // validation once let these through; upstream ignores them
		}
		s, err := k.client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			k.log.Info("Unable to retrieve pull secret, the image pull may not succeed.", "pod", pod.Namespace+"/"+pod.Name, "secret", ref.Name, "err", err)
			failed = append(failed, ref.Name)
			continue
		}
		secrets = append(secrets, s)
	}
	if len(failed) > 0 {
		k.recorder.Eventf(podRef(pod), v1.EventTypeWarning, "FailedToRetrieveImagePullSecret",
			"Unable to retrieve some image pull secrets (%s); attempting to pull the image may not succeed.", strings.Join(failed, ", "))
	}
	ring, errs := makeKeyring(secrets)
	for _, err := range errs {
		k.log.Warn("an image pull secret does not parse", "pod", pod.Namespace+"/"+pod.Name, "err", err)
	}
	repo, err := imageRepository(image)
	if err != nil {
		return nil
	}
	return ring.lookup(repo)
}

// pullImage pulls with each matching credential in turn until one works,
// as upstream; without any, anonymously. The error aggregates every
// attempt's.
func (k *Kubelet) pullImage(ctx context.Context, pod *v1.Pod, spec *runtimeapi.ImageSpec, sb *runtimeapi.PodSandboxConfig) (string, error) {
	creds := k.pullCredentials(ctx, pod, spec.GetImage())
	if len(creds) == 0 {
		return k.cfg.Images.PullImage(ctx, spec, nil, sb)
	}
	var errs []error
	for _, c := range creds {
		ref, err := k.cfg.Images.PullImage(ctx, spec, &runtimeapi.AuthConfig{Username: c.Username, Password: c.Password}, sb)
		if err == nil {
			return ref, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return "", errs[0]
	}
	return "", utilerrors.NewAggregate(errs)
}
