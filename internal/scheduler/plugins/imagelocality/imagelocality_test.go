package imagelocality

import (
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
)

func TestScore(t *testing.T) {
	nodes := []*v1.Node{
		st.Node("a").Images(500*mb, "nginx:latest", "nginx@sha256:1").Images(3000*mb, "big:1").Images(10*mb, "tiny:latest").Obj(),
		st.Node("b").Images(500*mb, "nginx:latest").Obj(),
		st.Node("c").Obj(),
	}
	snap := framework.NewSnapshot(nil, nodes)
	tests := []struct {
		name string
		pod  *v1.Pod
		want map[string]int64
	}{
		// nginx is on 2 of 3 nodes: 500 MiB × 2/3 = 333 MiB of 1000.
		{"untagged image matches :latest", st.Pod("p").Image("nginx").Obj(), map[string]int64{"a": 31, "b": 31, "c": 0}},
		{"two images share a 2000 MiB scale", st.Pod("p").Image("nginx").Container("big:1").Obj(), map[string]int64{"a": 66, "b": 15, "c": 0}},
		{"an image nowhere scores 0", st.Pod("p").Image("redis:7").Obj(), map[string]int64{"a": 0, "b": 0, "c": 0}},
		{"a small image is below the threshold", st.Pod("p").Image("tiny").Obj(), map[string]int64{"a": 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, s := st.Score(New(), tt.pod, snap)
			if !s.IsSuccess() {
				t.Fatal(s)
			}
			for n, w := range tt.want {
				if got[n] != w {
					t.Errorf("%s: %d, want %d", n, got[n], w)
				}
			}
		})
	}
}

func TestNormalizedImageName(t *testing.T) {
	for in, want := range map[string]string{
		"nginx":                "nginx:latest",
		"nginx:1.27":           "nginx:1.27",
		"registry:5000/app":    "registry:5000/app:latest",
		"registry:5000/app:v1": "registry:5000/app:v1",
		"nginx@sha256:abcdef":  "nginx@sha256:abcdef",
	} {
		if got := NormalizedImageName(in); got != want {
			t.Errorf("NormalizedImageName(%q) = %q, want %q", in, got, want)
		}
	}
}
