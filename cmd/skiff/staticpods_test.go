package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/skiff-sh/skiff/internal/component"
	"github.com/skiff-sh/skiff/internal/kubelet"
	"github.com/skiff-sh/skiff/internal/testserver"
)

func TestStaticPodOf(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	def := staticPodDef{command: []string{"kube-scheduler", "--leader-elect=true"}, labels: map[string]string{"tier": "control-plane"}}
	cases := []struct {
		st              component.Status
		finished        bool
		exit            int32
		reason, message string
		ready           bool
	}{
		{st: component.Status{Name: "kube-scheduler", State: component.Waiting}},
		{st: component.Status{Name: "kube-scheduler", State: component.Running, Started: t0, Ready: true}, ready: true},
		{st: component.Status{Name: "kube-scheduler", State: component.Running, Started: t0}},
		{st: component.Status{Name: "kube-scheduler", State: component.Stopped, Started: t0, Finished: t0.Add(time.Minute)}, finished: true, reason: "Completed"},
		{st: component.Status{Name: "kube-scheduler", State: component.Failed, Started: t0, Finished: t0.Add(time.Minute), Err: errors.New("lost the lease")},
			finished: true, exit: 1, reason: "Error", message: "lost the lease"},
	}
	for _, tc := range cases {
		t.Run(string(tc.st.State), func(t *testing.T) {
			sp := staticPodOf(tc.st, def, "/d/logs/kube-scheduler.log")
			if sp.Name != "kube-scheduler" || len(sp.Command) != 2 || sp.Labels["tier"] != "control-plane" || sp.LogPath != "/d/logs/kube-scheduler.log" {
				t.Fatalf("%+v", sp)
			}
			if want := "skiff.local/kube-scheduler:" + strings.ReplaceAll(skiffVersion.GitVersion, "+", "-"); sp.Image != want || strings.Contains(want, "+") {
				t.Errorf("image %s, want %s", sp.Image, want)
			}
			if sp.Ready != tc.ready || !sp.Started.Equal(tc.st.Started) || sp.Finished.IsZero() == tc.finished ||
				sp.ExitCode != tc.exit || sp.Reason != tc.reason || sp.Message != tc.message {
				t.Errorf("%+v", sp)
			}
		})
	}
}

// TestStopComponentTurnsPodNotReady runs `skiff up`'s components with the
// simulated runtime in this process, sees every control-plane pod Ready in
// kube-system, then stops the scheduler alone: its pod goes not Ready and
// its container terminated, while the rest keeps running.
func TestStopComponentTurnsPodNotReady(t *testing.T) {
	dir := t.TempDir()
	var f controlPlaneFlags
	fs := pflag.NewFlagSet("up", pflag.ContinueOnError)
	f.register(fs, dir)
	f.registerIPAM(fs)
	var nf nodeFlags
	nf.registerRuntime(fs)
	args := []string{
		"--api-port", strconv.Itoa(testserver.FreePort(t)), "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--etcd-client-url", fmt.Sprintf("http://127.0.0.1:%d", testserver.FreePort(t)),
		"--etcd-peer-url", fmt.Sprintf("http://127.0.0.1:%d", testserver.FreePort(t)),
		"--cluster-dns-port", strconv.Itoa(testserver.FreePort(t)),
		"--runtime", runtimeSimulated, "--kubelet-port", strconv.Itoa(testserver.FreePort(t)), "--node-ip", "127.0.0.1",
	}
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.config()
	if err != nil {
		t.Fatal(err)
	}
	const nodeName = "stop-node"
	components, sp, err := upComponents(cfg, upSpec{f: &f, nf: &nf, kubelet: kubelet.Config{NodeName: nodeName, PodLogsDir: t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	m := &component.Manager{Logger: cfg.Logger}
	for _, c := range components {
		m.Add(c)
	}
	sp.attach(m)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("the manager: %v", err)
		}
	}()
	waitUntil(t, "every component started", func() bool {
		select {
		case err := <-done:
			done <- err // for the deferred receive
			t.Fatalf("the manager stopped: %v", err)
		default:
		}
		return m.Started()
	})

	rc, err := clientcmd.BuildConfigFromFlags("", cfg.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	client := kubernetes.NewForConfigOrDie(rc)
	pods := client.CoreV1().Pods("kube-system")
	podReady := func(p *v1.Pod) bool {
		for _, c := range p.Status.Conditions {
			if c.Type == v1.PodReady {
				return c.Status == v1.ConditionTrue
			}
		}
		return false
	}
	want := []string{"etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager", "coredns"}
	waitUntil(t, "every kube-system pod Ready", func() bool {
		for _, name := range want {
			p, err := pods.Get(ctx, name+"-"+nodeName, metav1.GetOptions{})
			if err != nil || !podReady(p) {
				return false
			}
		}
		return true
	})
	p, err := pods.Get(ctx, "kube-scheduler-"+nodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cmd := p.Spec.Containers[0].Command; len(cmd) < 2 || cmd[0] != "kube-scheduler" || !strings.Contains(strings.Join(cmd, " "), "--leader-elect=true") {
		t.Errorf("command %v", cmd)
	}
	logs, err := pods.GetLogs("kube-scheduler-"+nodeName, &v1.PodLogOptions{}).DoRaw(ctx)
	if err != nil || !strings.Contains(string(logs), "component=kube-scheduler") || strings.Contains(string(logs), "component=kubelet") {
		t.Errorf("kube-scheduler's logs: %v\n%s", err, logs)
	}

	if err := m.Stop("kube-scheduler"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the scheduler's pod not Ready and its container terminated", func() bool {
		p, err := pods.Get(ctx, "kube-scheduler-"+nodeName, metav1.GetOptions{})
		return err == nil && !podReady(p) && len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Terminated != nil
	})
	p, err = pods.Get(ctx, "kube-scheduler-"+nodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if term := p.Status.ContainerStatuses[0].State.Terminated; term.Reason != "Completed" || term.ExitCode != 0 {
		t.Errorf("terminated %+v", term)
	}
	waitUntil(t, "the API server's pod Ready after the scheduler stopped", func() bool {
		p, err := pods.Get(ctx, "kube-apiserver-"+nodeName, metav1.GetOptions{})
		return err == nil && podReady(p)
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestProxyPodCommand: an agent joined with --token has no kubeconfig
// file, and its kube-proxy pod's command leaves the flag out.
func TestProxyPodCommand(t *testing.T) {
	for _, kubeconfig := range []string{"/etc/skiff/agent.kubeconfig", ""} {
		s := &staticPods{defs: map[string]staticPodDef{}}
		s.proxy(proxyFlags{mode: "iptables"}, kubeconfig, "n1", "10.42.0.0/16")
		cmd := strings.Join(s.defs["kube-proxy"].command, " ")
		if has := strings.Contains(cmd, "--kubeconfig="); has != (kubeconfig != "") || !strings.Contains(cmd, "--hostname-override=n1") {
			t.Errorf("kubeconfig %q: command %s", kubeconfig, cmd)
		}
	}
}
