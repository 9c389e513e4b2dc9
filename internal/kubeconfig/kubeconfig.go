// Package kubeconfig builds and writes kubeconfig files for skiff clusters
// using client-go's clientcmd API types and its versioned codec (the same
// encoding clientcmd.Load and clientcmd.Write use), so the files are exactly
// what kubectl reads and writes.
//
// Writes are atomic (a temporary file in the same directory renamed over the
// target), always leave the file with mode 0600 because kubeconfigs carry
// credentials, and follow a symlinked target instead of replacing the link.
package kubeconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	clientcmdlatest "k8s.io/client-go/tools/clientcmd/api/latest"

	"github.com/skiff-sh/skiff/internal/atomicfile"
)

// Build returns a kubeconfig with one cluster and one context, both named
// context, and one user named user, with current-context set to context.
// The cluster points at server and trusts caPEM; the user authenticates with
// the client certificate certPEM and key keyPEM. All credentials are embedded
// as data (copies of the arguments), not referenced as file paths, so the
// result is self-contained.
func Build(server string, caPEM, certPEM, keyPEM []byte, user, context string) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()

	cluster := clientcmdapi.NewCluster()
	cluster.Server = server
	cluster.CertificateAuthorityData = bytes.Clone(caPEM)
	cfg.Clusters[context] = cluster

	authInfo := clientcmdapi.NewAuthInfo()
	authInfo.ClientCertificateData = bytes.Clone(certPEM)
	authInfo.ClientKeyData = bytes.Clone(keyPEM)
	cfg.AuthInfos[user] = authInfo

	kctx := clientcmdapi.NewContext()
	kctx.Cluster = context
	kctx.AuthInfo = user
	cfg.Contexts[context] = kctx

	cfg.CurrentContext = context
	return cfg
}

// Write serialises cfg in kubectl's YAML format to path, replacing any
// existing file atomically and leaving it with mode 0600. Missing parent
// directories are created with mode 0700.
func Write(path string, cfg *clientcmdapi.Config) error {
	if cfg == nil {
		return errors.New("write kubeconfig: config is nil")
	}
	data, err := encode(cfg)
	if err != nil {
		return err
	}
	target, err := resolveTarget(path)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return fmt.Errorf("create kubeconfig directory: %w", err)
	}
	if err := atomicfile.WriteFile(target, data, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// MergeInto adds every cluster, user and context of cfg to the kubeconfig at
// path (for example ~/.kube/config), creating the file if it is absent.
//
// Entries of cfg replace existing entries of the same name; all other
// entries, preferences and extensions of the file are kept as they are. When
// setCurrent is true the file's current-context becomes cfg.CurrentContext,
// which must then name a context of cfg. When setCurrent is false the
// current-context is left alone, except that a file without one (including a
// new file) gets cfg.CurrentContext, since a kubeconfig without a current
// context is of no use to kubectl by default.
//
// While merging, MergeInto holds path+".lock" (for path as given, not a
// symlink's target), the lock file kubectl's "config" commands also use, and
// fails if it already exists. An existing file that does not parse is an
// error and is left untouched.
func MergeInto(path string, cfg *clientcmdapi.Config, setCurrent bool) (err error) {
	if cfg == nil {
		return errors.New("merge kubeconfig: config is nil")
	}
	if setCurrent {
		if cfg.CurrentContext == "" {
			return errors.New("merge kubeconfig: setCurrent requested but the config has no current context")
		}
		if _, ok := cfg.Contexts[cfg.CurrentContext]; !ok {
			return fmt.Errorf("merge kubeconfig: current context %q is not defined in the config", cfg.CurrentContext)
		}
	}

	target, err := resolveTarget(path)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return fmt.Errorf("create kubeconfig directory: %w", err)
	}
	unlock, err := lock(path)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := unlock(); uerr != nil && err == nil {
			err = uerr
		}
	}()

	existing := clientcmdapi.NewConfig()
	raw, err := os.ReadFile(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read kubeconfig %s: %w", path, err)
	default:
		if existing, err = decode(raw); err != nil {
			return fmt.Errorf("load kubeconfig %s: %w", path, err)
		}
	}

	for name, c := range cfg.Clusters {
		existing.Clusters[name] = c
	}
	for name, a := range cfg.AuthInfos {
		existing.AuthInfos[name] = a
	}
	for name, c := range cfg.Contexts {
		existing.Contexts[name] = c
	}
	if setCurrent || existing.CurrentContext == "" {
		existing.CurrentContext = cfg.CurrentContext
	}

	data, err := encode(existing)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(target, data, 0o600); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// encode serialises cfg as clientcmd.Write does.
func encode(cfg *clientcmdapi.Config) ([]byte, error) {
	data, err := runtime.Encode(clientcmdlatest.Codec, cfg)
	if err != nil {
		return nil, fmt.Errorf("encode kubeconfig: %w", err)
	}
	return data, nil
}

// decode parses a kubeconfig as clientcmd.Load does: empty input is an empty
// config, and a document without apiVersion/kind is read as v1 Config.
func decode(data []byte) (*clientcmdapi.Config, error) {
	cfg := clientcmdapi.NewConfig()
	if len(bytes.TrimSpace(data)) == 0 {
		return cfg, nil
	}
	obj, _, err := clientcmdlatest.Codec.Decode(data, &schema.GroupVersionKind{Version: clientcmdlatest.Version, Kind: "Config"}, cfg)
	if err != nil {
		return nil, err
	}
	decoded, ok := obj.(*clientcmdapi.Config)
	if !ok {
		return nil, fmt.Errorf("decoded %T, not a kubeconfig", obj)
	}
	return decoded, nil
}

// lock creates path+".lock" exclusively and returns a function removing it.
func lock(path string) (func() error, error) {
	name := path + ".lock"
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("kubeconfig %s is locked by %s (remove it if no other process is editing the file): %w", path, name, err)
		}
		return nil, fmt.Errorf("lock kubeconfig: %w", err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(name)
		return nil, fmt.Errorf("lock kubeconfig: %w", err)
	}
	return func() error {
		if err := os.Remove(name); err != nil {
			return fmt.Errorf("unlock kubeconfig: %w", err)
		}
		return nil
	}, nil
}

// resolveTarget follows symlinks at path so that writing replaces the file
// a link points to rather than the link itself. A path that does not exist
// yet, or a dangling link's target, is returned as it stands.
func resolveTarget(path string) (string, error) {
	resolved, err := filepath.EvalSymlinks(path)
	if err == nil {
		return resolved, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("resolve kubeconfig path: %w", err)
	}
	if link, lerr := os.Readlink(path); lerr == nil {
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(path), link)
		}
		return link, nil
	}
	return path, nil
}
