package core

import (
	"fmt"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/scheduler/cache"
	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// BenchmarkSchedule5000Nodes measures the pure path of one pod: snapshot
// update from the cache, filter, score, select, assume. Nodes have 32
// cores, 128 GiB and room for 110 pods, across 3 zones; pods request
// 100m cpu and 128 MiB, like upstream's SchedulingBasic. ns/op is per pod
// scheduled.
func BenchmarkSchedule5000Nodes(b *testing.B) {
	const numNodes = 5000
	c := cache.New(cache.Config{})
	for i := 0; i < numNodes; i++ {
		c.AddNode(benchNode(i))
	}
	s, err := New(Config{Rand: func(n int) int { return 0 }})
	if err != nil {
		b.Fatal(err)
	}
	snap := framework.NewEmptySnapshot()
	if err := c.UpdateSnapshot(snap); err != nil {
		b.Fatal(err)
	}
	// Pre-existing load: one pod on every node.
	for i := 0; i < numNodes; i++ {
		p := benchPod(fmt.Sprintf("init-%d", i))
		p.Spec.NodeName = fmt.Sprintf("node-%d", i)
		if err := c.AddPod(p); err != nil {
			b.Fatal(err)
		}
	}
	pods := make([]*v1.Pod, b.N)
	for i := range pods {
		pods[i] = benchPod(fmt.Sprintf("pod-%d", i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.UpdateSnapshot(snap); err != nil {
			b.Fatal(err)
		}
		res, err := s.Schedule(framework.NewPodInfo(pods[i]), snap, nil)
		if err != nil {
			b.Fatal(err)
		}
		assumed := pods[i].DeepCopy()
		assumed.Spec.NodeName = res.Node
		if err := c.AssumePod(assumed); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/pod")
}

func benchNode(i int) *v1.Node {
	name := fmt.Sprintf("node-%d", i)
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
			v1.LabelHostname:       name,
			v1.LabelTopologyZone:   fmt.Sprintf("zone-%d", i%3),
			v1.LabelTopologyRegion: "region",
		}},
		Status: v1.NodeStatus{Allocatable: v1.ResourceList{
			v1.ResourceCPU:    resource.MustParse("32"),
			v1.ResourceMemory: resource.MustParse("128Gi"),
			v1.ResourcePods:   resource.MustParse("110"),
		}},
	}
}

func benchPod(name string) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name)},
		Spec: v1.PodSpec{Containers: []v1.Container{{
			Name:  "c",
			Image: "registry.k8s.io/pause:3.10",
			Resources: v1.ResourceRequirements{Requests: v1.ResourceList{
				v1.ResourceCPU:    resource.MustParse("100m"),
				v1.ResourceMemory: resource.MustParse("128Mi"),
			}},
		}}},
	}
}
