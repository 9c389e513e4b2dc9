// Package imagelocality prefers nodes that already have the pod's images,
// weighing each image by its size and by how few nodes have it (an image on
// every node says nothing about where to go).
package imagelocality

import (
	"strings"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Name is the plugin's name in configuration, logs and statuses.
const Name = "ImageLocality"

// Thresholds on the summed image score: below minThreshold a node scores 0,
// at maxContainerThreshold per container it scores MaxNodeScore.
const (
	mb                    int64 = 1024 * 1024
	minThreshold          int64 = 23 * mb
	maxContainerThreshold int64 = 1000 * mb
)

const preScoreKey framework.StateKey = "PreScore" + Name

// ImageLocality is the plugin.
type ImageLocality struct{}

var (
	_ framework.PreScorePlugin = &ImageLocality{}
	_ framework.ScorePlugin    = &ImageLocality{}
)

// New returns the plugin.
func New() *ImageLocality { return &ImageLocality{} }

// Name returns Name.
func (pl *ImageLocality) Name() string { return Name }

type totalNodes int

func (t totalNodes) Clone() framework.StateData { return t }

// PreScore records the cluster's node count, the denominator of an image's
// spread.
func (pl *ImageLocality) PreScore(state *framework.CycleState, _ *framework.PodInfo, _ []*framework.NodeInfo, snap *framework.Snapshot) *framework.Status {
	state.Write(preScoreKey, totalNodes(snap.NumNodes()))
	return nil
}

// Score sums size × (nodes with the image / all nodes) over the pod's
// images present on the node, and maps it linearly from [23 MiB,
// 1000 MiB × images] onto [0, 100].
func (pl *ImageLocality) Score(state *framework.CycleState, pod *framework.PodInfo, nodeInfo *framework.NodeInfo) (int64, *framework.Status) {
	total := 1
	if d, ok := state.Read(preScoreKey); ok && int(d.(totalNodes)) > 0 {
		total = int(d.(totalNodes))
	}
	var sum int64
	count := 0
	add := func(image string) {
		count++
		if s, ok := nodeInfo.ImageStates[NormalizedImageName(image)]; ok {
			spread := float64(s.NumNodes) / float64(total)
			sum += int64(float64(s.Size) * spread)
		}
	}
	spec := &pod.Pod.Spec
	for i := range spec.InitContainers {
		add(spec.InitContainers[i].Image)
	}
	for i := range spec.Containers {
		add(spec.Containers[i].Image)
	}
	for i := range spec.Volumes {
		if spec.Volumes[i].Image != nil {
			add(spec.Volumes[i].Image.Reference)
		}
	}
	return priority(sum, count), nil
}

func priority(sum int64, count int) int64 {
	maxThreshold := maxContainerThreshold * int64(count)
	if sum < minThreshold {
		sum = minThreshold
	} else if sum > maxThreshold {
		sum = maxThreshold
	}
	if maxThreshold <= minThreshold {
		return 0
	}
	return framework.MaxNodeScore * (sum - minThreshold) / (maxThreshold - minThreshold)
}

// NormalizedImageName appends ":latest" to a name without a tag, the form
// node status reports. Digests are left alone.
func NormalizedImageName(name string) string {
	if strings.LastIndex(name, ":") <= strings.LastIndex(name, "/") {
		name += ":latest"
	}
	return name
}
