// Package podautoscaler is the horizontal pod autoscaler: it scales the
// targets of autoscaling/v2 HorizontalPodAutoscalers through their
// /scale subresource from the pods' resource usage in the resource
// metrics API (metrics.k8s.io).
package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Name is the controller's canonical name in --controllers (upstream's);
// Alias is its older name, accepted too.
const (
	Name  = "horizontal-pod-autoscaler-controller"
	Alias = "horizontalpodautoscaling"
)

// Upstream's event source and reasons.
const (
	EventSource                = "horizontal-pod-autoscaler"
	ReasonSuccessfulRescale    = "SuccessfulRescale"
	ReasonFailedRescale        = "FailedRescale"
	ReasonFailedGetScale       = "FailedGetScale"
	ReasonFailedGetResource    = "FailedGetResourceMetric"
	ReasonFailedComputeMetrics = "FailedComputeMetricsReplicas"
	ReasonSelectorRequired     = "SelectorRequired"
	ReasonInvalidSelector      = "InvalidSelector"
	ReasonFailedUpdateStatus   = "FailedUpdateStatus"
)

var podMetricsResource = metricsv1beta1.SchemeGroupVersion.WithResource("pods")

// Controller is the horizontal pod autoscaler.
type Controller struct {
	hpaLister autoscalinglisters.HorizontalPodAutoscalerLister
	podLister corelisters.PodLister
	hpas      hpaClient
	dynamic   dynamic.Interface
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	recorder  record.EventRecorder
	clock     clock.PassiveClock
	period    time.Duration
	queue     *controller.Queue

	mu      sync.Mutex
	history map[string]*History
}

// hpaClient writes autoscalers' status.
type hpaClient interface {
	UpdateStatus(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler) error
}

// New builds the controller on the manager's informers.
func New(c controller.Context) (controller.Runner, error) { return newController(c) }

func newController(c controller.Context) (*Controller, error) {
	hpaInf := c.Informers.Autoscaling().V2().HorizontalPodAutoscalers()
	podInf := c.Informers.Core().V1().Pods()
	var clk clock.PassiveClock = clock.RealClock{}
	if c.Clock != nil {
		clk = c.Clock
	}
	period := c.HPASyncPeriod
	if period <= 0 {
		period = DefaultSyncPeriod
	}
	hc := &Controller{
		hpaLister: hpaInf.Lister(),
		podLister: podInf.Lister(),
		hpas:      statusWriter{c},
		dynamic:   c.Dynamic,
		mapper:    restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.Client.Discovery())),
		recorder:  c.Recorder(EventSource),
		clock:     clk,
		period:    period,
		history:   map[string]*History{},
	}
	q, err := controller.New(controller.Config{Name: Name, Sync: hc.sync, Logger: c.Logger, Clock: c.Clock})
	if err != nil {
		return nil, err
	}
	hc.queue = q
	// Every autoscaler is looked at once per period, however often it
	// changes (upstream's fixed-interval queue): its own status writes
	// must not make it sync again at once.
	later := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			q.AddAfter(key, period)
		}
	}
	if _, err := hpaInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    later,
		UpdateFunc: func(_, cur any) { later(cur) },
		DeleteFunc: q.Enqueue,
	}); err != nil {
		return nil, err
	}
	// The pod lister must be synced before the first sync.
	podInf.Informer()
	return hc, nil
}

type statusWriter struct{ c controller.Context }

func (w statusWriter) UpdateStatus(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler) error {
	_, err := w.c.Client.AutoscalingV2().HorizontalPodAutoscalers(hpa.Namespace).UpdateStatus(ctx, hpa, metav1.UpdateOptions{})
	return err
}

// Run syncs autoscalers with workers goroutines until ctx ends.
func (hc *Controller) Run(ctx context.Context, workers int) { hc.queue.Run(ctx, workers) }

// ShutDown stops the controller's queue for good.
func (hc *Controller) ShutDown() { hc.queue.ShutDown() }

// sync reconciles one autoscaler and asks to see it again after the
// sync period, whatever happened (upstream retries failures at the same
// pace, not faster).
func (hc *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return controller.Permanent(err)
	}
	cached, err := hc.hpaLister.HorizontalPodAutoscalers(ns).Get(name)
	if apierrors.IsNotFound(err) {
		hc.mu.Lock()
		delete(hc.history, key)
		hc.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	if err := hc.reconcile(ctx, key, cached.DeepCopy()); err != nil {
		hc.queue.Logger().Info("autoscaling failed", "hpa", key, "err", err)
	}
	return controller.RequeueAfter(hc.period)
}

func (hc *Controller) reconcile(ctx context.Context, key string, hpa *autoscalingv2.HorizontalPodAutoscaler) error {
	original := hpa.Status.DeepCopy()
	now := hc.clock.Now()
	cond := func(t autoscalingv2.HorizontalPodAutoscalerConditionType, s v1.ConditionStatus, reason, format string, args ...any) {
		hpa.Status.Conditions = SetCondition(hpa.Status.Conditions, t, s, reason, fmt.Sprintf(format, args...), now)
	}
	ref := hpa.Spec.ScaleTargetRef
	reference := fmt.Sprintf("%s/%s/%s", ref.Kind, hpa.Namespace, ref.Name)
	scale, gvr, err := hc.getScale(ctx, hpa)
	if err != nil {
		hc.recorder.Event(hpa, v1.EventTypeWarning, ReasonFailedGetScale, err.Error())
		cond(autoscalingv2.AbleToScale, v1.ConditionFalse, ReasonFailedGetScale, "the HPA controller was unable to get the target's current scale: %v", err)
		return errors.Join(fmt.Errorf("failed to query scale subresource for %s: %w", reference, err), hc.writeStatus(ctx, original, hpa))
	}
	cond(autoscalingv2.AbleToScale, v1.ConditionTrue, "SucceededGetScale", "the HPA controller was able to get the target's current scale")
	current := scale.Spec.Replicas
	hc.mu.Lock()
	h := hc.history[key]
	if h == nil {
		h = &History{Recommendations: []Recommendation{{Replicas: current, At: now}}}
		hc.history[key] = h
	}
	hc.mu.Unlock()

	minReplicas := int32(1)
	if hpa.Spec.MinReplicas != nil {
		minReplicas = *hpa.Spec.MinReplicas
	}
	var (
		desired  int32
		reason   string
		statuses []autoscalingv2.MetricStatus
		retErr   error
	)
	rescale := true
	switch {
	case current == 0 && minReplicas != 0:
		rescale = false
		cond(autoscalingv2.ScalingActive, v1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
	case current > hpa.Spec.MaxReplicas:
		reason, desired = "Current number of replicas above Spec.MaxReplicas", hpa.Spec.MaxReplicas
	case current < minReplicas:
		reason, desired = "Current number of replicas below Spec.MinReplicas", minReplicas
	default:
		if len(hpa.Spec.Metrics) == 0 {
			// The API server's default, should an object lack it.
			hpa.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: v1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](80)}}}}
		}
		proposal, metric, st, err := hc.replicasForMetrics(ctx, hpa, scale, now, cond)
		statuses = st
		if err != nil && proposal == -1 {
			hpa.Status.CurrentReplicas, hpa.Status.CurrentMetrics = current, statuses
			hc.recorder.Event(hpa, v1.EventTypeWarning, ReasonFailedComputeMetrics, err.Error())
			return errors.Join(fmt.Errorf("failed to compute desired number of replicas based on listed metrics for %s: %w", reference, err),
				hc.writeStatus(ctx, original, hpa))
		}
		retErr = err
		desired = max(proposal, 0)
		if desired > current {
			reason = fmt.Sprintf("%s above target", metric)
		} else if desired < current {
			reason = "All metrics below target"
		}
		hc.mu.Lock()
		v := Normalize(hpa, h, current, desired, minReplicas, now)
		hc.mu.Unlock()
		cond(autoscalingv2.AbleToScale, v1.ConditionTrue, v.AbleReason, "%s", v.AbleMessage)
		limited := v1.ConditionFalse
		if v.Limited {
			limited = v1.ConditionTrue
		}
		cond(autoscalingv2.ScalingLimited, limited, v.LimitedReason, "%s", v.LimitMessage)
		desired = v.Replicas
		rescale = desired != current
	}

	if rescale {
		if err := hc.updateScale(ctx, hpa.Namespace, gvr, scale, desired); err != nil {
			hc.recorder.Eventf(hpa, v1.EventTypeWarning, ReasonFailedRescale, "New size: %d; reason: %s; error: %v", desired, reason, err.Error())
			cond(autoscalingv2.AbleToScale, v1.ConditionFalse, "FailedUpdateScale", "the HPA controller was unable to update the target scale: %v", err)
			hpa.Status.CurrentReplicas, hpa.Status.CurrentMetrics = current, statuses
			return errors.Join(fmt.Errorf("failed to rescale %s: %w", reference, err), hc.writeStatus(ctx, original, hpa))
		}
		cond(autoscalingv2.AbleToScale, v1.ConditionTrue, "SucceededRescale", "the HPA controller was able to update the target scale to %d", desired)
		hc.recorder.Eventf(hpa, v1.EventTypeNormal, ReasonSuccessfulRescale, "New size: %d; reason: %s", desired, reason)
		hc.mu.Lock()
		RecordScale(hpa, h, current, desired, now)
		hc.mu.Unlock()
		hc.queue.Logger().Info("rescaled", "hpa", key, "target", reference, "from", current, "to", desired, "reason", reason)
	} else {
		desired = current
	}
	hpa.Status.CurrentReplicas, hpa.Status.DesiredReplicas, hpa.Status.CurrentMetrics = current, desired, statuses
	if rescale {
		t := metav1.NewTime(now)
		hpa.Status.LastScaleTime = &t
	}
	return errors.Join(retErr, hc.writeStatus(ctx, original, hpa))
}

// replicasForMetrics proposes the largest replica count of the
// autoscaler's metrics; -1 with an error when none (or, on a
// scale-down, not all) could be computed.
func (hc *Controller) replicasForMetrics(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler, scale *autoscalingv1.Scale, now time.Time,
	cond func(autoscalingv2.HorizontalPodAutoscalerConditionType, v1.ConditionStatus, string, string, ...any)) (int32, string, []autoscalingv2.MetricStatus, error) {
	if scale.Status.Selector == "" {
		hc.recorder.Event(hpa, v1.EventTypeWarning, ReasonSelectorRequired, "selector is required")
		cond(autoscalingv2.ScalingActive, v1.ConditionFalse, ReasonInvalidSelector, "the HPA target's scale is missing a selector")
		return -1, "", nil, errors.New("selector is required")
	}
	sel, err := labels.Parse(scale.Status.Selector)
	if err != nil {
		msg := fmt.Sprintf("couldn't convert selector into a corresponding internal selector object: %v", err)
		hc.recorder.Event(hpa, v1.EventTypeWarning, ReasonInvalidSelector, msg)
		cond(autoscalingv2.ScalingActive, v1.ConditionFalse, ReasonInvalidSelector, "%s", msg)
		return -1, "", nil, errors.New(msg)
	}
	statuses := make([]autoscalingv2.MetricStatus, len(hpa.Spec.Metrics))
	var (
		replicas        int32
		metric          string
		invalid         int
		firstErr        error
		firstConditionR string
		firstConditionM string
	)
	for i, spec := range hpa.Spec.Metrics {
		proposal, name, reason, err := hc.replicasForMetric(ctx, hpa, spec, scale.Spec.Replicas, sel, now, &statuses[i])
		if err != nil {
			if invalid == 0 {
				firstErr, firstConditionR = err, reason
				firstConditionM = fmt.Sprintf("the HPA was unable to compute the replica count: %v", err)
				hc.recorder.Event(hpa, v1.EventTypeWarning, reason, err.Error())
			}
			invalid++
			continue
		}
		if replicas == 0 || proposal > replicas {
			replicas, metric = proposal, name
		}
	}
	if firstErr != nil {
		firstErr = fmt.Errorf("invalid metrics (%v invalid out of %v), first error is: %w", invalid, len(hpa.Spec.Metrics), firstErr)
	}
	if invalid >= len(hpa.Spec.Metrics) || (invalid > 0 && replicas < scale.Spec.Replicas) {
		cond(autoscalingv2.ScalingActive, v1.ConditionFalse, firstConditionR, "%s", firstConditionM)
		return -1, "", statuses, firstErr
	}
	cond(autoscalingv2.ScalingActive, v1.ConditionTrue, "ValidMetricFound", "the HPA was able to successfully calculate a replica count from %s", metric)
	return replicas, metric, statuses, firstErr
}

// replicasForMetric proposes a replica count for one metric and fills
// its status; on error it also returns the condition reason.
func (hc *Controller) replicasForMetric(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler, spec autoscalingv2.MetricSpec, current int32,
	sel labels.Selector, now time.Time, status *autoscalingv2.MetricStatus) (int32, string, string, error) {
	if spec.Type != autoscalingv2.ResourceMetricSourceType || spec.Resource == nil {
		return 0, "", fmt.Sprintf("FailedGet%sMetric", spec.Type),
			fmt.Errorf("unable to get metric of type %q: only Resource metrics (metrics.k8s.io) are served", spec.Type)
	}
	src := spec.Resource
	in := ResourceInput{CurrentReplicas: current, Resource: src.Name, Now: now}
	switch {
	case src.Target.AverageValue != nil:
		in.TargetAverage = src.Target.AverageValue.MilliValue()
	case src.Target.AverageUtilization != nil:
		in.TargetUtilization = src.Target.AverageUtilization
	default:
		return 0, "", ReasonFailedGetResource, errors.New("invalid resource metric source: neither an average utilization target nor an average value (usage) target was set")
	}
	what := "utilization"
	if in.TargetUtilization == nil {
		what = "usage"
	}
	metrics, err := hc.podMetrics(ctx, hpa.Namespace, sel, src.Name)
	if err != nil {
		return 0, "", ReasonFailedGetResource, fmt.Errorf("failed to get %s %s: unable to get metrics for resource %s: %w", src.Name, what, src.Name, err)
	}
	pods, err := hc.podLister.Pods(hpa.Namespace).List(sel)
	if err != nil {
		return 0, "", ReasonFailedGetResource, err
	}
	in.Pods, in.Metrics = pods, metrics
	res, err := ResourceReplicas(in)
	if err != nil {
		return 0, "", ReasonFailedGetResource, fmt.Errorf("failed to get %s %s: %w", src.Name, what, err)
	}
	cur := autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(res.Average, resource.DecimalSI)}
	if in.TargetUtilization != nil {
		cur.AverageUtilization = res.Utilization
	}
	*status = autoscalingv2.MetricStatus{Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricStatus{Name: src.Name, Current: cur}}
	return res.Replicas, MetricName(src), "", nil
}

// podMetrics reads the selected pods' usage of resource from
// metrics.k8s.io; a pod with a container that reports none is left out.
func (hc *Controller) podMetrics(ctx context.Context, ns string, sel labels.Selector, res v1.ResourceName) (map[string]PodMetric, error) {
	u, err := hc.dynamic.Resource(podMetricsResource).Namespace(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	var list metricsv1beta1.PodMetricsList
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), &list); err != nil {
		return nil, err
	}
	if len(list.Items) == 0 {
		return nil, errors.New("no metrics returned from resource metrics API")
	}
	out := make(map[string]PodMetric, len(list.Items))
	for _, m := range list.Items {
		var sum int64
		complete := len(m.Containers) > 0
		for _, c := range m.Containers {
			q, ok := c.Usage[res]
			if !ok {
				complete = false
				break
			}
			sum += q.MilliValue()
		}
		if complete {
			out[m.Name] = PodMetric{Value: sum, Timestamp: m.Timestamp.Time, Window: m.Window.Duration}
		}
	}
	return out, nil
}

// getScale reads the target's /scale, finding its resource through
// discovery (rediscovering once when the kind is unknown).
func (hc *Controller) getScale(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler) (*autoscalingv1.Scale, schema.GroupVersionResource, error) {
	ref := hpa.Spec.ScaleTargetRef
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil, schema.GroupVersionResource{}, fmt.Errorf("invalid API version in scale target reference: %w", err)
	}
	gk := schema.GroupKind{Group: gv.Group, Kind: ref.Kind}
	mappings, err := hc.mapper.RESTMappings(gk)
	if err != nil || len(mappings) == 0 {
		hc.mapper.Reset()
		mappings, err = hc.mapper.RESTMappings(gk)
	}
	if err != nil {
		return nil, schema.GroupVersionResource{}, fmt.Errorf("unable to determine resource for scale target reference: %w", err)
	}
	var firstErr error
	for _, m := range mappings {
		u, err := hc.dynamic.Resource(m.Resource).Namespace(hpa.Namespace).Get(ctx, ref.Name, metav1.GetOptions{}, "scale")
		if err != nil {
			firstErr = cmpErr(firstErr, err)
			continue
		}
		var s autoscalingv1.Scale
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), &s); err != nil {
			firstErr = cmpErr(firstErr, err)
			continue
		}
		return &s, m.Resource, nil
	}
	if firstErr == nil {
		firstErr = &meta.NoKindMatchError{GroupKind: gk}
	}
	return nil, schema.GroupVersionResource{}, firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

func (hc *Controller) updateScale(ctx context.Context, ns string, gvr schema.GroupVersionResource, scale *autoscalingv1.Scale, replicas int32) error {
	next := scale.DeepCopy()
	next.Spec.Replicas = replicas
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(next)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: obj}
	u.SetAPIVersion(autoscalingv1.SchemeGroupVersion.String())
	u.SetKind("Scale")
	_, err = hc.dynamic.Resource(gvr).Namespace(ns).Update(ctx, u, metav1.UpdateOptions{}, "scale")
	return err
}

// writeStatus writes hpa's status when it changed.
func (hc *Controller) writeStatus(ctx context.Context, original *autoscalingv2.HorizontalPodAutoscalerStatus, hpa *autoscalingv2.HorizontalPodAutoscaler) error {
	if equality.Semantic.DeepEqual(original, &hpa.Status) {
		return nil
	}
	if err := hc.hpas.UpdateStatus(ctx, hpa); err != nil && !apierrors.IsNotFound(err) {
		hc.recorder.Event(hpa, v1.EventTypeWarning, ReasonFailedUpdateStatus, err.Error())
		return fmt.Errorf("failed to update status for %s: %w", hpa.Name, err)
	}
	return nil
}
