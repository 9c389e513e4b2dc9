package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func validQuota() *corev1.ResourceQuota {
	return &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "compute", Namespace: "default"},
		Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			corev1.ResourcePods: q("10"), corev1.ResourceRequestsCPU: q("4"), corev1.ResourceLimitsMemory: q("8Gi"),
			"count/deployments.apps": q("5"), "requests.example.com/gpu": q("2"),
		}},
	}
}

func TestValidateResourceQuota(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(r *corev1.ResourceQuota)
		want   []string
	}{
		{"valid", func(*corev1.ResourceQuota) {}, nil},
		{"bad name", func(r *corev1.ResourceQuota) { r.Name = "Compute" }, []string{invalid + "metadata.name"}},
		{"unknown resource", func(r *corev1.ResourceQuota) { r.Spec.Hard["foo"] = q("1") }, []string{invalid + "spec.hard[foo]", invalid + "spec.hard[foo]"}},
		{"storage not a quota resource", func(r *corev1.ResourceQuota) { r.Spec.Hard[corev1.ResourceStorage] = q("1Gi") }, []string{invalid + "spec.hard[storage]"}},
		{"negative", func(r *corev1.ResourceQuota) { r.Spec.Hard[corev1.ResourceRequestsCPU] = q("-1") }, []string{invalid + "spec.hard[requests.cpu]"}},
		{"fractional pods", func(r *corev1.ResourceQuota) { r.Spec.Hard[corev1.ResourcePods] = q("1.5") }, []string{invalid + "spec.hard[pods]"}},
		{"valid scope", func(r *corev1.ResourceQuota) {
			r.Spec.Hard = corev1.ResourceList{corev1.ResourcePods: q("1")}
			r.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}
		}, nil},
		{"scope not valid for resource", func(r *corev1.ResourceQuota) {
			r.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}
		}, []string{invalid + "spec.scopes", invalid + "spec.scopes"}},
		{"conflicting scopes", func(r *corev1.ResourceQuota) {
			r.Spec.Hard = corev1.ResourceList{corev1.ResourcePods: q("1")}
			r.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating}
		}, []string{invalid + "spec.scopes"}},
		{"unknown scope", func(r *corev1.ResourceQuota) {
			r.Spec.Hard = corev1.ResourceList{corev1.ResourcePods: q("1")}
			r.Spec.Scopes = []corev1.ResourceQuotaScope{"Weekend"}
		}, []string{invalid + "spec.scopes"}},
		{"scope selector In without values", func(r *corev1.ResourceQuota) {
			r.Spec.Hard = corev1.ResourceList{corev1.ResourcePods: q("1")}
			r.Spec.ScopeSelector = &corev1.ScopeSelector{MatchExpressions: []corev1.ScopedResourceSelectorRequirement{{
				ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpIn}}}
		}, []string{required + "spec.scopeSelector.matchExpressions.values"}},
		{"bad status", func(r *corev1.ResourceQuota) { r.Status.Used = corev1.ResourceList{corev1.ResourcePods: q("-1")} }, []string{invalid + "status.used[pods]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validQuota()
			tc.mutate(r)
			expectErrors(t, ValidateResourceQuota(r), tc.want...)
		})
	}

	old := validQuota()
	old.ResourceVersion = "1"
	old.Spec.Hard = corev1.ResourceList{corev1.ResourcePods: q("1")}
	old.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort}
	upd := old.DeepCopy()
	upd.Spec.Hard[corev1.ResourcePods] = q("5")
	expectErrors(t, ValidateResourceQuotaUpdate(upd, old))
	upd.Spec.Scopes = []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeNotBestEffort}
	expectErrors(t, ValidateResourceQuotaUpdate(upd, old), invalid+"spec.scopes")

	st := old.DeepCopy()
	st.Status = corev1.ResourceQuotaStatus{Hard: corev1.ResourceList{corev1.ResourcePods: q("1")}, Used: corev1.ResourceList{corev1.ResourcePods: q("0")}}
	expectErrors(t, ValidateResourceQuotaStatusUpdate(st, old))
	st.Status.Used["bogus"] = q("1")
	expectErrors(t, ValidateResourceQuotaStatusUpdate(st, old), invalid+"status.used[bogus]", invalid+"status.used[bogus]")
}

func validLimitRange() *corev1.LimitRange {
	return &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: "limits", Namespace: "default"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{
			{
				Type:                 corev1.LimitTypeContainer,
				Min:                  corev1.ResourceList{corev1.ResourceCPU: q("50m")},
				Max:                  corev1.ResourceList{corev1.ResourceCPU: q("2"), corev1.ResourceMemory: q("2Gi")},
				Default:              corev1.ResourceList{corev1.ResourceCPU: q("500m")},
				DefaultRequest:       corev1.ResourceList{corev1.ResourceCPU: q("100m")},
				MaxLimitRequestRatio: corev1.ResourceList{corev1.ResourceCPU: q("10")},
			},
			{Type: corev1.LimitTypePod, Max: corev1.ResourceList{corev1.ResourceCPU: q("4")}},
			{Type: corev1.LimitTypePersistentVolumeClaim, Min: corev1.ResourceList{corev1.ResourceStorage: q("1Gi")}},
		}},
	}
}

func TestValidateLimitRange(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(l *corev1.LimitRange)
		want   []string
	}{
		{"valid", func(*corev1.LimitRange) {}, nil},
		{"min above max", func(l *corev1.LimitRange) { l.Spec.Limits[0].Min[corev1.ResourceCPU] = q("3") }, []string{
			invalid + "spec.limits[0].min[cpu]", invalid + "spec.limits[0].defaultRequest[cpu]", invalid + "spec.limits[0].default[cpu]",
			invalid + "spec.limits[0].maxLimitRequestRatio[cpu]"}},
		{"default above max", func(l *corev1.LimitRange) { l.Spec.Limits[0].Default[corev1.ResourceCPU] = q("3") }, []string{invalid + "spec.limits[0].default[cpu]"}},
		{"defaultRequest above default", func(l *corev1.LimitRange) { l.Spec.Limits[0].DefaultRequest[corev1.ResourceCPU] = q("1") }, []string{invalid + "spec.limits[0].defaultRequest[cpu]"}},
		{"ratio below one", func(l *corev1.LimitRange) { l.Spec.Limits[0].MaxLimitRequestRatio[corev1.ResourceCPU] = q("500m") }, []string{invalid + "spec.limits[0].maxLimitRequestRatio[cpu]"}},
		{"ratio above max/min", func(l *corev1.LimitRange) { l.Spec.Limits[0].MaxLimitRequestRatio[corev1.ResourceCPU] = q("100") }, []string{invalid + "spec.limits[0].maxLimitRequestRatio[cpu]"}},
		{"duplicate type", func(l *corev1.LimitRange) { l.Spec.Limits[1].Type = corev1.LimitTypeContainer }, []string{duplicate + "spec.limits[1].type"}},
		{"bad type", func(l *corev1.LimitRange) { l.Spec.Limits[1].Type = "Node" }, []string{invalid + "spec.limits[1].type"}},
		{"pod default forbidden", func(l *corev1.LimitRange) { l.Spec.Limits[1].Default = corev1.ResourceList{corev1.ResourceCPU: q("1")} }, []string{forbidden + "spec.limits[1].default"}},
		{"pvc without storage bounds", func(l *corev1.LimitRange) { l.Spec.Limits[2].Min = nil }, []string{required + "spec.limits[2].limits"}},
		{"bad container resource", func(l *corev1.LimitRange) { l.Spec.Limits[0].Max["storage"] = q("1Gi") }, []string{invalid + "spec.limits[0].max[storage]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := validLimitRange()
			tc.mutate(l)
			expectErrors(t, ValidateLimitRange(l), tc.want...)
		})
	}
	old := validLimitRange()
	old.ResourceVersion = "1"
	upd := old.DeepCopy()
	upd.Spec.Limits[0].Max[corev1.ResourceCPU] = q("3")
	expectErrors(t, ValidateLimitRangeUpdate(upd, old))
	upd.Spec.Limits[0].Max[corev1.ResourceCPU] = q("10m")
	if errs := ValidateLimitRangeUpdate(upd, old); len(errs) == 0 {
		t.Fatal("expected errors for max below min on update")
	}
}
