package kubelet

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"
)

// /metrics/resource as upstream's resource metrics collector: the CPU and
// memory of the node, its pods and their containers, what metrics-server
// scrapes for `kubectl top`. Upstream's help texts carry the stability
// level as component-base prints it.
var (
	nodeCPUUsageDesc = prometheus.NewDesc("node_cpu_usage_seconds_total",
		"[STABLE] Cumulative cpu time consumed by the node in core-seconds", nil, nil)
	nodeMemoryUsageDesc = prometheus.NewDesc("node_memory_working_set_bytes",
		"[STABLE] Current working set of the node in bytes", nil, nil)
	containerCPUUsageDesc = prometheus.NewDesc("container_cpu_usage_seconds_total",
		"[STABLE] Cumulative cpu time consumed by the container in core-seconds", []string{"container", "pod", "namespace"}, nil)
	containerMemoryUsageDesc = prometheus.NewDesc("container_memory_working_set_bytes",
		"[STABLE] Current working set of the container in bytes", []string{"container", "pod", "namespace"}, nil)
	containerStartTimeDesc = prometheus.NewDesc("container_start_time_seconds",
		"[STABLE] Start time of the container since unix epoch in seconds", []string{"container", "pod", "namespace"}, nil)
	podCPUUsageDesc = prometheus.NewDesc("pod_cpu_usage_seconds_total",
		"[STABLE] Cumulative cpu time consumed by the pod in core-seconds", []string{"pod", "namespace"}, nil)
	podMemoryUsageDesc = prometheus.NewDesc("pod_memory_working_set_bytes",
		"[STABLE] Current working set of the pod in bytes", []string{"pod", "namespace"}, nil)
	scrapeErrorDesc = prometheus.NewDesc("scrape_error",
		"[ALPHA] (Deprecated since 1.29.0) 1 if there was an error while getting container metrics, 0 otherwise", nil, nil)
	resourceScrapeErrorDesc = prometheus.NewDesc("resource_scrape_error",
		"[STABLE] 1 if there was an error while getting container metrics, 0 otherwise", nil, nil)
)

// resourceCollector renders one Summary (or the error getting it) as the
// resource metrics. It is pure: the summary is read before collecting.
type resourceCollector struct {
	summary *statsapi.Summary
	err     error
}

func (c resourceCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{nodeCPUUsageDesc, nodeMemoryUsageDesc, containerStartTimeDesc, containerCPUUsageDesc,
		containerMemoryUsageDesc, podCPUUsageDesc, podMemoryUsageDesc, scrapeErrorDesc, resourceScrapeErrorDesc} {
		ch <- d
	}
}

func (c resourceCollector) Collect(ch chan<- prometheus.Metric) {
	errValue := 0.0
	if c.err != nil || c.summary == nil {
		errValue = 1
	}
	defer func() {
		ch <- prometheus.MustNewConstMetric(scrapeErrorDesc, prometheus.GaugeValue, errValue)
		ch <- prometheus.MustNewConstMetric(resourceScrapeErrorDesc, prometheus.GaugeValue, errValue)
	}()
	if errValue == 1 {
		return
	}
	s := c.summary
	at := func(t time.Time, m prometheus.Metric) prometheus.Metric {
		return prometheus.NewMetricWithTimestamp(t, m)
	}
	if cpu := s.Node.CPU; cpu != nil && cpu.UsageCoreNanoSeconds != nil {
		ch <- at(cpu.Time.Time, prometheus.MustNewConstMetric(nodeCPUUsageDesc, prometheus.CounterValue, seconds(*cpu.UsageCoreNanoSeconds)))
	}
	if mem := s.Node.Memory; mem != nil && mem.WorkingSetBytes != nil {
		ch <- at(mem.Time.Time, prometheus.MustNewConstMetric(nodeMemoryUsageDesc, prometheus.GaugeValue, float64(*mem.WorkingSetBytes)))
	}
	for _, p := range s.Pods {
		name, ns := p.PodRef.Name, p.PodRef.Namespace
		for _, ct := range p.Containers {
			if ct.StartTime.Unix() > 0 {
				ch <- prometheus.MustNewConstMetric(containerStartTimeDesc, prometheus.GaugeValue,
					float64(ct.StartTime.UnixNano())/float64(time.Second), ct.Name, name, ns)
			}
			if cpu := ct.CPU; cpu != nil && cpu.UsageCoreNanoSeconds != nil {
				ch <- at(cpu.Time.Time, prometheus.MustNewConstMetric(containerCPUUsageDesc, prometheus.CounterValue,
					seconds(*cpu.UsageCoreNanoSeconds), ct.Name, name, ns))
			}
			if mem := ct.Memory; mem != nil && mem.WorkingSetBytes != nil {
				ch <- at(mem.Time.Time, prometheus.MustNewConstMetric(containerMemoryUsageDesc, prometheus.GaugeValue,
					float64(*mem.WorkingSetBytes), ct.Name, name, ns))
			}
		}
		if cpu := p.CPU; cpu != nil && cpu.UsageCoreNanoSeconds != nil {
			ch <- at(cpu.Time.Time, prometheus.MustNewConstMetric(podCPUUsageDesc, prometheus.CounterValue, seconds(*cpu.UsageCoreNanoSeconds), name, ns))
		}
		if mem := p.Memory; mem != nil && mem.WorkingSetBytes != nil {
			ch <- at(mem.Time.Time, prometheus.MustNewConstMetric(podMemoryUsageDesc, prometheus.GaugeValue, float64(*mem.WorkingSetBytes), name, ns))
		}
	}
}

func seconds(ns uint64) float64 { return float64(ns) / float64(time.Second) }

// servePrometheus answers with the text exposition of collectors.
func servePrometheus(w http.ResponseWriter, r *http.Request, collectors ...prometheus.Collector) {
	reg := prometheus.NewPedanticRegistry()
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
}

func (k *Kubelet) serveResourceMetrics(w http.ResponseWriter, r *http.Request) {
	s, err := k.summary(r.Context())
	if err != nil {
		k.log.Warn("error getting summary for resourceMetric prometheus endpoint", "err", err)
	}
	servePrometheus(w, r, resourceCollector{summary: &s, err: err})
}

// Kubelet metrics on /metrics: a few of upstream's, cheap to compute at
// scrape time from the informer and the runtime.
var (
	nodeNameDesc = prometheus.NewDesc("kubelet_node_name",
		"[ALPHA] The node's name. The count is always 1.", []string{"node"}, nil)
	runningPodsDesc = prometheus.NewDesc("kubelet_running_pods",
		"[ALPHA] Number of pods that have a running pod sandbox", nil, nil)
	runningContainersDesc = prometheus.NewDesc("kubelet_running_containers",
		"[ALPHA] Number of containers currently running", []string{"container_state"}, nil)
)

// kubeletCollector is the /metrics collector; its values are read from
// the runtime when it is collected.
type kubeletCollector struct {
	node        string
	sandboxes   int
	containers  map[string]int // by upstream's container_state
	runtimeDown bool
}

func (c kubeletCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- nodeNameDesc
	ch <- runningPodsDesc
	ch <- runningContainersDesc
}

func (c kubeletCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(nodeNameDesc, prometheus.GaugeValue, 1, c.node)
	if c.runtimeDown {
		return
	}
	ch <- prometheus.MustNewConstMetric(runningPodsDesc, prometheus.GaugeValue, float64(c.sandboxes))
	for _, state := range []string{"created", "running", "exited", "unknown"} {
		ch <- prometheus.MustNewConstMetric(runningContainersDesc, prometheus.GaugeValue, float64(c.containers[state]), state)
	}
}

func (k *Kubelet) kubeletMetrics(ctx context.Context) kubeletCollector {
	c := kubeletCollector{node: k.cfg.NodeName, containers: map[string]int{}}
	sbs, err := k.cfg.Runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{State: &runtimeapi.PodSandboxStateValue{State: runtimeapi.PodSandboxState_SANDBOX_READY}})
	cs, err2 := k.cfg.Runtime.ListContainers(ctx, nil)
	if err != nil || err2 != nil {
		c.runtimeDown = true
		return c
	}
	c.sandboxes = len(sbs)
	for _, ct := range cs {
		switch ct.State {
		case runtimeapi.ContainerState_CONTAINER_CREATED:
			c.containers["created"]++
		case runtimeapi.ContainerState_CONTAINER_RUNNING:
			c.containers["running"]++
		case runtimeapi.ContainerState_CONTAINER_EXITED:
			c.containers["exited"]++
		default:
			c.containers["unknown"]++
		}
	}
	return c
}

func (k *Kubelet) serveMetrics(w http.ResponseWriter, r *http.Request) {
	servePrometheus(w, r, k.kubeletMetrics(r.Context()))
}
