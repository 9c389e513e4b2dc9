package coordination

import (
	"fmt"
	"slices"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

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

func ptr[T any](v T) *T { return &v }

func validLease() *coordinationv1.Lease {
	now := metav1.NewMicroTime(metav1.Now().Time)
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-scheduler", Namespace: "kube-system", ResourceVersion: "1"},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity:       ptr("node-1"),
			LeaseDurationSeconds: ptr(int32(15)),
			AcquireTime:          &now,
			RenewTime:            &now,
			LeaseTransitions:     ptr(int32(0)),
		},
	}
}

func leaseCases() []struct {
	name   string
	mutate func(*coordinationv1.Lease)
	want   []string
} {
	return []struct {
		name   string
		mutate func(*coordinationv1.Lease)
		want   []string
	}{
		{name: "valid", mutate: func(*coordinationv1.Lease) {}},
		{name: "empty spec", mutate: func(l *coordinationv1.Lease) { l.Spec = coordinationv1.LeaseSpec{} }},
		{name: "known strategy with holder", mutate: func(l *coordinationv1.Lease) {
			l.Spec.Strategy = ptr(coordinationv1.OldestEmulationVersion)
			l.Spec.PreferredHolder = ptr("node-2")
		}},
		{name: "custom qualified strategy", mutate: func(l *coordinationv1.Lease) {
			l.Spec.Strategy = ptr(coordinationv1.CoordinatedLeaseStrategy("example.com/mine"))
		}},
		{
			name:   "zero duration",
			mutate: func(l *coordinationv1.Lease) { l.Spec.LeaseDurationSeconds = ptr(int32(0)) },
			want:   []string{key(field.ErrorTypeInvalid, "spec.leaseDurationSeconds")},
		},
		{
			name:   "negative transitions",
			mutate: func(l *coordinationv1.Lease) { l.Spec.LeaseTransitions = ptr(int32(-1)) },
			want:   []string{key(field.ErrorTypeInvalid, "spec.leaseTransitions")},
		},
		{
			name: "unknown strategy",
			mutate: func(l *coordinationv1.Lease) {
				l.Spec.Strategy = ptr(coordinationv1.CoordinatedLeaseStrategy("Newest"))
			},
			want: []string{key(field.ErrorTypeNotSupported, "spec.strategy")},
		},
		{
			name: "malformed qualified strategy",
			mutate: func(l *coordinationv1.Lease) {
				l.Spec.Strategy = ptr(coordinationv1.CoordinatedLeaseStrategy("bad_domain/x/y"))
			},
			want: []string{key(field.ErrorTypeInvalid, "spec.strategy")},
		},
		{
			name:   "preferred holder without strategy",
			mutate: func(l *coordinationv1.Lease) { l.Spec.PreferredHolder = ptr("node-2") },
			want:   []string{key(field.ErrorTypeForbidden, "spec.preferredHolder")},
		},
		{
			name:   "missing namespace",
			mutate: func(l *coordinationv1.Lease) { l.Namespace = "" },
			want:   []string{key(field.ErrorTypeRequired, "metadata.namespace")},
		},
	}
}

func TestValidateLease(t *testing.T) {
	for _, tc := range leaseCases() {
		t.Run(tc.name, func(t *testing.T) {
			l := validLease()
			tc.mutate(l)
			checkErrs(t, ValidateLease(l), tc.want...)
		})
	}
}

func TestValidateLeaseUpdate(t *testing.T) {
	for _, tc := range leaseCases() {
		if tc.name == "missing namespace" {
			continue // namespace changes are reported as immutable on update
		}
		t.Run(tc.name, func(t *testing.T) {
			old := validLease()
			l := validLease()
			tc.mutate(l)
			checkErrs(t, ValidateLeaseUpdate(l, old), tc.want...)
		})
	}
	t.Run("namespace immutable", func(t *testing.T) {
		old := validLease()
		l := validLease()
		l.Namespace = "other"
		checkErrs(t, ValidateLeaseUpdate(l, old), key(field.ErrorTypeInvalid, "metadata.namespace"))
	})
}
