package apiserver

import (
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func TestKubeletHostPort(t *testing.T) {
	node := func(port int32, labels map[string]string, addrs ...corev1.NodeAddress) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Status: corev1.NodeStatus{Addresses: addrs,
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: port}}}}
	}
	internal := corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "10.0.0.5"}
	external := corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: "1.2.3.4"}
	host := corev1.NodeAddress{Type: corev1.NodeHostName, Address: "n1"}
	v6 := corev1.NodeAddress{Type: corev1.NodeInternalIP, Address: "fd00::5"}
	for _, tc := range []struct {
		name string
		node *corev1.Node
		want string
		err  string
	}{
		{"internal first", node(10250, nil, host, external, internal), "10.0.0.5:10250", ""},
		{"reported port", node(11250, nil, internal), "10.0.0.5:11250", ""},
		{"default port", node(0, nil, internal), "10.0.0.5:10250", ""},
		{"external before hostname", node(0, nil, host, external), "1.2.3.4:10250", ""},
		{"ipv6", node(0, nil, v6), "[fd00::5]:10250", ""},
		{"hostname label", node(0, map[string]string{"kubernetes.io/hostname": "h1"}), "h1:10250", ""},
		{"nothing", node(0, nil), "", "no preferred addresses found; known addresses: []"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := kubeletHostPort(tc.node, defaultKubeletAddressTypes, 10250)
			if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
				t.Errorf("got %q, %v; want %q, %q", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestPodLogOptions(t *testing.T) {
	for _, tc := range []struct {
		query string
		// kubelet is the query the kubelet gets; errs the validation
		// errors; parseErr a decoding failure.
		kubelet, errs, parseErr string
	}{
		{"", "", "", ""},
		{"follow=true&previous=1&timestamps=True", "follow=true&previous=true&timestamps=true", "", ""},
		{"follow=false&previous=0&timestamps=f", "", "", ""},
		{"tailLines=10&limitBytes=5&sinceSeconds=60", "limitBytes=5&sinceSeconds=60&tailLines=10", "", ""},
		{"sinceTime=2026-01-02T03:04:05Z", "sinceTime=2026-01-02T03%3A04%3A05Z", "", ""},
		{"insecureSkipTLSVerifyBackend=true&container=c", "", "", ""},
		{"stream=Stdout", "stream=Stdout", "", ""},
		{"tailLines=-1", "", "tailLines: Invalid value: -1: must be greater than or equal to 0", ""},
		{"limitBytes=0", "", "limitBytes: Invalid value: 0: must be greater than 0", ""},
		{"sinceSeconds=0", "", "sinceSeconds: Invalid value: 0: must be greater than 0", ""},
		{"sinceSeconds=5&sinceTime=2026-01-02T03:04:05Z", "", "[]: Forbidden: at most one of `sinceTime` or `sinceSeconds` may be specified", ""},
		{"stream=Both", "", `stream: Unsupported value: "Both": supported values: "Stdout", "Stderr", "All"`, ""},
		{"stream=Stderr&tailLines=1", "", "[]: Forbidden: `tailLines` and specific `stream` are mutually exclusive for now", ""},
		{"tailLines=x", "", "", `strconv.ParseInt: parsing "x": invalid syntax`},
		{"sinceTime=yesterday", "", "", `parsing time "yesterday"`},
	} {
		t.Run(tc.query, func(t *testing.T) {
			q, _ := url.ParseQuery(tc.query)
			o, err := parsePodLogOptions(q)
			if tc.parseErr != "" {
				if err == nil || !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), tc.parseErr) {
					t.Fatalf("parse error %v, want a BadRequest with %q", err, tc.parseErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			errs := validatePodLogOptions(o)
			if tc.errs != "" {
				if errs.ToAggregate() == nil || errs.ToAggregate().Error() != tc.errs {
					t.Fatalf("validation %v, want %q", errs.ToAggregate(), tc.errs)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatalf("unexpected validation errors %v", errs)
			}
			if got := kubeletLogQuery(o).Encode(); got != tc.kubelet {
				t.Errorf("kubelet query %q, want %q", got, tc.kubelet)
			}
		})
	}
}

func TestPodContainer(t *testing.T) {
	pod := func(containers ...string) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
		for _, c := range containers {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: c})
		}
		return p
	}
	withInit := pod("a", "b")
	withInit.Spec.InitContainers = []corev1.Container{{Name: "init"}}
	withInit.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug"}}}
	for _, tc := range []struct {
		name, container string
		pod             *corev1.Pod
		want, err       string
	}{
		{"only one", "", pod("app"), "app", ""},
		{"named", "b", pod("a", "b"), "b", ""},
		{"init", "init", withInit, "init", ""},
		{"ephemeral", "debug", withInit, "debug", ""},
		{"must choose", "", pod("a", "b"), "", "a container name must be specified for pod p, choose one of: [a b]"},
		{"must choose with init", "", withInit, "", "a container name must be specified for pod p, choose one of: [init a b debug]"},
		{"none", "", pod(), "", "a container name must be specified for pod p"},
		{"unknown", "c", pod("a"), "", "container c is not valid for pod p"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := podContainer(tc.pod, tc.container)
			if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && (err.Error() != tc.err || !apierrors.IsBadRequest(err))) {
				t.Errorf("got %q, %v; want %q, %q", got, err, tc.want, tc.err)
			}
		})
	}
}

const resourceMetricsText = `# HELP container_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the container in core-seconds
# TYPE container_cpu_usage_seconds_total counter
container_cpu_usage_seconds_total{container="app",namespace="ns",pod="web"} 12.5 1700000010000
container_cpu_usage_seconds_total{container="broken",namespace="ns",pod="half"} 1 1700000010000
# HELP container_memory_working_set_bytes [STABLE] Current working set of the container in bytes
# TYPE container_memory_working_set_bytes gauge
container_memory_working_set_bytes{container="app",namespace="ns",pod="web"} 1.048576e+06 1700000010000
container_memory_working_set_bytes{container="broken",namespace="ns",pod="half"} 0 1700000010000
# HELP container_start_time_seconds [STABLE] Start time of the container since unix epoch in seconds
# TYPE container_start_time_seconds gauge
container_start_time_seconds{container="app",namespace="ns",pod="web"} 1.6999e+09 1700000010000
# HELP node_cpu_usage_seconds_total [STABLE] Cumulative cpu time consumed by the node in core-seconds
# TYPE node_cpu_usage_seconds_total counter
node_cpu_usage_seconds_total 100 1700000010000
# HELP node_memory_working_set_bytes [STABLE] Current working set of the node in bytes
# TYPE node_memory_working_set_bytes gauge
node_memory_working_set_bytes 2e+09 1700000010000
# HELP scrape_error [ALPHA] 1 if there was an error while getting container metrics, 0 otherwise
# TYPE scrape_error gauge
scrape_error 0
`

func TestParseResourceMetrics(t *testing.T) {
	got, err := parseResourceMetrics(strings.NewReader(resourceMetricsText), time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	at := time.UnixMilli(1700000010000)
	if got.Node == nil || *got.Node != (metricPoint{Timestamp: at, CPU: 100e9, Memory: 2e9}) {
		t.Errorf("node = %+v", got.Node)
	}
	web := got.Pods[types.NamespacedName{Namespace: "ns", Name: "web"}]["app"]
	if want := (metricPoint{StartTime: time.Unix(1699900000, 0), Timestamp: at, CPU: 12.5e9, Memory: 1 << 20}); web != want {
		t.Errorf("web/app = %+v, want %+v", web, want)
	}
	if _, ok := got.Pods[types.NamespacedName{Namespace: "ns", Name: "half"}]; ok {
		t.Error("a pod with an incomplete container was kept")
	}
	if _, err := parseResourceMetrics(strings.NewReader("not metrics{"), time.Now()); err == nil {
		t.Error("garbage parsed")
	}
	empty, _ := parseResourceMetrics(strings.NewReader(""), time.Now())
	if empty.Node != nil || len(empty.Pods) != 0 {
		t.Errorf("empty scrape = %+v", empty)
	}
}

func TestMetricsHistory(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	resolution := 15 * time.Second
	start := t0.Add(-time.Hour)
	pod := types.NamespacedName{Namespace: "ns", Name: "web"}
	scrape := func(at time.Duration, nodeCPU float64, containers map[string]metricPoint) nodeScrape {
		s := nodeScrape{Node: &metricPoint{Timestamp: t0.Add(at), CPU: uint64(nodeCPU * 1e9), Memory: 100}, Pods: map[types.NamespacedName]map[string]metricPoint{}}
		if containers != nil {
			s.Pods[pod] = containers
		}
		return s
	}
	c := func(startAt time.Time, at time.Duration, cpu float64) metricPoint {
		return metricPoint{StartTime: startAt, Timestamp: t0.Add(at), CPU: uint64(cpu * 1e9), Memory: 42}
	}
	type want struct {
		nodeCPU   string // "" when there is no node usage
		window    time.Duration
		container string // cpu of container "app"; "" when none
	}
	for _, tc := range []struct {
		name    string
		scrapes []nodeScrape
		want    want
	}{
		{"one scrape has no rate", []nodeScrape{scrape(0, 10, map[string]metricPoint{"app": c(start, 0, 1)})}, want{}},
		{"two scrapes", []nodeScrape{
			scrape(0, 10, map[string]metricPoint{"app": c(start, 0, 1)}),
			scrape(10*time.Second, 15, map[string]metricPoint{"app": c(start, 10*time.Second, 3.5)}),
		}, want{"500m", 10 * time.Second, "250m"}},
		{"one second apart", []nodeScrape{
			scrape(0, 10, map[string]metricPoint{"app": c(start, 0, 1)}),
			scrape(time.Second, 10.5, map[string]metricPoint{"app": c(start, time.Second, 1.1)}),
		}, want{"500m", time.Second, "100m"}},
		{"same timestamp keeps the older point", []nodeScrape{
			scrape(0, 10, nil),
			scrape(10*time.Second, 12, nil),
			scrape(10*time.Second, 12, nil),
		}, want{"200m", 10 * time.Second, ""}},
		{"three scrapes use the last two", []nodeScrape{
			scrape(0, 10, nil),
			scrape(10*time.Second, 11, nil),
			scrape(20*time.Second, 14, nil),
		}, want{"300m", 10 * time.Second, ""}},
		{"counter went down", []nodeScrape{scrape(0, 10, nil), scrape(10*time.Second, 5, nil)}, want{}},
		{"restarted container has no rate", []nodeScrape{
			scrape(0, 10, map[string]metricPoint{"app": c(start, 0, 100)}),
			scrape(20*time.Second, 11, map[string]metricPoint{"app": c(t0.Add(5*time.Second), 20*time.Second, 2)}),
		}, want{"50m", 20 * time.Second, ""}},
		{"young container rates from its start", []nodeScrape{
			scrape(0, 10, map[string]metricPoint{"app": c(t0.Add(-12*time.Second), 0, 6)}),
		}, want{"", 0, "500m"}},
		{"too young container waits", []nodeScrape{
			scrape(0, 10, map[string]metricPoint{"app": c(t0.Add(-5*time.Second), 0, 6)}),
		}, want{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h metricsHistory
			for _, s := range tc.scrapes {
				h = h.add(s, resolution)
			}
			u, _, window, ok := h.nodeUsage()
			switch {
			case tc.want.nodeCPU == "" && ok:
				t.Errorf("node usage %v, want none", u)
			case tc.want.nodeCPU != "" && !ok:
				t.Errorf("no node usage, want %s", tc.want.nodeCPU)
			case ok && (u.Cpu().String() != tc.want.nodeCPU || window != tc.want.window || u.Memory().Value() != 100):
				t.Errorf("node usage %v over %v, want cpu %s over %v", u, window, tc.want.nodeCPU, tc.want.window)
			}
			cs, _, _, ok := h.containerUsage(pod)
			switch {
			case tc.want.container == "" && ok:
				t.Errorf("container usage %v, want none", cs)
			case tc.want.container != "" && (!ok || cpuOf(cs["app"]) != tc.want.container || memOf(cs["app"]) != 42):
				t.Errorf("container usage %v, want cpu %s", cs, tc.want.container)
			}
		})
	}
}

func cpuOf(l corev1.ResourceList) string { return l.Cpu().String() }
func memOf(l corev1.ResourceList) int64  { return l.Memory().Value() }
