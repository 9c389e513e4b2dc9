package events

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
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

var fixedTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func validEvent() *eventsv1.Event {
	return &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: "web-0.1234", Namespace: "default", ResourceVersion: "1"},
		EventTime:           metav1.NewMicroTime(fixedTime),
		ReportingController: "skiff.sh/scheduler",
		ReportingInstance:   "scheduler-node-1",
		Action:              "Binding",
		Reason:              "Scheduled",
		Regarding:           corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web-0"},
		Note:                "Successfully assigned default/web-0 to node-1",
		Type:                corev1.EventTypeNormal,
	}
}

func TestValidateEvent(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*eventsv1.Event)
		want   []string
	}{
		{name: "valid", mutate: func(*eventsv1.Event) {}},
		{name: "warning with series", mutate: func(e *eventsv1.Event) {
			e.Type = corev1.EventTypeWarning
			e.Series = &eventsv1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(fixedTime)}
		}},
		{name: "cluster-scoped object in kube-system", mutate: func(e *eventsv1.Event) {
			e.Namespace = "kube-system"
			e.Regarding = corev1.ObjectReference{Kind: "Node", Name: "node-1"}
		}},
		{
			name:   "cluster-scoped object in other namespace",
			mutate: func(e *eventsv1.Event) { e.Namespace, e.Regarding.Namespace = "team", "" },
			want:   []string{key(field.ErrorTypeInvalid, "regarding.namespace")},
		},
		{
			name:   "missing event time",
			mutate: func(e *eventsv1.Event) { e.EventTime = metav1.MicroTime{} },
			want:   []string{key(field.ErrorTypeRequired, "eventTime")},
		},
		{
			name: "missing event time and namespace mismatch",
			mutate: func(e *eventsv1.Event) {
				e.EventTime = metav1.MicroTime{}
				e.Regarding.Namespace = "other"
			},
			want: []string{key(field.ErrorTypeInvalid, "regarding.namespace"), key(field.ErrorTypeRequired, "eventTime")},
		},
		{
			name: "missing reporting fields",
			mutate: func(e *eventsv1.Event) {
				e.ReportingController, e.ReportingInstance, e.Action, e.Reason = "", "", "", ""
			},
			want: []string{
				key(field.ErrorTypeRequired, "reportingController"),
				key(field.ErrorTypeRequired, "reportingInstance"),
				key(field.ErrorTypeRequired, "action"),
				key(field.ErrorTypeRequired, "reason"),
			},
		},
		{
			name:   "bad reporting controller",
			mutate: func(e *eventsv1.Event) { e.ReportingController = "not valid!" },
			want:   []string{key(field.ErrorTypeInvalid, "reportingController")},
		},
		{
			name: "too long strings",
			mutate: func(e *eventsv1.Event) {
				e.ReportingInstance = strings.Repeat("i", ReportingInstanceLengthLimit+1)
				e.Action = strings.Repeat("a", ActionLengthLimit+1)
				e.Reason = strings.Repeat("r", ReasonLengthLimit+1)
				e.Note = strings.Repeat("n", NoteLengthLimit+1)
			},
			want: []string{
				key(field.ErrorTypeInvalid, "reportingInstance"),
				key(field.ErrorTypeInvalid, "action"),
				key(field.ErrorTypeInvalid, "reason"),
				key(field.ErrorTypeInvalid, "note"),
			},
		},
		{
			name:   "bad type",
			mutate: func(e *eventsv1.Event) { e.Type = "Info" },
			want:   []string{key(field.ErrorTypeInvalid, "type")},
		},
		{
			name:   "bad series",
			mutate: func(e *eventsv1.Event) { e.Series = &eventsv1.EventSeries{Count: 1} },
			want:   []string{key(field.ErrorTypeInvalid, "series.count"), key(field.ErrorTypeRequired, "series.lastObservedTime")},
		},
		{
			name: "deprecated fields set",
			mutate: func(e *eventsv1.Event) {
				e.DeprecatedFirstTimestamp = metav1.NewTime(fixedTime)
				e.DeprecatedLastTimestamp = metav1.NewTime(fixedTime)
				e.DeprecatedCount = 3
				e.DeprecatedSource = corev1.EventSource{Component: "kubelet"}
			},
			want: []string{
				key(field.ErrorTypeInvalid, "deprecatedFirstTimestamp"),
				key(field.ErrorTypeInvalid, "deprecatedLastTimestamp"),
				key(field.ErrorTypeInvalid, "deprecatedCount"),
				key(field.ErrorTypeInvalid, "deprecatedSource"),
			},
		},
		{
			name:   "bad name",
			mutate: func(e *eventsv1.Event) { e.Name = "Bad Name" },
			want:   []string{key(field.ErrorTypeInvalid, "metadata.name")},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := validEvent()
			tc.mutate(e)
			checkErrs(t, ValidateEvent(e), tc.want...)
		})
	}
}

func TestValidateEventUpdate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*eventsv1.Event)
		want   []string
	}{
		{name: "unchanged", mutate: func(*eventsv1.Event) {}},
		{name: "series added", mutate: func(e *eventsv1.Event) {
			e.Series = &eventsv1.EventSeries{Count: 2, LastObservedTime: metav1.NewMicroTime(fixedTime)}
		}},
		{name: "labels change", mutate: func(e *eventsv1.Event) { e.Labels = map[string]string{"a": "b"} }},
		{
			name:   "invalid series added",
			mutate: func(e *eventsv1.Event) { e.Series = &eventsv1.EventSeries{Count: 2} },
			want:   []string{key(field.ErrorTypeRequired, "series.lastObservedTime")},
		},
		{
			name:   "note immutable",
			mutate: func(e *eventsv1.Event) { e.Note = "changed" },
			want:   []string{key(field.ErrorTypeInvalid, "note")},
		},
		{
			name:   "regarding immutable",
			mutate: func(e *eventsv1.Event) { e.Regarding.Name = "web-1" },
			want:   []string{key(field.ErrorTypeInvalid, "regarding")},
		},
		{
			name: "many immutables",
			mutate: func(e *eventsv1.Event) {
				e.Reason = "Other"
				e.Type = corev1.EventTypeWarning
				e.EventTime = metav1.NewMicroTime(fixedTime.Add(time.Second))
				e.Action = "Other"
				e.Related = &corev1.ObjectReference{Kind: "Node", Name: "n"}
				e.ReportingController = "skiff.sh/other"
				e.ReportingInstance = "other"
			},
			want: []string{
				key(field.ErrorTypeInvalid, "reason"),
				key(field.ErrorTypeInvalid, "type"),
				key(field.ErrorTypeInvalid, "eventTime"),
				key(field.ErrorTypeInvalid, "action"),
				key(field.ErrorTypeInvalid, "related"),
				key(field.ErrorTypeInvalid, "reportingController"),
				key(field.ErrorTypeInvalid, "reportingInstance"),
			},
		},
		{
			name:   "empty reason still required",
			mutate: func(e *eventsv1.Event) { e.Reason = "" },
			want:   []string{key(field.ErrorTypeRequired, "reason"), key(field.ErrorTypeInvalid, "reason")},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := validEvent()
			e := validEvent()
			tc.mutate(e)
			checkErrs(t, ValidateEventUpdate(e, old), tc.want...)
		})
	}
}
