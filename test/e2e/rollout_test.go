package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestKubectlRollout drives a Deployment through kubectl's rollout
// commands on a server with two simulated nodes (a `skiff agent
// --simulate-nodes 2` process), checking kubectl's output.
func TestKubectlRollout(t *testing.T) {
	requireE2E(t)
	c := startCluster(t)
	startSimulatedNodes(t, c, 2)
	k := newKubectl(c)
	ns := "e2e-rollout"
	k.ok(t, "create", "namespace", ns)
	n := func(args ...string) []string { return append([]string{"-n", ns}, args...) }
	status := func() {
		t.Helper()
		out := k.ok(t, n("rollout", "status", "deployment/web", "--timeout=50s")...)
		ls := lines(out)
		if len(ls) == 0 || ls[len(ls)-1] != `deployment "web" successfully rolled out` {
			t.Errorf("rollout status:\n%s", out)
		}
	}

	wantLines(t, k.ok(t, n("create", "deployment", "web", "--image=registry.example/app:1", "--replicas=3")...), "deployment.apps/web created")
	status()
	wantHeader(t, k.ok(t, n("get", "deployment", "web")...), "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE")
	if got := k.ok(t, n("get", "deployment", "web", "-o", "jsonpath={.status.readyReplicas}/{.status.updatedReplicas}/{.status.availableReplicas}")...); got != "3/3/3" {
		t.Errorf("status = %s", got)
	}

	wantLines(t, k.ok(t, n("set", "image", "deployment/web", "app=registry.example/app:2")...), "deployment.apps/web image updated")
	status()
	wantLines(t, k.ok(t, n("rollout", "history", "deployment/web")...),
		"deployment.apps/web ", "REVISION  CHANGE-CAUSE", "1         <none>", "2         <none>")
	rev2 := k.ok(t, n("rollout", "history", "deployment/web", "--revision=2")...)
	wantMatch(t, rev2, `^deployment\.apps/web with revision #2$`, `^Pod Template:$`, `^\s+Labels:\s+app=web$`,
		`^\s+pod-template-hash=\w+$`, `^\s+Image:\s+registry\.example/app:2$`)

	wantLines(t, k.ok(t, n("rollout", "undo", "deployment/web")...), "deployment.apps/web rolled back")
	status()
	if got := k.ok(t, n("get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}")...); got != "registry.example/app:1 3" {
		t.Errorf("after undo: %q, want image app:1 at revision 3", got)
	}
	wantLines(t, k.ok(t, n("rollout", "history", "deployment/web")...),
		"deployment.apps/web ", "REVISION  CHANGE-CAUSE", "2         <none>", "3         <none>")
	wantLines(t, k.ok(t, n("rollout", "undo", "deployment/web", "--to-revision=2")...), "deployment.apps/web rolled back")
	status()
	if got := k.ok(t, n("get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image}")...); got != "registry.example/app:2" {
		t.Errorf("after undo --to-revision=2: %q", got)
	}
	errOut := k.fails(t, n("rollout", "undo", "deployment/web", "--to-revision=9")...)
	wantContains(t, errOut, "unable to find specified revision 9 in history")

	wantLines(t, k.ok(t, n("rollout", "restart", "deployment/web")...), "deployment.apps/web restarted")
	status()
	wantMatch(t, k.ok(t, n("get", "deployment", "web", "-o", "jsonpath={.spec.template.metadata.annotations}")...), `kubectl\.kubernetes\.io/restartedAt`)

	wantLines(t, k.ok(t, n("rollout", "pause", "deployment/web")...), "deployment.apps/web paused")
	errOut = k.fails(t, n("rollout", "undo", "deployment/web")...)
	wantContains(t, errOut, "you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' and try again")
	k.ok(t, n("set", "image", "deployment/web", "app=registry.example/app:3")...)
	wantLines(t, k.ok(t, n("scale", "deployment", "web", "--replicas=5")...), "deployment.apps/web scaled")
	waitFor(t, 60*time.Second, func() (bool, string) {
		// Paused: the new template has no ReplicaSet, so no updated replicas.
		out, _, _ := k.run(t, n("get", "deployment", "web", "-o", "jsonpath={.status.replicas} {.status.updatedReplicas} {.status.observedGeneration} {.metadata.generation}")...)
		f := strings.Fields(out)
		return len(f) == 3 && f[0] == "5" && f[1] == f[2], out
	})
	wantLines(t, k.ok(t, n("rollout", "resume", "deployment/web")...), "deployment.apps/web resumed")
	status()
	if got := k.ok(t, n("get", "deployment", "web", "-o", "jsonpath={.status.updatedReplicas} {.spec.template.spec.containers[0].image}")...); got != "5 registry.example/app:3" {
		t.Errorf("after resume: %q", got)
	}
	wantLines(t, k.ok(t, n("scale", "deployment", "web", "--replicas=2")...), "deployment.apps/web scaled")
	status()

	// kubernetes.io/change-cause goes to the new ReplicaSet: history shows it.
	k.ok(t, n("annotate", "deployment", "web", "kubernetes.io/change-cause=image 4")...)
	k.ok(t, n("set", "image", "deployment/web", "app=registry.example/app:4")...)
	status()
	wantMatch(t, k.ok(t, n("rollout", "history", "deployment/web")...), `^\d+\s+image 4$`)

	// A rollout that cannot finish: its pods never schedule.
	k.ok(t, n("create", "deployment", "stuck", "--image=registry.example/app:1")...)
	k.ok(t, n("patch", "deployment", "stuck", "-p", `{"spec":{"progressDeadlineSeconds":2,"template":{"spec":{"nodeSelector":{"nowhere":"true"}}}}}`)...)
	_, errOut, err := k.run(t, n("rollout", "status", "deployment/stuck", "--timeout=50s")...)
	if err == nil || !strings.Contains(errOut, `error: deployment "stuck" exceeded its progress deadline`) {
		t.Errorf("rollout status of a stuck deployment: %v\n%s", err, errOut)
	}
	wantMatch(t, k.ok(t, n("get", "events", "--field-selector", "involvedObject.kind=Deployment")...),
		`ScalingReplicaSet\s+deployment/web\s+Scaled up replica set web-\w+ from 0 to 3$`,
		`ScalingReplicaSet\s+deployment/web\s+Scaled down replica set web-\w+ from 3 to 2$`)
}

// startSimulatedNodes runs `skiff agent --simulate-nodes n` against c
// until the test ends and waits for its nodes to be Ready.
func startSimulatedNodes(t *testing.T, c *cluster, nodes int) {
	t.Helper()
	logf, err := os.Create(c.dir + "/agent.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(skiffBin, "agent", "--kubeconfig", c.kubeconfig(), "--simulate-nodes", fmt.Sprint(nodes))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
	})
	k := newKubectl(c)
	waitFor(t, 60*time.Second, func() (bool, string) {
		out, _, _ := k.run(t, "get", "nodes", "-o", `jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}`)
		return strings.Count(out, "True") == nodes, out
	})
}

// waitRolloutStarted waits until the Deployment's first ReplicaSet has
// its n pods (on a server without nodes they stay Pending): revision 1,
// n updated replicas.
func waitRolloutStarted(t *testing.T, k kubectl, ns, name string, n int) {
	t.Helper()
	want := fmt.Sprintf("%d 1", n)
	waitFor(t, 60*time.Second, func() (bool, string) {
		out, _, _ := k.run(t, "get", "-n", ns, "deployment", name, "-o", `jsonpath={.status.updatedReplicas} {.metadata.annotations.deployment\.kubernetes\.io/revision}`)
		return out == want, out
	})
}
