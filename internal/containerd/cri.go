package containerd

import (
	"context"
	"fmt"
	"time"

	cri "k8s.io/cri-api/pkg/apis"
	remote "k8s.io/cri-client/pkg"
)

// criTimeout bounds each CRI call, as upstream's kubelet's
// --runtime-request-timeout default does.
const criTimeout = 2 * time.Minute

// NewCRIClient connects to the CRI at endpoint ("unix:///path.sock") and
// checks it answers the v1 API; the kubelet takes the two services as its
// Runtime and Images.
func NewCRIClient(ctx context.Context, endpoint string) (cri.RuntimeService, cri.ImageManagerService, error) {
	rs, err := remote.NewRemoteRuntimeServiceBuilder().
		WithEndpoint(endpoint).
		WithConnectionTimeout(criTimeout).
		WithTracerProvider(nil).
		Build(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("CRI runtime service at %s: %w", endpoint, err)
	}
	is, err := remote.NewRemoteImageServiceBuilder().
		WithEndpoint(endpoint).
		WithConnectionTimeout(criTimeout).
		WithTracerProvider(nil).
		Build(ctx)
	if err != nil {
		_ = rs.Close(ctx)
		return nil, nil, fmt.Errorf("CRI image service at %s: %w", endpoint, err)
	}
	return rs, is, nil
}
