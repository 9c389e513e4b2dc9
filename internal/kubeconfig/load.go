package kubeconfig

import (
	"fmt"
	"os"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Load reads a kubeconfig file.
func Load(path string) (*clientcmdapi.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig: %w", err)
	}
	cfg, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig %s: %w", path, err)
	}
	return cfg, nil
}

// Rename gives a single-context kubeconfig's current context and its
// cluster the name name, so it can be merged beside others.
func Rename(cfg *clientcmdapi.Config, name string) {
	old := cfg.CurrentContext
	ctx, ok := cfg.Contexts[old]
	if !ok || old == name {
		return
	}
	delete(cfg.Contexts, old)
	if c, ok := cfg.Clusters[ctx.Cluster]; ok && ctx.Cluster != name {
		delete(cfg.Clusters, ctx.Cluster)
		cfg.Clusters[name] = c
		ctx.Cluster = name
	}
	cfg.Contexts[name] = ctx
	cfg.CurrentContext = name
}
