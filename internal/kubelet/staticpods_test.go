package kubelet

import (
	"encoding/json"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

var (
	spNode = nodeOwner{Name: "n1", UID: types.UID("node-uid")}
	spT0   = time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	// spT0n is spT0 with nanoseconds, which the API drops.
	spT0n = spT0.Add(123456789)
)

func sched() StaticPod {
	return StaticPod{
		Name: "kube-scheduler", Labels: map[string]string{"tier": "control-plane"},
		Command: []string{"kube-scheduler", "--leader-elect=true"}, Image: "skiff.local/kube-scheduler:v1.37.2-skiff",
		Started: spT0n, Ready: true, LogPath: "/data/logs/kube-scheduler.log",
	}
}

func TestMirrorPod(t *testing.T) {
	p := mirrorPod(sched(), spNode, spT0)
	if p.Name != "kube-scheduler-n1" || p.Namespace != "kube-system" || p.Spec.NodeName != "n1" {
		t.Fatalf("name %s/%s node %s", p.Namespace, p.Name, p.Spec.NodeName)
	}
	if p.Labels["component"] != "kube-scheduler" || p.Labels["tier"] != "control-plane" {
		t.Errorf("labels %v", p.Labels)
	}
	a := p.Annotations
	if a[annotationConfigMirror] == "" || a[annotationConfigMirror] != a[annotationConfigHash] || a[annotationConfigSource] != "skiff" ||
		a[annotationConfigSeen] != "2026-12-04T08:00:00Z" {
		t.Errorf("annotations %v", a)
	}
	if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].Kind != "Node" || p.OwnerReferences[0].UID != "node-uid" ||
		p.OwnerReferences[0].Controller == nil || !*p.OwnerReferences[0].Controller {
		t.Errorf("owner %v", p.OwnerReferences)
	}
	c := p.Spec.Containers
	if len(c) != 1 || c[0].Name != "kube-scheduler" || len(c[0].Command) != 2 || c[0].Image != sched().Image {
		t.Errorf("containers %+v", c)
	}
	if !p.Spec.HostNetwork || p.Spec.PriorityClassName != "system-node-critical" || p.Spec.RestartPolicy != v1.RestartPolicyAlways {
		t.Errorf("spec %+v", p.Spec)
	}
	// The hash names the definition: flags change it, state does not.
	other := sched()
	other.Ready, other.Started = false, time.Time{}
	if mirrorPod(other, spNode, spT0).Annotations[annotationConfigHash] != a[annotationConfigHash] {
		t.Error("the state changed the hash")
	}
	other.Command = append(other.Command, "--v=4")
	if mirrorPod(other, spNode, spT0).Annotations[annotationConfigHash] == a[annotationConfigHash] {
		t.Error("the command did not change the hash")
	}
}

func statusCondition(s v1.PodStatus, t v1.PodConditionType) v1.PodCondition {
	if c := findCondition(s.Conditions, t); c != nil {
		return *c
	}
	return v1.PodCondition{}
}

func TestStaticPodStatus(t *testing.T) {
	now := spT0.Add(time.Minute)
	cases := []struct {
		name       string
		sp         func(*StaticPod)
		phase      v1.PodPhase
		ready      v1.ConditionStatus
		readyWhy   string
		running    bool
		terminated string // reason
		waiting    string
	}{
		{name: "healthy", sp: func(*StaticPod) {}, phase: v1.PodRunning, ready: v1.ConditionTrue, running: true},
		{name: "unhealthy", sp: func(s *StaticPod) { s.Ready = false }, phase: v1.PodRunning, ready: v1.ConditionFalse, readyWhy: "ContainersNotReady", running: true},
		{name: "not started", sp: func(s *StaticPod) { s.Started, s.Ready = time.Time{}, false }, phase: v1.PodPending, ready: v1.ConditionFalse, readyWhy: "ContainersNotReady", waiting: "ContainerCreating"},
		{name: "stopped", sp: func(s *StaticPod) {
			s.Finished, s.Ready, s.Reason = spT0n.Add(30*time.Second), false, "Completed"
		}, phase: v1.PodRunning, ready: v1.ConditionFalse, readyWhy: "ContainersNotReady", terminated: "Completed"},
		{name: "failed", sp: func(s *StaticPod) {
			s.Finished, s.Ready, s.ExitCode, s.Reason, s.Message = spT0n.Add(30*time.Second), false, 1, "Error", "lost the lease"
		}, phase: v1.PodRunning, ready: v1.ConditionFalse, readyWhy: "ContainersNotReady", terminated: "Error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp := sched()
			tc.sp(&sp)
			pod := mirrorPod(sp, spNode, spT0)
			s := staticPodStatus(sp, pod, "10.0.0.5", now)
			if s.Phase != tc.phase {
				t.Errorf("phase %s, want %s", s.Phase, tc.phase)
			}
			r := statusCondition(s, v1.PodReady)
			if r.Status != tc.ready || r.Reason != tc.readyWhy {
				t.Errorf("Ready %s %s, want %s %s", r.Status, r.Reason, tc.ready, tc.readyWhy)
			}
			if cr := statusCondition(s, v1.ContainersReady); cr.Status != tc.ready {
				t.Errorf("ContainersReady %s", cr.Status)
			}
			if s.PodIP != "10.0.0.5" || s.HostIP != "10.0.0.5" {
				t.Errorf("IPs pod %s host %s", s.PodIP, s.HostIP)
			}
			if len(s.ContainerStatuses) != 1 {
				t.Fatalf("container statuses %+v", s.ContainerStatuses)
			}
			cs := s.ContainerStatuses[0]
			switch {
			case tc.running:
				if cs.State.Running == nil || !cs.State.Running.StartedAt.Time.Equal(spT0) || cs.Started == nil || !*cs.Started {
					t.Errorf("state %+v started %v", cs.State, cs.Started)
				}
				if cs.Ready != (tc.ready == v1.ConditionTrue) {
					t.Errorf("ready %v", cs.Ready)
				}
			case tc.terminated != "":
				term := cs.State.Terminated
				if term == nil || term.Reason != tc.terminated || term.ExitCode != sp.ExitCode || term.Message != sp.Message || !term.FinishedAt.Time.Equal(sp.Finished.Truncate(time.Second)) {
					t.Errorf("terminated %+v", term)
				}
			default:
				if cs.State.Waiting == nil || cs.State.Waiting.Reason != tc.waiting {
					t.Errorf("waiting %+v", cs.State)
				}
			}
			if !sp.Started.IsZero() && (s.StartTime == nil || !s.StartTime.Time.Equal(spT0)) {
				t.Errorf("startTime %v", s.StartTime)
			}
		})
	}
}

func TestPlanMirrorPods(t *testing.T) {
	now := spT0.Add(time.Minute)
	current := func(sp StaticPod) *v1.Pod {
		p := mirrorPod(sp, spNode, spT0)
		p.UID = "u-" + types.UID(p.Name)
		p.Status = staticPodStatus(sp, p, "10.0.0.5", now.Add(-time.Second))
		// As the API server stores it (times to the second).
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var stored v1.Pod
		if err := json.Unmarshal(b, &stored); err != nil {
			t.Fatal(err)
		}
		return &stored
	}
	deleting := current(sched())
	deleting.DeletionTimestamp = &metav1.Time{Time: now}
	changed := sched()
	changed.Command = append(changed.Command, "--v=4")
	unhealthy := sched()
	unhealthy.Ready = false
	user := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "kube-scheduler-n1", Namespace: "kube-system"}}
	gone := StaticPod{Name: "kube-proxy", Started: spT0, Ready: true}
	regular := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}}

	nodeGone := nodeOwner{Name: "n1", Gone: true}
	justDeleted := map[string]time.Time{"kube-system/kube-scheduler-n1": now.Add(-300 * time.Millisecond)}
	longAgo := map[string]time.Time{"kube-system/kube-scheduler-n1": now.Add(-2 * time.Second)}
	cases := []struct {
		name    string
		want    []StaticPod
		have    []*v1.Pod
		deleted map[string]time.Time
		plan    []string // "create kube-system/x", "delete ...", "status ..."
		node    *nodeOwner
	}{
		{"missing: create", []StaticPod{sched()}, []*v1.Pod{regular}, nil, []string{"create kube-system/kube-scheduler-n1"}, nil},
		{"up to date: nothing", []StaticPod{sched()}, []*v1.Pod{current(sched()), regular}, nil, nil, nil},
		{"health changed: status", []StaticPod{unhealthy}, []*v1.Pod{current(sched())}, nil, []string{"status kube-system/kube-scheduler-n1"}, nil},
		{"deleted by a user: delete for good (then create)", []StaticPod{sched()}, []*v1.Pod{deleting}, nil, []string{"delete kube-system/kube-scheduler-n1"}, nil},
		{"other definition: delete", []StaticPod{changed}, []*v1.Pod{current(sched())}, nil, []string{"delete kube-system/kube-scheduler-n1"}, nil},
		{"no static pod: delete", nil, []*v1.Pod{current(gone), regular}, nil, []string{"delete kube-system/kube-proxy-n1"}, nil},
		{"someone else's pod of that name: left", []StaticPod{sched()}, []*v1.Pod{user}, nil, nil, nil},
		{"deleted just now: not yet", []StaticPod{sched()}, nil, justDeleted, nil, nil},
		{"deleted a while ago: create", []StaticPod{sched()}, nil, longAgo, []string{"create kube-system/kube-scheduler-n1"}, nil},
		{"node gone: no create", []StaticPod{sched()}, []*v1.Pod{regular}, nil, nil, &nodeGone},
		{"node gone: status still kept", []StaticPod{unhealthy}, []*v1.Pod{current(sched())}, nil, []string{"status kube-system/kube-scheduler-n1"}, &nodeGone},
		{"node gone: stale pod still deleted", nil, []*v1.Pod{current(gone)}, nil, []string{"delete kube-system/kube-proxy-n1"}, &nodeGone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			node := spNode
			if tc.node != nil {
				node = *tc.node
			}
			for _, a := range planMirrorPods(tc.want, tc.have, node, "10.0.0.5", now, tc.deleted) {
				switch {
				case a.Create != nil:
					got = append(got, "create "+a.Create.Namespace+"/"+a.Create.Name)
				case a.Delete != nil:
					got = append(got, "delete "+a.Delete.Namespace+"/"+a.Delete.Name)
				case a.Status != nil:
					got = append(got, "status "+a.Status.Namespace+"/"+a.Status.Name)
				}
			}
			if len(got) != len(tc.plan) {
				t.Fatalf("plan %v, want %v", got, tc.plan)
			}
			for i := range got {
				if got[i] != tc.plan[i] {
					t.Fatalf("plan %v, want %v", got, tc.plan)
				}
			}
		})
	}
}

func TestMirrorOwner(t *testing.T) {
	live := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "new-uid"}}
	deleting := live.DeepCopy()
	deleting.DeletionTimestamp = &metav1.Time{Time: spT0}
	cases := []struct {
		name string
		node *v1.Node
		want nodeOwner
	}{
		{"missing", nil, nodeOwner{Name: "n1", Gone: true}},
		{"being deleted", deleting, nodeOwner{Name: "n1", Gone: true}},
		{"live (its UID, whatever the cached one)", live, nodeOwner{Name: "n1", UID: "new-uid"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := mirrorOwner("n1", tc.node); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMirrorChangeWakes(t *testing.T) {
	base := mirrorPod(sched(), spNode, spT0)
	with := func(change func(p *v1.Pod)) *v1.Pod {
		p := base.DeepCopy()
		change(p)
		return p
	}
	cases := []struct {
		name string
		old  *v1.Pod
		cur  *v1.Pod
		want bool
	}{
		{"added", nil, base, true},
		{"status only (our own write)", base, with(func(p *v1.Pod) { p.Status.Phase = v1.PodRunning; p.ResourceVersion = "2" }), false},
		{"deletion asked", base, with(func(p *v1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: spT0} }), true},
		{"still being deleted", with(func(p *v1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: spT0} }),
			with(func(p *v1.Pod) { p.DeletionTimestamp = &metav1.Time{Time: spT0}; p.Status.Phase = v1.PodFailed }), false},
		{"annotation edited", base, with(func(p *v1.Pod) { p.Annotations[annotationConfigMirror] = "other" }), true},
		{"spec edited", base, with(func(p *v1.Pod) { p.Spec.ActiveDeadlineSeconds = new(int64) }), true},
		{"label edited", base, with(func(p *v1.Pod) { p.Labels["x"] = "y" }), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := mirrorChangeWakes(tc.old, tc.cur); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
