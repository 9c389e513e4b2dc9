package apps

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validDaemonSet() *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: objectMeta("node-agent"),
		Spec: appsv1.DaemonSetSpec{
			Selector: webSelector(),
			Template: podTemplate(),
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type:          appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: intOrStr("1"), MaxSurge: intOrStr("0")},
			},
			RevisionHistoryLimit: ptr(int32(10)),
		},
	}
}

type daemonSetCase struct {
	name   string
	mutate func(*appsv1.DaemonSet)
	want   []string
}

func daemonSetSpecCases() []daemonSetCase {
	ru := "spec.updateStrategy.rollingUpdate"
	return []daemonSetCase{
		{name: "valid", mutate: func(*appsv1.DaemonSet) {}},
		{name: "on delete", mutate: func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
		}},
		{name: "surge only", mutate: func(ds *appsv1.DaemonSet) {
			ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: intOrStr("0"), MaxSurge: intOrStr("10%")}
		}},
		{
			name:   "unknown strategy",
			mutate: func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy.Type = "Surge" },
			want:   []string{key(field.ErrorTypeNotSupported, "spec.updateStrategy")},
		},
		{
			name:   "rolling update missing",
			mutate: func(ds *appsv1.DaemonSet) { ds.Spec.UpdateStrategy.RollingUpdate = nil },
			want:   []string{key(field.ErrorTypeRequired, ru)},
		},
		{
			name: "both non-zero",
			mutate: func(ds *appsv1.DaemonSet) {
				ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: intOrStr("1"), MaxSurge: intOrStr("1")}
			},
			want: []string{key(field.ErrorTypeInvalid, ru+".maxSurge")},
		},
		{
			name: "both zero",
			mutate: func(ds *appsv1.DaemonSet) {
				ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: intOrStr("0%")}
			},
			want: []string{key(field.ErrorTypeRequired, ru+".maxUnavailable")},
		},
		{
			name: "over 100 percent",
			mutate: func(ds *appsv1.DaemonSet) {
				ds.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{MaxUnavailable: intOrStr("0"), MaxSurge: intOrStr("101%")}
			},
			want: []string{key(field.ErrorTypeInvalid, ru+".maxSurge")},
		},
		{
			name: "negative counters",
			mutate: func(ds *appsv1.DaemonSet) {
				ds.Spec.MinReadySeconds = -1
				ds.Spec.RevisionHistoryLimit = ptr(int32(-1))
			},
			want: []string{key(field.ErrorTypeInvalid, "spec.minReadySeconds"), key(field.ErrorTypeInvalid, "spec.revisionHistoryLimit")},
		},
		{
			name:   "template mismatch",
			mutate: func(ds *appsv1.DaemonSet) { ds.Spec.Template.Labels = map[string]string{"app": "other"} },
			want:   []string{key(field.ErrorTypeInvalid, "spec.template.metadata.labels")},
		},
		{
			name:   "active deadline",
			mutate: func(ds *appsv1.DaemonSet) { ds.Spec.Template.Spec.ActiveDeadlineSeconds = ptr(int64(5)) },
			want:   []string{key(field.ErrorTypeForbidden, "spec.template.spec.activeDeadlineSeconds")},
		},
	}
}

func TestValidateDaemonSet(t *testing.T) {
	cases := append(daemonSetSpecCases(),
		daemonSetCase{
			name:   "missing selector",
			mutate: func(ds *appsv1.DaemonSet) { ds.Spec.Selector = nil },
			want:   []string{key(field.ErrorTypeRequired, "spec.selector")},
		},
		daemonSetCase{
			name:   "empty selector",
			mutate: func(ds *appsv1.DaemonSet) { ds.Spec.Selector = &metav1.LabelSelector{} },
			want:   []string{key(field.ErrorTypeInvalid, "spec.selector")},
		},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ds := validDaemonSet()
			tc.mutate(ds)
			checkErrs(t, ValidateDaemonSet(ds), tc.want...)
		})
	}
}

func TestValidateDaemonSetUpdate(t *testing.T) {
	for _, tc := range daemonSetSpecCases() {
		t.Run(tc.name, func(t *testing.T) {
			old := validDaemonSet()
			ds := validDaemonSet()
			tc.mutate(ds)
			checkErrs(t, ValidateDaemonSetUpdate(ds, old), tc.want...)
		})
	}
	t.Run("selector immutable", func(t *testing.T) {
		old := validDaemonSet()
		ds := validDaemonSet()
		ds.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "frontend"}}
		checkErrs(t, ValidateDaemonSetUpdate(ds, old), key(field.ErrorTypeInvalid, "spec.selector"))
	})
	t.Run("stored invalid label value tolerated", func(t *testing.T) {
		sel := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"web", "bad value!"}},
		}}
		old := validDaemonSet()
		old.Spec.Selector = sel
		ds := validDaemonSet()
		ds.Spec.Selector = sel.DeepCopy()
		ds.Spec.MinReadySeconds = 5
		checkErrs(t, ValidateDaemonSetUpdate(ds, old))
		checkErrs(t, ValidateDaemonSet(ds), key(field.ErrorTypeInvalid, "spec.selector.matchExpressions[0].values[1]"))
	})
}

func TestValidateDaemonSetStatusUpdate(t *testing.T) {
	old := validDaemonSet()
	old.Status.CollisionCount = ptr(int32(3))
	ds := validDaemonSet()
	ds.Status = appsv1.DaemonSetStatus{CurrentNumberScheduled: 2, DesiredNumberScheduled: 2, NumberReady: 2, CollisionCount: ptr(int32(3))}
	checkErrs(t, ValidateDaemonSetStatusUpdate(ds, old))
	ds.Status = appsv1.DaemonSetStatus{
		CurrentNumberScheduled: -1, NumberMisscheduled: -1, DesiredNumberScheduled: -1, NumberReady: -1,
		ObservedGeneration: -1, UpdatedNumberScheduled: -1, NumberAvailable: -1, NumberUnavailable: -1,
		CollisionCount: ptr(int32(2)),
	}
	checkErrs(t, ValidateDaemonSetStatusUpdate(ds, old),
		key(field.ErrorTypeInvalid, "status.currentNumberScheduled"),
		key(field.ErrorTypeInvalid, "status.numberMisscheduled"),
		key(field.ErrorTypeInvalid, "status.desiredNumberScheduled"),
		key(field.ErrorTypeInvalid, "status.numberReady"),
		key(field.ErrorTypeInvalid, "status.observedGeneration"),
		key(field.ErrorTypeInvalid, "status.updatedNumberScheduled"),
		key(field.ErrorTypeInvalid, "status.numberAvailable"),
		key(field.ErrorTypeInvalid, "status.numberUnavailable"),
		key(field.ErrorTypeInvalid, "status.collisionCount"),
	)
}
