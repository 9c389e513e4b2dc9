package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestKubeSystemPods runs `skiff up --runtime=simulated` and looks at its
// control plane as kubeadm users do: every in-process component is a
// Ready pod in kube-system on the node, its logs are its own, describe
// shows its flags, start time and conditions, a deleted mirror pod comes
// back, and `kubectl top` shows the process on the API server's pod.
func TestKubeSystemPods(t *testing.T) {
	requireE2E(t)
	const node = "e2e-sim"
	c := newCluster(t, t.TempDir(), "--runtime=simulated", "--node-name", node, "--kubelet-port", strconv.Itoa(freePort(t)))
	c.args[0] = "up"
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.stop(); err != nil {
			t.Error(err)
		}
	})
	k := newKubectl(c)
	components := []string{"coredns", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}
	// Every kube-system pod 1/1 Running.
	waitFor(t, 90*time.Second, func() (bool, string) {
		out, _, err := k.run(t, "get", "pods", "-n", "kube-system", "--no-headers")
		if err != nil {
			return false, out
		}
		for _, comp := range components {
			f := fieldsOf(out, comp+"-"+node)
			if len(f) < 3 || f[1] != "1/1" || f[2] != "Running" {
				return false, out
			}
		}
		return true, out
	})

	wide := k.ok(t, "get", "pods", "-n", "kube-system", "-o", "wide", "--no-headers")
	if f := fieldsOf(wide, "kube-apiserver-"+node); len(f) < 7 || f[5] != "127.0.0.1" || f[6] != node {
		t.Errorf("get pods -o wide:\n%s", wide)
	}

	logs := k.ok(t, "logs", "-n", "kube-system", "kube-scheduler-"+node)
	if !strings.Contains(logs, "component=kube-scheduler") || strings.Contains(logs, "component=kubelet") {
		t.Errorf("kubectl logs kube-scheduler:\n%s", logs)
	}
	if tail := k.ok(t, "logs", "-n", "kube-system", "etcd-"+node, "--tail=1", "--timestamps"); strings.Count(strings.TrimSpace(tail), "\n") != 0 || !strings.Contains(tail, "Z level=") {
		t.Errorf("kubectl logs --tail=1 --timestamps etcd:\n%q", tail)
	}

	// Ready follows health checks that run on their own clock: poll.
	waitFor(t, 90*time.Second, func() (bool, string) {
		desc, _, err := k.run(t, "describe", "pod", "-n", "kube-system", "kube-apiserver-"+node)
		if err != nil {
			return false, desc
		}
		for _, want := range []string{
			"Priority Class Name:  system-node-critical", "Controlled By:  Node/" + node, "Start Time:",
			"kubernetes.io/config.mirror:", "kube-apiserver\n", "--secure-port=" + strconv.Itoa(c.apiPort),
			"State:          Running", "Ready:          True",
		} {
			if !strings.Contains(desc, want) {
				return false, fmt.Sprintf("describe lacks %q:\n%s", want, desc)
			}
		}
		return true, ""
	})

	uid := k.ok(t, "get", "pod", "-n", "kube-system", "kube-scheduler-"+node, "-o", "jsonpath={.metadata.uid}")
	k.ok(t, "delete", "pod", "-n", "kube-system", "kube-scheduler-"+node)
	// The deleted mirror pod back and Ready.
	waitFor(t, 90*time.Second, func() (bool, string) {
		out, _, err := k.run(t, "get", "pod", "-n", "kube-system", "kube-scheduler-"+node,
			"-o", `jsonpath={.metadata.uid} {.status.conditions[?(@.type=="Ready")].status}`)
		f := strings.Fields(out)
		return err == nil && len(f) == 2 && f[0] != uid && f[1] == "True", out
	})

	// kubectl top pods -n kube-system.
	waitFor(t, 90*time.Second, func() (bool, string) {
		out, _, err := k.run(t, "top", "pods", "-n", "kube-system", "--no-headers")
		return err == nil && len(fieldsOf(out, "kube-apiserver-"+node)) == 3, out
	})
}

// fieldsOf is the fields of the line of out whose first field is name.
func fieldsOf(out, name string) []string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return f
		}
	}
	return nil
}
