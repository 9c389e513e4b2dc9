package containerd

import v1 "github.com/google/go-containerregistry/pkg/v1"

type v1Config = v1.Config
