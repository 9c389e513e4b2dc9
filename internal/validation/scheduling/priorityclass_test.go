package scheduling

import (
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// errKeys renders each error as "<type> <field>" so tests can compare the
// exact kinds and paths that were reported, in order.
func errKeys(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%s %s", e.Type, e.Field))
	}
	return out
}

func key(t field.ErrorType, f string) string { return fmt.Sprintf("%s %s", t, f) }

func checkErrs(t *testing.T, got field.ErrorList, want ...string) {
	t.Helper()
	if g := errKeys(got); !slices.Equal(g, want) {
		t.Errorf("errors mismatch\n got: %q\nwant: %q\nfull: %v", g, want, got)
	}
}

func policy(p corev1.PreemptionPolicy) *corev1.PreemptionPolicy { return &p }

func validPC() *schedulingv1.PriorityClass {
	return &schedulingv1.PriorityClass{
		ObjectMeta:       metav1.ObjectMeta{Name: "high", ResourceVersion: "1"},
		Value:            1000,
		PreemptionPolicy: policy(corev1.PreemptLowerPriority),
	}
}

func TestValidatePriorityClass(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*schedulingv1.PriorityClass)
		want   []string
	}{
		{name: "valid", mutate: func(*schedulingv1.PriorityClass) {}},
		{name: "max user value", mutate: func(pc *schedulingv1.PriorityClass) { pc.Value = HighestUserDefinablePriority }},
		{name: "negative value is fine", mutate: func(pc *schedulingv1.PriorityClass) { pc.Value = -5 }},
		{name: "nil preemption policy", mutate: func(pc *schedulingv1.PriorityClass) { pc.PreemptionPolicy = nil }},
		{name: "never", mutate: func(pc *schedulingv1.PriorityClass) { pc.PreemptionPolicy = policy(corev1.PreemptNever) }},
		{name: "system cluster critical", mutate: func(pc *schedulingv1.PriorityClass) {
			pc.Name, pc.Value = SystemClusterCritical, SystemCriticalPriority
		}},
		{name: "system node critical", mutate: func(pc *schedulingv1.PriorityClass) {
			pc.Name, pc.Value = SystemNodeCritical, SystemCriticalPriority+1000
		}},
		{
			name:   "value too high",
			mutate: func(pc *schedulingv1.PriorityClass) { pc.Value = HighestUserDefinablePriority + 1 },
			want:   []string{key(field.ErrorTypeForbidden, "value")},
		},
		{
			name:   "unknown system name",
			mutate: func(pc *schedulingv1.PriorityClass) { pc.Name = "system-foo" },
			want:   []string{key(field.ErrorTypeForbidden, "metadata.name")},
		},
		{
			name: "system class with wrong value",
			mutate: func(pc *schedulingv1.PriorityClass) {
				pc.Name, pc.Value = SystemClusterCritical, 5
			},
			want: []string{key(field.ErrorTypeForbidden, "metadata.name")},
		},
		{
			name: "system class with globalDefault",
			mutate: func(pc *schedulingv1.PriorityClass) {
				pc.Name, pc.Value, pc.GlobalDefault = SystemClusterCritical, SystemCriticalPriority, true
			},
			want: []string{key(field.ErrorTypeForbidden, "metadata.name")},
		},
		{
			name:   "bad preemption policy",
			mutate: func(pc *schedulingv1.PriorityClass) { pc.PreemptionPolicy = policy("Sometimes") },
			want:   []string{key(field.ErrorTypeNotSupported, "preemptionPolicy")},
		},
		{
			name:   "empty preemption policy",
			mutate: func(pc *schedulingv1.PriorityClass) { pc.PreemptionPolicy = policy("") },
			want:   []string{key(field.ErrorTypeRequired, "preemptionPolicy")},
		},
		{
			name:   "bad name",
			mutate: func(pc *schedulingv1.PriorityClass) { pc.Name = "Bad_Name" },
			want:   []string{key(field.ErrorTypeInvalid, "metadata.name")},
		},
		{
			name:   "namespace set on cluster-scoped object",
			mutate: func(pc *schedulingv1.PriorityClass) { pc.Namespace = "default" },
			want:   []string{key(field.ErrorTypeForbidden, "metadata.namespace")},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pc := validPC()
			tc.mutate(pc)
			checkErrs(t, ValidatePriorityClass(pc), tc.want...)
		})
	}
}

func TestValidatePriorityClassUpdate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*schedulingv1.PriorityClass)
		want   []string
	}{
		{name: "unchanged", mutate: func(*schedulingv1.PriorityClass) {}},
		{name: "description and globalDefault may change", mutate: func(pc *schedulingv1.PriorityClass) {
			pc.Description, pc.GlobalDefault = "changed", true
		}},
		{
			name:   "value immutable",
			mutate: func(pc *schedulingv1.PriorityClass) { pc.Value = 7 },
			want:   []string{key(field.ErrorTypeForbidden, "value")},
		},
		{
			name:   "preemption policy immutable",
			mutate: func(pc *schedulingv1.PriorityClass) { pc.PreemptionPolicy = policy(corev1.PreemptNever) },
			want:   []string{key(field.ErrorTypeInvalid, "preemptionPolicy")},
		},
		{
			name:   "preemption policy invalid and changed",
			mutate: func(pc *schedulingv1.PriorityClass) { pc.PreemptionPolicy = policy("Bogus") },
			want: []string{
				key(field.ErrorTypeNotSupported, "preemptionPolicy"),
				key(field.ErrorTypeInvalid, "preemptionPolicy"),
			},
		},
		{
			name:   "name immutable",
			mutate: func(pc *schedulingv1.PriorityClass) { pc.Name = "other" },
			want:   []string{key(field.ErrorTypeInvalid, "metadata.name")},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := validPC()
			pc := validPC()
			tc.mutate(pc)
			checkErrs(t, ValidatePriorityClassUpdate(pc, old), tc.want...)
		})
	}
}

func TestIsKnownSystemPriorityClassMessages(t *testing.T) {
	_, err := IsKnownSystemPriorityClass(SystemNodeCritical, 1, false)
	if err == nil || err.Error() != "value of system-node-critical PriorityClass must be 2000001000" {
		t.Fatalf("unexpected error: %v", err)
	}
	pc := validPC()
	pc.Name = "system-foo"
	errs := ValidatePriorityClass(pc)
	want := "priority class names with 'system-' prefix are reserved for system use only. error: system-foo is not a known system priority class"
	if len(errs) != 1 || errs[0].Detail != want {
		t.Fatalf("got %v", errs)
	}
}
