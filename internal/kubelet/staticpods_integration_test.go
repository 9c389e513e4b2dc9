package kubelet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// staticSource is a test's list of static pods, changed as the scenario
// goes.
type staticSource struct {
	mu   sync.Mutex
	pods []StaticPod
}

func (s *staticSource) list() []StaticPod {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]StaticPod(nil), s.pods...)
}

func (s *staticSource) set(pods ...StaticPod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pods = pods
}

// TestStaticPodsMirrored runs a kubelet whose process "runs" a scheduler
// and follows its mirror pod through the API server: created and Ready,
// its log served by `kubectl logs`, re-created when deleted, not Ready
// when unhealthy, terminated when the component fails, gone when the
// component is.
func TestStaticPodsMirrored(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	logPath := filepath.Join(t.TempDir(), "kube-scheduler.log")
	lines := "2026-12-04T08:00:00.000000000Z stderr F level=INFO msg=\"scheduler ready\" component=kube-scheduler\n" +
		"2026-12-04T08:00:01.000000000Z stderr F level=INFO msg=\"pod scheduled\" component=kube-scheduler pod=default/web\n"
	if err := os.WriteFile(logPath, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	started := time.Now().Add(-time.Minute)
	sp := StaticPod{
		Name: "kube-scheduler", Labels: map[string]string{"tier": "control-plane"},
		Command: []string{"kube-scheduler", "--leader-elect=true"}, Image: "skiff.local/kube-scheduler:v1.37.2-skiff",
		Started: started, Ready: true, LogPath: logPath,
	}
	src := &staticSource{}
	src.set(sp)
	port := testserver.FreePort(t)
	c.startNode(t, "static-node", nil, func(cfg *Config) {
		cfg.StaticPods = src.list
		cfg.ServerPort, cfg.ServerAddress = port, "127.0.0.1"
	})
	pods := c.client.CoreV1().Pods("kube-system")
	const name = "kube-scheduler-static-node"
	get := func() *v1.Pod {
		p, err := pods.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	waitPod := func(what string, ok func(*v1.Pod) bool) *v1.Pod {
		t.Helper()
		var p *v1.Pod
		waitFor(t, 60*time.Second, what, func() (bool, error) {
			p = get()
			if ok(p) {
				return true, nil
			}
			return false, fmt.Errorf("pod: %+v", p)
		})
		return p
	}
	ready := func(p *v1.Pod) bool { return p != nil && condition(p, v1.PodReady) == v1.ConditionTrue }

	p := waitPod("the mirror pod Ready", ready)
	if p.Annotations[annotationConfigMirror] == "" || p.Spec.NodeName != "static-node" || p.Status.PodIP != "127.0.0.1" ||
		p.Status.Phase != v1.PodRunning || p.Spec.Priority == nil || *p.Spec.Priority != 2000001000 {
		t.Fatalf("mirror pod %+v", p)
	}
	if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].Kind != "Node" || p.OwnerReferences[0].Name != "static-node" {
		t.Fatalf("owner %+v", p.OwnerReferences)
	}
	if cs := p.Status.ContainerStatuses; len(cs) != 1 || cs[0].State.Running == nil || !strings.HasPrefix(cs[0].ContainerID, "skiff://") {
		t.Fatalf("container status %+v", cs)
	}

	// kubectl logs, through the API server and the kubelet API.
	logs, err := pods.GetLogs(name, &v1.PodLogOptions{Container: "kube-scheduler"}).DoRaw(ctx)
	if err != nil || !strings.Contains(string(logs), `msg="pod scheduled"`) || strings.Contains(string(logs), "stderr F") {
		t.Fatalf("logs: %v\n%s", err, logs)
	}
	logs, err = pods.GetLogs(name, &v1.PodLogOptions{TailLines: ptr.To(int64(1)), Timestamps: true}).DoRaw(ctx)
	if err != nil || string(logs) != "2026-12-04T08:00:01Z level=INFO msg=\"pod scheduled\" component=kube-scheduler pod=default/web\n" {
		t.Fatalf("logs --tail=1 --timestamps: %v\n%q", err, logs)
	}

	// A deleted mirror pod comes back (a new object), as upstream.
	if err := pods.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod("a new mirror pod", func(n *v1.Pod) bool { return ready(n) && n.UID != p.UID && n.DeletionTimestamp == nil })

	// Health turns it not Ready; a failure terminates its container.
	sp.Ready = false
	src.set(sp)
	p = waitPod("not Ready", func(p *v1.Pod) bool { return p != nil && condition(p, v1.PodReady) == v1.ConditionFalse })
	if p.Status.ContainerStatuses[0].State.Running == nil {
		t.Fatalf("an unhealthy component's container stopped: %+v", p.Status.ContainerStatuses[0])
	}
	sp.Finished, sp.ExitCode, sp.Reason, sp.Message = time.Now(), 1, "Error", "lost the lease"
	src.set(sp)
	p = waitPod("terminated", func(p *v1.Pod) bool {
		return p != nil && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Terminated != nil
	})
	if term := p.Status.ContainerStatuses[0].State.Terminated; term.ExitCode != 1 || term.Reason != "Error" || term.Message != "lost the lease" {
		t.Fatalf("terminated %+v", term)
	}

	// A component the process no longer has loses its pod.
	src.set()
	waitPod("the mirror pod gone", func(p *v1.Pod) bool { return p == nil })

	// With its Node deleted, the kubelet creates no mirror pod (the
	// garbage collector would delete it at once, owned by a dead UID);
	// once a Node of that name is back, the pod comes, owned by it.
	sp.Finished, sp.ExitCode, sp.Reason, sp.Message = time.Time{}, 0, "", ""
	sp.Ready = true
	if err := c.client.CoreV1().Nodes().Delete(ctx, "static-node", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	src.set(sp)
	for range 20 { // several mirror syncs (RelistPeriod, and wakes)
		if p := get(); p != nil {
			t.Fatalf("a mirror pod was created for a deleted node: %+v", p.ObjectMeta)
		}
		time.Sleep(100 * time.Millisecond)
	}
	node, err := c.client.CoreV1().Nodes().Create(ctx, &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "static-node"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p = waitPod("the mirror pod back with the new Node", func(p *v1.Pod) bool { return p != nil })
	if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].UID != node.UID {
		t.Fatalf("owner %+v, want the new Node %s", p.OwnerReferences, node.UID)
	}
}
