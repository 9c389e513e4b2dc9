package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
)

// metricsGroup is served by the API server itself instead of an
// aggregated metrics-server: `kubectl top` finds it in discovery.
const metricsGroup = "metrics.k8s.io"

// metricsResources are NodeMetrics and PodMetrics, with metrics-server's
// names and verbs.
func metricsResources() []*resource {
	readOnly := []string{"get", "list"}
	return []*resource{
		{GVK: gvk(metricsGroup, "v1beta1", "NodeMetrics"), Plural: "nodes", Singular: "node", Verbs: readOnly,
			New: func() runtime.Object { return &metricsv1beta1.NodeMetrics{} }, NewList: func() runtime.Object { return &metricsv1beta1.NodeMetricsList{} }},
		{GVK: gvk(metricsGroup, "v1beta1", "PodMetrics"), Plural: "pods", Namespaced: true, Verbs: readOnly,
			New: func() runtime.Object { return &metricsv1beta1.PodMetrics{} }, NewList: func() runtime.Object { return &metricsv1beta1.PodMetricsList{} }},
	}
}

// kubeletMetrics scrapes kubelets' /metrics/resource on demand and keeps
// each node's last two scrapes. A scrape younger than the resolution is
// reused; an older one is refreshed before answering, and a node seen for
// the first time is scraped twice in quick succession so that it has a
// rate at once.
type kubeletMetrics struct {
	s          *Server
	resolution time.Duration
	// firstRateGap is the pause between a new node's two first scrapes.
	firstRateGap time.Duration

	mu    sync.Mutex
	nodes map[string]*nodeMetricsState
}

type nodeMetricsState struct {
	mu      sync.Mutex // held while scraping, so one scrape runs per node
	history metricsHistory
	scraped time.Time // on the server's clock; zero when never
	// failed is when the last scrape failed: the node is left out until
	// the resolution has passed, instead of every request waiting on it.
	failed time.Time
}

func newKubeletMetrics(s *Server) *kubeletMetrics {
	return &kubeletMetrics{s: s, resolution: s.cfg.MetricsResolution, firstRateGap: time.Second, nodes: map[string]*nodeMetricsState{}}
}

func (k *kubeletMetrics) state(node string) *nodeMetricsState {
	k.mu.Lock()
	defer k.mu.Unlock()
	st := k.nodes[node]
	if st == nil {
		st = &nodeMetricsState{}
		k.nodes[node] = st
	}
	return st
}

// histories returns a fresh history for each node, scraping those that
// need it in parallel. Unreachable kubelets are left out, as
// metrics-server leaves them out.
func (k *kubeletMetrics) histories(ctx context.Context, nodes []*corev1.Node) map[string]metricsHistory {
	out := map[string]metricsHistory{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if h, ok := k.refresh(ctx, n); ok {
				mu.Lock()
				out[n.Name] = h
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

func (k *kubeletMetrics) refresh(ctx context.Context, node *corev1.Node) (metricsHistory, bool) {
	st := k.state(node.Name)
	st.mu.Lock()
	defer st.mu.Unlock()
	now := k.s.cfg.Clock.Now()
	if !st.scraped.IsZero() && now.Sub(st.scraped) < k.resolution {
		return st.history, true
	}
	if !st.failed.IsZero() && now.Sub(st.failed) < k.resolution {
		return metricsHistory{}, false
	}
	// A scrape far older than the resolution would give a rate over a long
	// window: it is dropped, and two quick scrapes give a current rate.
	recent := !st.scraped.IsZero() && now.Sub(st.scraped) <= 4*k.resolution
	if !recent {
		st.history = metricsHistory{}
	}
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return st.history, false
			case <-time.After(k.firstRateGap):
			}
		}
		sc, err := k.scrape(ctx, node)
		if err != nil {
			k.s.cfg.Logger.Info("scraping kubelet metrics failed", "node", node.Name, "err", err)
			st.failed = k.s.cfg.Clock.Now()
			return metricsHistory{}, false
		}
		st.failed = time.Time{}
		st.history = st.history.add(sc, k.resolution)
		st.scraped = k.s.cfg.Clock.Now()
		if _, _, _, ok := st.history.nodeUsage(); ok || recent {
			break
		}
	}
	return st.history, true
}

func (k *kubeletMetrics) scrape(ctx context.Context, node *corev1.Node) (nodeScrape, error) {
	hostPort, err := kubeletHostPort(node, k.s.kubelets.addressTypes, k.s.kubelets.defaultPort)
	if err != nil {
		return nodeScrape{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+hostPort+"/metrics/resource", nil)
	if err != nil {
		return nodeScrape{}, err
	}
	start := time.Now()
	resp, err := (&http.Client{Transport: k.s.kubelets.transport}).Do(req)
	if err != nil {
		return nodeScrape{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nodeScrape{}, fmt.Errorf("request failed, status: %q", resp.Status)
	}
	return parseResourceMetrics(resp.Body, start)
}

// serveMetrics answers metrics.k8s.io: get and list of nodes and pods.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) error {
	if res.Namespaced && info.Namespace == "" && info.Verb != "list" {
		return notFoundPath()
	}
	if len(info.Parts) > 2 {
		return notFoundPath()
	}
	if info.Verb != "get" && info.Verb != "list" {
		return apierrors.NewMethodNotSupported(res.GroupResource(), info.Verb)
	}
	out, err := negotiate(r)
	if err != nil {
		return err
	}
	var items []runtime.Object
	if res.Plural == "nodes" {
		items, err = s.nodeMetrics(r, info)
	} else {
		items, err = s.podMetrics(r, info)
	}
	if err != nil {
		return err
	}
	if info.Verb == "get" {
		if len(items) == 0 {
			name := info.Name
			if res.Namespaced {
				name = info.Namespace + "/" + info.Name
			}
			// metrics-server names the kind in its errors: podmetrics.metrics.k8s.io.
			return apierrors.NewNotFound(schema.GroupResource{Group: metricsGroup, Resource: strings.ToLower(res.GVK.Kind)}, name)
		}
		if out.table {
			writeJSON(w, http.StatusOK, metricsTable(items))
			return nil
		}
		writeJSON(w, http.StatusOK, items[0])
		return nil
	}
	if out.table {
		writeJSON(w, http.StatusOK, metricsTable(items))
		return nil
	}
	if res.Plural == "nodes" {
		list := &metricsv1beta1.NodeMetricsList{TypeMeta: metav1.TypeMeta{Kind: "NodeMetricsList", APIVersion: "metrics.k8s.io/v1beta1"}, Items: []metricsv1beta1.NodeMetrics{}}
		for _, o := range items {
			list.Items = append(list.Items, *o.(*metricsv1beta1.NodeMetrics))
		}
		writeJSON(w, http.StatusOK, list)
		return nil
	}
	list := &metricsv1beta1.PodMetricsList{TypeMeta: metav1.TypeMeta{Kind: "PodMetricsList", APIVersion: "metrics.k8s.io/v1beta1"}, Items: []metricsv1beta1.PodMetrics{}}
	for _, o := range items {
		list.Items = append(list.Items, *o.(*metricsv1beta1.PodMetrics))
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// listFor lists the objects of res a metrics request covers: the named
// one, or those its selectors pick.
func (s *Server) listFor(r *http.Request, res *resource, info *requestInfo) ([]runtime.Object, error) {
	if info.Verb == "get" {
		obj, _, err := s.getObject(r.Context(), res, info.Namespace, info.Name)
		if err != nil {
			return nil, err
		}
		return []runtime.Object{obj}, nil
	}
	q, err := parseListQuery(r, res)
	if err != nil {
		return nil, err
	}
	q.limit, q.cont, q.rv, q.rvMatch = 0, "", "", ""
	page, err := s.listPage(r.Context(), res, info.Namespace, q, true)
	if err != nil {
		return nil, err
	}
	return page.objects, nil
}

func (s *Server) nodeMetrics(r *http.Request, info *requestInfo) ([]runtime.Object, error) {
	objs, err := s.listFor(r, s.resources.lookup("", "v1", "nodes"), info)
	if err != nil {
		return nil, err
	}
	var nodes []*corev1.Node
	for _, o := range objs {
		nodes = append(nodes, o.(*corev1.Node))
	}
	hs := s.kubeletMetrics.histories(r.Context(), nodes)
	now := metav1.NewTime(s.cfg.Clock.Now())
	var out []runtime.Object
	for _, n := range nodes {
		u, ts, window, ok := hs[n.Name].nodeUsage()
		if !ok {
			continue
		}
		out = append(out, &metricsv1beta1.NodeMetrics{
			TypeMeta:   metav1.TypeMeta{Kind: "NodeMetrics", APIVersion: "metrics.k8s.io/v1beta1"},
			ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: n.Labels, CreationTimestamp: now},
			Timestamp:  metav1.NewTime(ts), Window: metav1.Duration{Duration: window}, Usage: u,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].(*metricsv1beta1.NodeMetrics).Name < out[j].(*metricsv1beta1.NodeMetrics).Name
	})
	return out, nil
}

func (s *Server) podMetrics(r *http.Request, info *requestInfo) ([]runtime.Object, error) {
	objs, err := s.listFor(r, s.resources.lookup("", "v1", "pods"), info)
	if err != nil {
		return nil, err
	}
	// metrics-server watches running pods only.
	var pods []*corev1.Pod
	nodeNames := map[string]bool{}
	for _, o := range objs {
		p := o.(*corev1.Pod)
		if p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "" {
			pods = append(pods, p)
			nodeNames[p.Spec.NodeName] = true
		}
	}
	nodesRes := s.resources.lookup("", "v1", "nodes")
	var nodes []*corev1.Node
	for name := range nodeNames {
		obj, _, err := s.getObject(r.Context(), nodesRes, "", name)
		if err != nil {
			continue
		}
		nodes = append(nodes, obj.(*corev1.Node))
	}
	hs := s.kubeletMetrics.histories(r.Context(), nodes)
	now := metav1.NewTime(s.cfg.Clock.Now())
	var out []runtime.Object
	for _, p := range pods {
		h, ok := hs[p.Spec.NodeName]
		if !ok {
			continue
		}
		usages, ts, window, ok := h.containerUsage(types.NamespacedName{Namespace: p.Namespace, Name: p.Name})
		if !ok {
			continue
		}
		pm := &metricsv1beta1.PodMetrics{
			TypeMeta:   metav1.TypeMeta{Kind: "PodMetrics", APIVersion: "metrics.k8s.io/v1beta1"},
			ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels, CreationTimestamp: now},
			Timestamp:  metav1.NewTime(ts), Window: metav1.Duration{Duration: window},
			Containers: []metricsv1beta1.ContainerMetrics{},
		}
		for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
			if u, ok := usages[c.Name]; ok {
				pm.Containers = append(pm.Containers, metricsv1beta1.ContainerMetrics{Name: c.Name, Usage: u})
			}
		}
		out = append(out, pm)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].(*metricsv1beta1.PodMetrics), out[j].(*metricsv1beta1.PodMetrics)
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return out, nil
}

// metricsTable is metrics-server's Table: name, each resource, window.
func metricsTable(items []runtime.Object) *metav1.Table {
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
		ColumnDefinitions: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name", Description: "Name of the resource"},
			{Name: "cpu", Type: "string", Format: "quantity"},
			{Name: "memory", Type: "string", Format: "quantity"},
			{Name: "Window", Type: "string", Format: "duration"},
		}, Rows: []metav1.TableRow{}}
	for _, o := range items {
		var name string
		var window time.Duration
		usage := corev1.ResourceList{}
		switch m := o.(type) {
		case *metricsv1beta1.NodeMetrics:
			name, window, usage = m.Name, m.Window.Duration, m.Usage
		case *metricsv1beta1.PodMetrics:
			name, window = m.Name, m.Window.Duration
			for _, c := range m.Containers {
				for k, v := range c.Usage {
					sum := usage[k]
					sum.Add(v)
					usage[k] = sum
				}
			}
		}
		cpu, mem := usage[corev1.ResourceCPU], usage[corev1.ResourceMemory]
		t.Rows = append(t.Rows, metav1.TableRow{Cells: []any{name, cpu.String(), mem.String(), window.String()},
			Object: runtime.RawExtension{Object: o}})
	}
	return t
}
