package simruntime

import (
	"context"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestPullAuth(t *testing.T) {
	r, err := New(Config{Registries: map[string]Credential{"registry.example:5000": {Username: "u", Password: "p"}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		image   string
		auth    *runtimeapi.AuthConfig
		wantErr string
	}{
		{image: "nginx"},
		{image: "registry.example:5000/app", wantErr: "401 Unauthorized"},
		{image: "registry.example:5000/app", auth: &runtimeapi.AuthConfig{Username: "u", Password: "wrong"}, wantErr: "401 Unauthorized"},
		{image: "registry.example:5000/app", auth: &runtimeapi.AuthConfig{Username: "u", Password: "p"}},
	}
	for _, tt := range tests {
		_, err := r.PullImage(ctx, &runtimeapi.ImageSpec{Image: tt.image}, tt.auth, nil)
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%s with %v: err %v, want %q", tt.image, tt.auth, err, tt.wantErr)
		}
	}
	pulls := r.Pulls()
	if len(pulls) != 4 || pulls[0].Auth != nil || *pulls[3].Auth != (Credential{Username: "u", Password: "p"}) {
		t.Errorf("pulls = %+v", pulls)
	}
}
