package podautoscaler

import (
	"errors"
	"fmt"
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/controller"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Upstream's defaults (kube-controller-manager flags).
const (
	// DefaultSyncPeriod is --horizontal-pod-autoscaler-sync-period.
	DefaultSyncPeriod = 15 * time.Second
	// Tolerance is --horizontal-pod-autoscaler-tolerance: a usage ratio
	// within 10% of 1 changes nothing.
	Tolerance = 0.1
	// CPUInitializationPeriod is --horizontal-pod-autoscaler-cpu-initialization-period:
	// how long after a pod starts its CPU samples are trusted only when
	// it is ready and the sample was taken after it became so.
	CPUInitializationPeriod = 5 * time.Minute
	// InitialReadinessDelay is --horizontal-pod-autoscaler-initial-readiness-delay:
	// a pod not ready that turned so within this time of starting has
	// never been ready.
	InitialReadinessDelay = 30 * time.Second
	// DownscaleStabilization is --horizontal-pod-autoscaler-downscale-stabilization:
	// the highest recommendation of this window wins a scale-down.
	DownscaleStabilization = 5 * time.Minute
)

// PodMetric is one pod's usage of a resource from the resource metrics
// API, in milli-units (millicores for CPU).
type PodMetric struct {
	Value     int64
	Timestamp time.Time
	Window    time.Duration
}

// ResourceInput is what a replica count for a Resource metric is
// computed from.
type ResourceInput struct {
	// CurrentReplicas is the target's spec.replicas.
	CurrentReplicas int32
	// Resource is the metric's resource (cpu, memory).
	Resource v1.ResourceName
	// TargetUtilization is the target average utilization (percent of
	// the pods' requests); nil when TargetAverage is the target.
	TargetUtilization *int32
	// TargetAverage is the target average value in milli-units.
	TargetAverage int64
	// Pods are the pods the target's selector selects.
	Pods []*v1.Pod
	// Metrics are the pods' usages by pod name.
	Metrics map[string]PodMetric
	// Now is the current time.
	Now time.Time
}

// ResourceResult is a replica count proposal and what was measured.
type ResourceResult struct {
	Replicas int32
	// Utilization is the ready pods' average utilization (percent of
	// request); only with a utilization target.
	Utilization *int32
	// Average is the ready pods' average usage in milli-units.
	Average int64
}

// ResourceReplicas proposes a replica count for a Resource metric as
// upstream's replica calculator: desired = ceil(ready pods × usage /
// target), unchanged within the 10% tolerance. Pods being deleted or
// failed are ignored; pending pods and (for CPU) pods not yet ready are
// left out, and count as using nothing when the rest would scale up;
// pods without metrics count as using nothing on a scale-up and their
// full request (or the target, if above 100%) on a scale-down; if those
// assumptions reverse the direction, nothing changes.
func ResourceReplicas(in ResourceInput) (ResourceResult, error) {
	if len(in.Pods) == 0 {
		return ResourceResult{}, errors.New("no pods returned by selector while calculating replica count")
	}
	metrics := make(map[string]PodMetric, len(in.Metrics))
	for k, v := range in.Metrics {
		metrics[k] = v
	}
	ready, unready, missing := groupPods(in.Pods, metrics, in.Resource, in.Now)
	if len(metrics) == 0 {
		return ResourceResult{}, errors.New("did not receive metrics for targeted pods (pods might be unready)")
	}
	var requests map[string]int64
	ratio := func(m map[string]PodMetric) (float64, error) {
		if in.TargetUtilization == nil {
			return averageRatio(m, in.TargetAverage), nil
		}
		r, _, _, err := utilizationRatio(m, requests, *in.TargetUtilization)
		return r, err
	}
	var res ResourceResult
	if in.TargetUtilization != nil {
		var err error
		if requests, err = podRequests(in.Pods, in.Resource); err != nil {
			return ResourceResult{}, err
		}
		_, util, avg, err := utilizationRatio(metrics, requests, *in.TargetUtilization)
		if err != nil {
			return ResourceResult{}, err
		}
		res.Utilization, res.Average = &util, avg
	} else {
		res.Average = averageUsage(metrics)
	}
	usage, err := ratio(metrics)
	if err != nil {
		return ResourceResult{}, err
	}
	scaleUpWithUnready := len(unready) > 0 && usage > 1.0
	if !scaleUpWithUnready && len(missing) == 0 {
		res.Replicas = in.CurrentReplicas
		if !withinTolerance(usage) {
			res.Replicas = int32(math.Ceil(usage * float64(ready)))
		}
		return res, nil
	}
	for _, name := range missing {
		switch {
		case usage < 1.0 && in.TargetUtilization != nil:
			metrics[name] = PodMetric{Value: requests[name] * int64(max(100, *in.TargetUtilization)) / 100}
		case usage < 1.0:
			metrics[name] = PodMetric{Value: in.TargetAverage}
		default:
			metrics[name] = PodMetric{Value: 0}
		}
	}
	if scaleUpWithUnready {
		for _, name := range unready {
			metrics[name] = PodMetric{Value: 0}
		}
	}
	newUsage, err := ratio(metrics)
	if err != nil {
		return ResourceResult{}, err
	}
	res.Replicas = in.CurrentReplicas
	if withinTolerance(newUsage) || (usage < 1.0 && newUsage > 1.0) || (usage > 1.0 && newUsage < 1.0) {
		return res, nil
	}
	n := int32(math.Ceil(newUsage * float64(len(metrics))))
	if (newUsage < 1.0 && n > in.CurrentReplicas) || (newUsage > 1.0 && n < in.CurrentReplicas) {
		return res, nil
	}
	res.Replicas = n
	return res, nil
}

func withinTolerance(ratio float64) bool { return math.Abs(1.0-ratio) <= Tolerance }

// groupPods counts the ready pods with metrics and names the unready
// and the missing ones; the metrics of ignored and unready pods are
// removed from metrics.
func groupPods(pods []*v1.Pod, metrics map[string]PodMetric, resource v1.ResourceName, now time.Time) (ready int, unready, missing []string) {
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == v1.PodFailed {
			delete(metrics, pod.Name)
			continue
		}
		if pod.Status.Phase == v1.PodPending {
			unready = append(unready, pod.Name)
			delete(metrics, pod.Name)
			continue
		}
		m, ok := metrics[pod.Name]
		if !ok {
			missing = append(missing, pod.Name)
			continue
		}
		if resource == v1.ResourceCPU && cpuUnready(pod, m, now) {
			unready = append(unready, pod.Name)
			delete(metrics, pod.Name)
			continue
		}
		ready++
	}
	return ready, unready, missing
}

// cpuUnready reports whether a pod's CPU sample is left out: no Ready
// condition or start time; within the initialization period, not ready
// or sampled before a full window since it became ready; after it, not
// ready and never been ready.
func cpuUnready(pod *v1.Pod, m PodMetric, now time.Time) bool {
	cond := controller.PodReadyCondition(pod)
	if cond == nil || pod.Status.StartTime == nil {
		return true
	}
	start := pod.Status.StartTime.Time
	if start.Add(CPUInitializationPeriod).After(now) {
		return cond.Status == v1.ConditionFalse || m.Timestamp.Before(cond.LastTransitionTime.Add(m.Window))
	}
	return cond.Status == v1.ConditionFalse && start.Add(InitialReadinessDelay).After(cond.LastTransitionTime.Time)
}

// podRequests sums each pod's containers' requests of resource (milli);
// a container without one is an error, as upstream.
func podRequests(pods []*v1.Pod, resource v1.ResourceName) (map[string]int64, error) {
	out := make(map[string]int64, len(pods))
	for _, pod := range pods {
		var sum int64
		for _, c := range pod.Spec.Containers {
			q, ok := c.Resources.Requests[resource]
			if !ok {
				return nil, fmt.Errorf("missing request for %s in container %s of Pod %s", resource, c.Name, pod.Name)
			}
			sum += q.MilliValue()
		}
		out[pod.Name] = sum
	}
	return out, nil
}

// utilizationRatio is the pods' total usage over their total requests,
// as a percentage, over the target percentage; also the percentage and
// the average usage.
func utilizationRatio(metrics map[string]PodMetric, requests map[string]int64, target int32) (float64, int32, int64, error) {
	var usage, requested int64
	n := 0
	for name, m := range metrics {
		r, ok := requests[name]
		if !ok {
			continue
		}
		usage += m.Value
		requested += r
		n++
	}
	if requested == 0 {
		return 0, 0, 0, errors.New("no metrics returned matched known pods")
	}
	util := int32(usage * 100 / requested)
	return float64(util) / float64(target), util, usage / int64(n), nil
}

func averageUsage(metrics map[string]PodMetric) int64 {
	var sum int64
	for _, m := range metrics {
		sum += m.Value
	}
	return sum / int64(len(metrics))
}

func averageRatio(metrics map[string]PodMetric, target int64) float64 {
	return float64(averageUsage(metrics)) / float64(target)
}

// MetricName is how upstream names a Resource metric in reasons.
func MetricName(src *autoscalingv2.ResourceMetricSource) string {
	if src.Target.AverageValue != nil {
		return fmt.Sprintf("%s resource", src.Name)
	}
	return fmt.Sprintf("%s resource utilization (percentage of request)", src.Name)
}

// Recommendation is one past unstabilized replica recommendation.
type Recommendation struct {
	Replicas int32
	At       time.Time
}

// ScaleEvent is one past rescale: how many replicas it added or removed.
type ScaleEvent struct {
	Change int32
	At     time.Time
}

// History is what the controller remembers of one autoscaler between
// syncs (upstream keeps it in memory too).
type History struct {
	Recommendations []Recommendation
	ScaleUps        []ScaleEvent
	ScaleDowns      []ScaleEvent
}

// Verdict is a normalized replica count and the conditions that explain
// it.
type Verdict struct {
	Replicas int32
	// AbleToScale is the reason and message of AbleToScale=True.
	AbleReason, AbleMessage string
	// Limited says whether ScalingLimited is True, and why.
	Limited                     bool
	LimitedReason, LimitMessage string
}

// Normalize stabilizes a proposed replica count and bounds it by
// minReplicas, maxReplicas and the scaling rate, as upstream: without a
// behavior, the highest recommendation of the last 5 minutes wins a
// scale-down and a scale-up is at most max(2×current, 4); with one, the
// per-direction stabilization windows and policies apply. It records
// the proposal in h.
func Normalize(hpa *autoscalingv2.HorizontalPodAutoscaler, h *History, current, proposed, minReplicas int32, now time.Time) Verdict {
	if hpa.Spec.Behavior == nil {
		return normalizeLegacy(h, current, proposed, minReplicas, hpa.Spec.MaxReplicas, now)
	}
	up := scalingRules(hpa.Spec.Behavior.ScaleUp, true)
	down := scalingRules(hpa.Spec.Behavior.ScaleDown, false)
	var v Verdict
	stable := stabilize(h, current, proposed, *up.StabilizationWindowSeconds, *down.StabilizationWindowSeconds, now)
	if stable != proposed {
		if proposed >= current {
			v.AbleReason, v.AbleMessage = "ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation"
		} else {
			v.AbleReason, v.AbleMessage = "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"
		}
	} else {
		v.AbleReason, v.AbleMessage = "ReadyForNewScale", "recommended size matches current size"
	}
	v.Replicas, v.LimitedReason, v.LimitMessage = rate(h, up, down, current, stable, minReplicas, hpa.Spec.MaxReplicas, now)
	v.Limited = v.Replicas != stable
	return v
}

// rate bounds desired by the behavior's policies and min/maxReplicas.
func rate(h *History, up, down *autoscalingv2.HPAScalingRules, current, desired, minReplicas, maxReplicas int32, now time.Time) (int32, string, string) {
	switch {
	case desired > current:
		limit := max(rateLimit(current, h, up, true, now), current)
		if maxReplicas > limit {
			if desired > limit {
				return limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
			}
		} else if desired > maxReplicas {
			return maxReplicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
		}
	case desired < current:
		limit := min(rateLimit(current, h, down, false, now), current)
		if minReplicas < limit {
			if desired < limit {
				return limit, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"
			}
		} else if desired < minReplicas {
			return minReplicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
		}
	}
	return desired, "DesiredWithinRange", "the desired count is within the acceptable range"
}

// scalingRules completes rules with upstream's defaults for a direction.
func scalingRules(r *autoscalingv2.HPAScalingRules, up bool) *autoscalingv2.HPAScalingRules {
	out := &autoscalingv2.HPAScalingRules{}
	if r != nil {
		out = r.DeepCopy()
	}
	if out.StabilizationWindowSeconds == nil {
		w := int32(0)
		if !up {
			w = int32(DownscaleStabilization / time.Second)
		}
		out.StabilizationWindowSeconds = &w
	}
	if out.SelectPolicy == nil {
		p := autoscalingv2.MaxChangePolicySelect
		out.SelectPolicy = &p
	}
	if len(out.Policies) == 0 {
		if up {
			out.Policies = []autoscalingv2.HPAScalingPolicy{
				{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
				{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
			}
		} else {
			out.Policies = []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}}
		}
	}
	return out
}

// stabilize bounds proposed by the lowest recommendation of the
// scale-up window and the highest of the scale-down window, and records
// proposed (reusing a slot older than both windows).
func stabilize(h *History, current, proposed, upWindow, downWindow int32, now time.Time) int32 {
	upCut := now.Add(-time.Duration(upWindow) * time.Second)
	downCut := now.Add(-time.Duration(downWindow) * time.Second)
	upRec, downRec := proposed, proposed
	old := -1
	for i, r := range h.Recommendations {
		if r.At.After(upCut) {
			upRec = min(upRec, r.Replicas)
		}
		if r.At.After(downCut) {
			downRec = max(downRec, r.Replicas)
		}
		if r.At.Before(upCut) && r.At.Before(downCut) {
			old = i
		}
	}
	rec := max(current, upRec)
	rec = min(rec, downRec)
	remember(h, old, Recommendation{Replicas: proposed, At: now})
	return rec
}

func remember(h *History, slot int, r Recommendation) {
	if slot >= 0 {
		h.Recommendations[slot] = r
		return
	}
	h.Recommendations = append(h.Recommendations, r)
}

// changeSince sums the changes of events within the last period seconds.
func changeSince(events []ScaleEvent, period int32, now time.Time) int32 {
	cut := now.Add(-time.Duration(period) * time.Second)
	var n int32
	for _, e := range events {
		if e.At.After(cut) {
			n += e.Change
		}
	}
	return n
}

// rateLimit is the furthest the policies of r let a scale go from
// current (up: the highest count, down: the lowest), each policy
// measured from the count at the start of its period; selectPolicy Max
// takes the policy allowing the largest change, Min the smallest,
// Disabled none.
func rateLimit(current int32, h *History, r *autoscalingv2.HPAScalingRules, up bool, now time.Time) int32 {
	if *r.SelectPolicy == autoscalingv2.DisabledPolicySelect {
		return current
	}
	larger := up != (*r.SelectPolicy == autoscalingv2.MinChangePolicySelect)
	result := int32(math.MaxInt32)
	if larger {
		result = math.MinInt32
	}
	for _, p := range r.Policies {
		start := current - changeSince(h.ScaleUps, p.PeriodSeconds, now) + changeSince(h.ScaleDowns, p.PeriodSeconds, now)
		var proposed int32
		switch {
		case p.Type == autoscalingv2.PodsScalingPolicy && up:
			proposed = start + p.Value
		case p.Type == autoscalingv2.PodsScalingPolicy:
			proposed = start - p.Value
		case up:
			// Rounded up, or a small target could never grow.
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		default:
			proposed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		if larger {
			result = max(result, proposed)
		} else {
			result = min(result, proposed)
		}
	}
	return result
}

// normalizeLegacy is upstream's normalization for an autoscaler without
// a behavior.
func normalizeLegacy(h *History, current, proposed, minReplicas, maxReplicas int32, now time.Time) Verdict {
	stable := proposed
	cut := now.Add(-DownscaleStabilization)
	old := -1
	for i, r := range h.Recommendations {
		if r.At.Before(cut) {
			old = i
		} else {
			stable = max(stable, r.Replicas)
		}
	}
	remember(h, old, Recommendation{Replicas: proposed, At: now})
	v := Verdict{AbleReason: "ReadyForNewScale", AbleMessage: "recommended size matches current size"}
	if stable != proposed {
		v.AbleReason, v.AbleMessage = "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"
	}
	upLimit := int32(math.Max(2*float64(current), 4))
	maxAllowed, reason, msg := maxReplicas, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
	if maxReplicas > upLimit {
		maxAllowed, reason, msg = upLimit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
	}
	switch {
	case stable < minReplicas:
		v.Replicas, v.LimitedReason, v.LimitMessage = minReplicas, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
	case stable > maxAllowed:
		v.Replicas, v.LimitedReason, v.LimitMessage = maxAllowed, reason, msg
	default:
		v.Replicas, v.LimitedReason, v.LimitMessage = stable, "DesiredWithinRange", "the desired count is within the acceptable range"
	}
	v.Limited = v.Replicas != stable
	return v
}

// RecordScale remembers a rescale for the behavior's rate limits,
// dropping events older than the longest policy period of its
// direction.
func RecordScale(hpa *autoscalingv2.HorizontalPodAutoscaler, h *History, from, to int32, now time.Time) {
	if hpa.Spec.Behavior == nil || from == to {
		return
	}
	up := to > from
	rules := scalingRules(hpa.Spec.Behavior.ScaleDown, false)
	events := &h.ScaleDowns
	change := from - to
	if up {
		rules = scalingRules(hpa.Spec.Behavior.ScaleUp, true)
		events = &h.ScaleUps
		change = to - from
	}
	var longest int32
	for _, p := range rules.Policies {
		longest = max(longest, p.PeriodSeconds)
	}
	cut := now.Add(-time.Duration(longest) * time.Second)
	kept := (*events)[:0]
	for _, e := range *events {
		if e.At.After(cut) {
			kept = append(kept, e)
		}
	}
	*events = append(kept, ScaleEvent{Change: change, At: now})
}

// SetCondition sets a condition of conds; the transition time moves
// only when the status changes.
func SetCondition(conds []autoscalingv2.HorizontalPodAutoscalerCondition, t autoscalingv2.HorizontalPodAutoscalerConditionType,
	status v1.ConditionStatus, reason, message string, now time.Time) []autoscalingv2.HorizontalPodAutoscalerCondition {
	for i := range conds {
		if conds[i].Type != t {
			continue
		}
		if conds[i].Status != status {
			conds[i].LastTransitionTime = metav1.NewTime(now)
		}
		conds[i].Status, conds[i].Reason, conds[i].Message = status, reason, message
		return conds
	}
	return append(conds, autoscalingv2.HorizontalPodAutoscalerCondition{
		Type: t, Status: status, Reason: reason, Message: message, LastTransitionTime: metav1.NewTime(now),
	})
}
