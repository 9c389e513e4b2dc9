package manager_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiff-sh/skiff/internal/controller/daemonset"
	"github.com/skiff-sh/skiff/internal/kubelet"
)

// The cluster's two plain nodes (cm-0000, cm-0001) and two more: ds-0000
// labelled role=edge, ds-0001 tainted dedicated=infra:NoSchedule.
func TestDaemonSet(t *testing.T) {
	c := startCluster(t)
	c.startFleet("ds-", 2, func(i int, cfg *kubelet.Config) {
		if i == 0 {
			cfg.Labels = map[string]string{"role": "edge"}
		} else {
			cfg.Taints = []v1.Taint{{Key: "dedicated", Value: "infra", Effect: v1.TaintEffectNoSchedule}}
		}
	})
	ctx := context.Background()
	ns := "ds-test"
	c.namespace(ns)
	create := func(ds *appsv1.DaemonSet) {
		t.Helper()
		if _, err := c.client.AppsV1().DaemonSets(ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("one pod on every node it tolerates", func(t *testing.T) {
		create(daemonSet(ns, "agent"))
		c.daemonsOn(ns, "agent", "cm-0000", "cm-0001", "ds-0000")
		for _, p := range c.activePods(ns, "agent") {
			ref := metav1.GetControllerOf(&p)
			if ref == nil || ref.Kind != "DaemonSet" || p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == "" {
				t.Errorf("pod %s: owner %+v labels %v", p.Name, ref, p.Labels)
			}
		}
	})

	t.Run("a nodeSelector picks a subset", func(t *testing.T) {
		ds := daemonSet(ns, "edge")
		ds.Spec.Template.Spec.NodeSelector = map[string]string{"role": "edge"}
		create(ds)
		c.daemonsOn(ns, "edge", "ds-0000")
	})

	t.Run("a toleration reaches the tainted node", func(t *testing.T) {
		ds := daemonSet(ns, "infra")
		ds.Spec.Template.Spec.Tolerations = []v1.Toleration{{Key: "dedicated", Operator: v1.TolerationOpEqual, Value: "infra", Effect: v1.TaintEffectNoSchedule}}
		create(ds)
		c.daemonsOn(ns, "infra", "cm-0000", "cm-0001", "ds-0000", "ds-0001")
	})

	t.Run("a node that stops qualifying loses its pod", func(t *testing.T) {
		node, err := c.client.CoreV1().Nodes().Get(ctx, "ds-0000", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		delete(node.Labels, "role")
		if _, err := c.client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.daemonsOn(ns, "edge")
	})

	t.Run("a cordoned node gets its deleted daemon pod back", func(t *testing.T) {
		cordon := func(on bool) {
			node, err := c.client.CoreV1().Nodes().Get(ctx, "cm-0001", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			node.Spec.Unschedulable = on
			if _, err := c.client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		cordon(true)
		defer cordon(false)
		var victim string
		for _, p := range c.activePods(ns, "agent") {
			if p.Spec.NodeName == "cm-0001" {
				victim = p.Name
			}
		}
		if err := c.client.CoreV1().Pods(ns).Delete(ctx, victim, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		c.eventually(time.Minute, "a new pod on cm-0001", func() (bool, string) {
			for _, p := range c.activePods(ns, "agent") {
				if p.Spec.NodeName == "cm-0001" && p.Name != victim {
					return true, ""
				}
			}
			return false, podNames(c.activePods(ns, "agent"))
		})
		c.daemonsOn(ns, "agent", "cm-0000", "cm-0001", "ds-0000")
	})

	t.Run("a rolling update replaces every pod, and kubectl follows it", func(t *testing.T) {
		k := kubectlFor(t, c)
		k("rollout", "status", "ds/agent", "-n", ns, "--timeout=60s")
		before := podNames(c.activePods(ns, "agent"))
		ds, err := c.client.AppsV1().DaemonSets(ns).Get(ctx, "agent", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		ds.Spec.Template.Spec.Containers[0].Image = "registry.example/agent:2"
		if _, err := c.client.AppsV1().DaemonSets(ns).Update(ctx, ds, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if out := k("rollout", "status", "ds/agent", "-n", ns, "--timeout=120s"); !strings.Contains(out, `daemon set "agent" successfully rolled out`) {
			t.Errorf("rollout status said %q", out)
		}
		c.daemonsOn(ns, "agent", "cm-0000", "cm-0001", "ds-0000")
		for _, p := range c.activePods(ns, "agent") {
			if p.Spec.Containers[0].Image != "registry.example/agent:2" || strings.Contains(before, p.Name) {
				t.Errorf("pod %s (image %s) survived the update", p.Name, p.Spec.Containers[0].Image)
			}
		}
		if out := k("get", "ds", "agent", "-n", ns); !regexp.MustCompile(`(?m)^agent\s+3\s+3\s+3\s+3\s+3\s`).MatchString(out) {
			t.Errorf("kubectl get ds:\n%s", out)
		}
		hist := k("rollout", "history", "ds/agent", "-n", ns)
		if !strings.Contains(hist, "REVISION") || !strings.Contains(hist, "\n1 ") || !strings.Contains(hist, "\n2 ") {
			t.Errorf("rollout history:\n%s", hist)
		}
		k("rollout", "undo", "ds/agent", "-n", ns)
		k("rollout", "status", "ds/agent", "-n", ns, "--timeout=120s")
		c.daemonsOn(ns, "agent", "cm-0000", "cm-0001", "ds-0000")
		for _, p := range c.activePods(ns, "agent") {
			if p.Spec.Containers[0].Image != "registry.example/agent:1" {
				t.Errorf("pod %s runs %s after the undo", p.Name, p.Spec.Containers[0].Image)
			}
		}
		revs, err := c.client.AppsV1().ControllerRevisions(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=agent"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range revs.Items {
			got = append(got, fmt.Sprint(r.Revision))
		}
		sort.Strings(got)
		if strings.Join(got, ",") != "2,3" {
			t.Errorf("revisions %v; want 2 and 3 (the undo renumbers revision 1 as 3)", got)
		}
	})

	t.Run("a surge update (maxSurge 1, maxUnavailable 0) replaces every pod", func(t *testing.T) {
		ds, err := c.client.AppsV1().DaemonSets(ns).Get(ctx, "infra", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		zero, one := intstr.FromInt32(0), intstr.FromInt32(1)
		ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: &zero, MaxSurge: &one}
		ds.Spec.Template.Spec.Containers[0].Image = "registry.example/agent:2"
		if _, err := c.client.AppsV1().DaemonSets(ns).Update(ctx, ds, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.eventually(2*time.Minute, "every infra pod replaced", func() (bool, string) {
			pods := c.activePods(ns, "infra")
			for _, p := range pods {
				if p.Spec.Containers[0].Image != "registry.example/agent:2" {
					return false, podNames(pods)
				}
			}
			return len(pods) == 4, podNames(pods)
		})
		c.daemonsOn(ns, "infra", "cm-0000", "cm-0001", "ds-0000", "ds-0001")
	})

	t.Run("events", func(t *testing.T) {
		c.eventually(30*time.Second, "create and delete events", func() (bool, string) {
			evs, err := c.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			seen := map[string]bool{}
			for _, e := range evs.Items {
				if e.InvolvedObject.Kind == "DaemonSet" && e.Source.Component == daemonset.EventSource {
					seen[e.Reason] = true
				}
			}
			return seen[daemonset.ReasonSuccessfulCreate] && seen[daemonset.ReasonSuccessfulDelete], fmt.Sprint(seen)
		})
	})
}

func daemonSet(ns, name string) *appsv1.DaemonSet {
	labels := map[string]string{"app": name}
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "agent", Image: "registry.example/agent:1"}}},
			},
		},
	}
}

// startFleet runs n more simulated nodes named <prefix>0000... until the
// test ends; template configures node i.
func (c *cluster) startFleet(prefix string, n int, template func(int, *kubelet.Config)) {
	c.t.Helper()
	fleet, err := kubelet.NewFleet(kubelet.FleetConfig{Client: c.client, Nodes: n, NamePrefix: prefix,
		ClusterCIDR: "10.43.0.0/16", Template: template})
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fleet.Run(ctx) }()
	c.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			c.t.Errorf("fleet %s: %v", prefix, err)
		}
	})
	c.eventually(time.Minute, "fleet "+prefix+" ready", func() (bool, string) { return fleet.Ready(), "" })
}

// daemonsOn waits until the daemon set has exactly one active, bound pod
// on each of nodes and none elsewhere, and its status says so for its
// current generation.
func (c *cluster) daemonsOn(ns, name string, nodes ...string) {
	c.t.Helper()
	want := strings.Join(nodes, ",")
	c.eventually(2*time.Minute, fmt.Sprintf("%s/%s on [%s]", ns, name, want), func() (bool, string) {
		ds, err := c.client.AppsV1().DaemonSets(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		var on []string
		for _, p := range c.activePods(ns, name) {
			on = append(on, p.Spec.NodeName)
		}
		sort.Strings(on)
		st := ds.Status
		n := int32(len(nodes))
		return strings.Join(on, ",") == want && st.ObservedGeneration == ds.Generation && st.DesiredNumberScheduled == n &&
				st.CurrentNumberScheduled == n && st.NumberReady == n && st.NumberAvailable == n && st.UpdatedNumberScheduled == n &&
				st.NumberMisscheduled == 0 && st.NumberUnavailable == 0,
			fmt.Sprintf("pods on [%s], status %+v", strings.Join(on, ","), st)
	})
}

func podNames(pods []v1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return strings.Join(out, ",")
}

// kubectlFor returns a runner of the real kubectl against c's API server;
// the test skips when kubectl is not installed.
func kubectlFor(t *testing.T, c *cluster) func(args ...string) string {
	t.Helper()
	const bin = "/usr/bin/kubectl"
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("%s is not installed", bin)
	}
	home := t.TempDir()
	return func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", c.srv.Kubeconfig}, args...)...)
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
}
