package validation

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Length limits of new-style (eventTime-bearing) events.
const (
	eventReportingInstanceLengthLimit = 128
	eventActionLengthLimit            = 128
	eventReasonLengthLimit            = 128
	eventNoteLengthLimit              = 1024
)

// ValidateEvent validates a core/v1 Event on creation, as upstream does for
// the v1 API: the legacy event rules (namespace agreement with
// involvedObject; for events with eventTime, reportingController,
// reportingInstance, action and reason required and bounded) and, when those
// pass, generic metadata rules (the name only needs to be a valid path
// segment).
func ValidateEvent(ev *corev1.Event) field.ErrorList {
	if ev == nil {
		return nilObjectErrors()
	}
	if errs := legacyValidateEvent(ev); len(errs) > 0 {
		return errs
	}
	return ValidateObjectMeta(&ev.ObjectMeta, true, path.ValidatePathSegmentName, field.NewPath("metadata"))
}

// ValidateEventUpdate validates newEv with the legacy event rules plus
// metadata update rules (core/v1 events are otherwise mutable).
func ValidateEventUpdate(newEv, oldEv *corev1.Event) field.ErrorList {
	if newEv == nil || oldEv == nil {
		return nilObjectErrors()
	}
	if errs := legacyValidateEvent(newEv); len(errs) > 0 {
		return errs
	}
	return ValidateObjectMetaUpdate(&newEv.ObjectMeta, &oldEv.ObjectMeta, field.NewPath("metadata"))
}

func legacyValidateEvent(ev *corev1.Event) field.ErrorList {
	var allErrs field.ErrorList
	nsPath := field.NewPath("involvedObject", "namespace")
	if ev.EventTime.Time.IsZero() {
		if len(ev.InvolvedObject.Namespace) == 0 {
			if ev.Namespace != metav1.NamespaceNone && ev.Namespace != metav1.NamespaceDefault {
				allErrs = append(allErrs, field.Invalid(nsPath, ev.InvolvedObject.Namespace, "does not match event.namespace"))
			}
		} else if ev.Namespace != ev.InvolvedObject.Namespace {
			allErrs = append(allErrs, field.Invalid(nsPath, ev.InvolvedObject.Namespace, "does not match event.namespace"))
		}
	} else {
		if len(ev.InvolvedObject.Namespace) == 0 && ev.Namespace != metav1.NamespaceDefault && ev.Namespace != metav1.NamespaceSystem {
			allErrs = append(allErrs, field.Invalid(nsPath, ev.InvolvedObject.Namespace, "does not match event.namespace"))
		}
		if len(ev.ReportingController) == 0 {
			allErrs = append(allErrs, field.Required(field.NewPath("reportingController"), ""))
		}
		allErrs = append(allErrs, validateQualifiedName(ev.ReportingController, field.NewPath("reportingController"))...)
		for _, f := range []struct {
			name  string
			value string
			limit int
		}{
			{"reportingInstance", ev.ReportingInstance, eventReportingInstanceLengthLimit},
			{"action", ev.Action, eventActionLengthLimit},
			{"reason", ev.Reason, eventReasonLengthLimit},
		} {
			if len(f.value) == 0 {
				allErrs = append(allErrs, field.Required(field.NewPath(f.name), ""))
			}
			if len(f.value) > f.limit {
				allErrs = append(allErrs, field.Invalid(field.NewPath(f.name), "", fmt.Sprintf("can have at most %v characters", f.limit)))
			}
		}
		if len(ev.Message) > eventNoteLengthLimit {
			allErrs = append(allErrs, field.Invalid(field.NewPath("message"), "", fmt.Sprintf("can have at most %v characters", eventNoteLengthLimit)))
		}
	}
	for _, msg := range validation.IsDNS1123Subdomain(ev.Namespace) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("namespace"), ev.Namespace, msg))
	}
	return allErrs
}
