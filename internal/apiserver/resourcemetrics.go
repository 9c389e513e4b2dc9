package apiserver

import (
	"fmt"
	"io"
	"math"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/types"
)

// This file is the pure half of metrics.k8s.io, as metrics-server computes
// it: a kubelet's /metrics/resource scrape becomes cumulative points, two
// scrapes of the same node become usage (cpu as the rate of the cumulative
// counter between them, memory as the last working set).

// metricPoint is one container's or node's sample.
type metricPoint struct {
	// StartTime is when the container started (zero for nodes): a
	// different start time means a restart, and the counter began anew.
	StartTime time.Time
	// Timestamp is when the sample was taken.
	Timestamp time.Time
	// CPU is the cumulative cpu time in nanoseconds.
	CPU uint64
	// Memory is the working set in bytes.
	Memory uint64
}

// nodeScrape is what one scrape of one kubelet says.
type nodeScrape struct {
	// Node is nil when the node's own metrics were incomplete.
	Node *metricPoint
	// Pods maps each pod to its containers' points; a pod with an
	// incomplete container is left out, as metrics-server does.
	Pods map[types.NamespacedName]map[string]metricPoint
}

// parseResourceMetrics reads the kubelet's /metrics/resource text.
// Samples without a timestamp take scrapeTime.
func parseResourceMetrics(r io.Reader, scrapeTime time.Time) (nodeScrape, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(r)
	if err != nil {
		return nodeScrape{}, fmt.Errorf("failed parsing metrics: %w", err)
	}
	at := func(m *dto.Metric) time.Time {
		if m.TimestampMs != nil {
			return time.UnixMilli(m.GetTimestampMs())
		}
		return scrapeTime
	}
	value := func(m *dto.Metric) float64 {
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
		return 0
	}
	var node metricPoint
	for _, m := range families["node_cpu_usage_seconds_total"].GetMetric() {
		node.CPU, node.Timestamp = uint64(value(m)*1e9), at(m)
	}
	for _, m := range families["node_memory_working_set_bytes"].GetMetric() {
		node.Memory, node.Timestamp = uint64(value(m)), at(m)
	}
	out := nodeScrape{Pods: map[types.NamespacedName]map[string]metricPoint{}}
	if !node.Timestamp.IsZero() && node.CPU != 0 && node.Memory != 0 {
		out.Node = &node
	}
	containers := map[types.NamespacedName]map[string]metricPoint{}
	update := func(family string, set func(p *metricPoint, m *dto.Metric)) {
		for _, m := range families[family].GetMetric() {
			var ns, pod, container string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "namespace":
					ns = l.GetValue()
				case "pod":
					pod = l.GetValue()
				case "container":
					container = l.GetValue()
				}
			}
			key := types.NamespacedName{Namespace: ns, Name: pod}
			if containers[key] == nil {
				containers[key] = map[string]metricPoint{}
			}
			p := containers[key][container]
			set(&p, m)
			containers[key][container] = p
		}
	}
	update("container_cpu_usage_seconds_total", func(p *metricPoint, m *dto.Metric) { p.CPU, p.Timestamp = uint64(value(m)*1e9), at(m) })
	update("container_memory_working_set_bytes", func(p *metricPoint, m *dto.Metric) { p.Memory, p.Timestamp = uint64(value(m)), at(m) })
	update("container_start_time_seconds", func(p *metricPoint, m *dto.Metric) { p.StartTime = time.Unix(0, int64(value(m)*1e9)) })
	for key, cs := range containers {
		complete := true
		for _, p := range cs {
			if p.CPU == 0 || p.Memory == 0 || p.Timestamp.IsZero() {
				complete = false
			}
		}
		if complete && len(cs) > 0 {
			out.Pods[key] = cs
		}
	}
	return out, nil
}

// freshContainerMinAge is how old a container must be before its start is
// used as the first point of its rate (younger ones give noisy rates).
const freshContainerMinAge = 10 * time.Second

// metricsHistory keeps, per node, the last scrape and for each point the
// newest earlier point of the same run, the other end of its rate.
type metricsHistory struct {
	last, prev nodeScrape
}

// earlierPoint picks the previous point for next among the last and the
// previous stored ones: the newest that is older than next and from the
// same run (no restart in between).
func earlierPoint(next metricPoint, last, prev *metricPoint) *metricPoint {
	for _, cand := range []*metricPoint{last, prev} {
		// A run that started after cand was taken is a restart.
		if cand != nil && next.StartTime.Before(cand.Timestamp) && cand.Timestamp.Before(next.Timestamp) {
			return cand
		}
	}
	return nil
}

// add records a new scrape. resolution is the scrape period: a container
// younger than it (but at least freshContainerMinAge old) uses its start
// as the previous point, so it gets a rate from its first scrape.
func (h metricsHistory) add(next nodeScrape, resolution time.Duration) metricsHistory {
	out := metricsHistory{last: next, prev: nodeScrape{Pods: map[types.NamespacedName]map[string]metricPoint{}}}
	if next.Node != nil {
		if p := earlierPoint(*next.Node, h.last.Node, h.prev.Node); p != nil {
			cp := *p
			out.prev.Node = &cp
		}
	}
	for key, cs := range next.Pods {
		prev := map[string]metricPoint{}
		for name, c := range cs {
			age := c.Timestamp.Sub(c.StartTime)
			if !c.StartTime.IsZero() && age < resolution && age >= freshContainerMinAge {
				prev[name] = metricPoint{StartTime: c.StartTime, Timestamp: c.StartTime}
				continue
			}
			var last, before *metricPoint
			if p, ok := h.last.Pods[key][name]; ok {
				last = &p
			}
			if p, ok := h.prev.Pods[key][name]; ok {
				before = &p
			}
			if p := earlierPoint(c, last, before); p != nil {
				prev[name] = *p
			}
		}
		if len(prev) > 0 {
			out.prev.Pods[key] = prev
		}
	}
	return out
}

// usage is the usage between two points of one run: cpu in nanocores as
// the counter's rate, memory as the last working set, and the window the
// rate covers.
func usage(last, prev metricPoint) (corev1.ResourceList, time.Duration, error) {
	if last.CPU < prev.CPU {
		return nil, 0, fmt.Errorf("unexpected decrease in cumulative CPU usage value")
	}
	window := last.Timestamp.Sub(prev.Timestamp)
	if window <= 0 {
		return nil, 0, fmt.Errorf("no time between the two points")
	}
	rate := float64(last.CPU-prev.CPU) / window.Seconds()
	return corev1.ResourceList{
		corev1.ResourceCPU:    uint64Quantity(uint64(rate), apiresource.DecimalSI, -9),
		corev1.ResourceMemory: uint64Quantity(last.Memory, apiresource.BinarySI, 0),
	}, window, nil
}

// uint64Quantity is a Quantity of a uint64, losing a digit of precision
// past MaxInt64 as metrics-server does.
func uint64Quantity(v uint64, format apiresource.Format, scale apiresource.Scale) apiresource.Quantity {
	q := *apiresource.NewScaledQuantity(int64(v), scale)
	if v > math.MaxInt64 {
		q = *apiresource.NewScaledQuantity(int64(v/10), scale+1)
	}
	q.Format = format
	return q
}

// nodeUsage is the node's usage, when two usable points exist.
func (h metricsHistory) nodeUsage() (corev1.ResourceList, time.Time, time.Duration, bool) {
	if h.last.Node == nil || h.prev.Node == nil {
		return nil, time.Time{}, 0, false
	}
	u, window, err := usage(*h.last.Node, *h.prev.Node)
	if err != nil {
		return nil, time.Time{}, 0, false
	}
	return u, h.last.Node.Timestamp, window, true
}

// containerUsage is the usage of each container of a pod that has two
// usable points, with the earliest timestamp and its window, as
// metrics-server reports pods.
func (h metricsHistory) containerUsage(pod types.NamespacedName) (map[string]corev1.ResourceList, time.Time, time.Duration, bool) {
	last, prev := h.last.Pods[pod], h.prev.Pods[pod]
	if len(last) == 0 || len(prev) == 0 {
		return nil, time.Time{}, 0, false
	}
	out := map[string]corev1.ResourceList{}
	var ts time.Time
	var window time.Duration
	for name, l := range last {
		p, ok := prev[name]
		if !ok {
			continue
		}
		u, w, err := usage(l, p)
		if err != nil {
			continue
		}
		out[name] = u
		if ts.IsZero() || l.Timestamp.Before(ts) {
			ts, window = l.Timestamp, w
		}
	}
	if len(out) == 0 {
		return nil, time.Time{}, 0, false
	}
	return out, ts, window, true
}
