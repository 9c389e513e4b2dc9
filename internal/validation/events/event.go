// Package events validates events.k8s.io/v1 objects (Event).
//
// All functions are pure: they take versioned, already-defaulted objects and
// return a field.ErrorList whose paths are rooted at the object. An empty
// list means the object is valid. Rules and messages follow upstream
// Kubernetes (pkg/apis/core/validation/events.go, the strict rules applied to
// writes through events.k8s.io/v1) where practical.
//
// Upstream validates the internal core Event and therefore reports its field
// names; Skiff validates the events.k8s.io/v1 object and reports the v1 names
// instead: regarding (upstream involvedObject), note (message),
// deprecatedSource (source), deprecatedFirstTimestamp (firstTimestamp),
// deprecatedLastTimestamp (lastTimestamp) and deprecatedCount (count).
package events

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiff-sh/skiff/internal/validation"
)

// Length limits of Event string fields, as upstream.
const (
	ReportingInstanceLengthLimit = 128
	ActionLengthLimit            = 128
	ReasonLengthLimit            = 128
	NoteLengthLimit              = 1024
)

// ValidateEvent validates an Event created through events.k8s.io/v1.
//
// Metadata is namespaced with a DNS-subdomain name. eventTime is required;
// with it set, reportingController (a qualified name), reportingInstance,
// action and reason are required and length-limited, note is limited to 1024
// bytes, and an event about a cluster-scoped object (empty
// regarding.namespace) must live in "default" or "kube-system". type must be
// Normal or Warning; series, when present, needs count >= 2 and
// lastObservedTime; the deprecated* fields must be unset.
func ValidateEvent(ev *eventsv1.Event) field.ErrorList {
	allErrs := validateEventCommon(ev)
	allErrs = append(allErrs, corevalidation.ValidateObjectMeta(&ev.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))...)
	allErrs = append(allErrs, validateSeries(ev.Series)...)
	if ev.EventTime.IsZero() {
		allErrs = append(allErrs, field.Required(field.NewPath("eventTime"), ""))
	}
	if ev.Type != corev1.EventTypeNormal && ev.Type != corev1.EventTypeWarning {
		allErrs = append(allErrs, field.Invalid(field.NewPath("type"), "", fmt.Sprintf("has invalid value: %v", ev.Type)))
	}
	if !ev.DeprecatedFirstTimestamp.IsZero() {
		allErrs = append(allErrs, field.Invalid(field.NewPath("deprecatedFirstTimestamp"), "", "needs to be unset"))
	}
	if !ev.DeprecatedLastTimestamp.IsZero() {
		allErrs = append(allErrs, field.Invalid(field.NewPath("deprecatedLastTimestamp"), "", "needs to be unset"))
	}
	if ev.DeprecatedCount != 0 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("deprecatedCount"), "", "needs to be unset"))
	}
	if ev.DeprecatedSource.Component != "" || ev.DeprecatedSource.Host != "" {
		allErrs = append(allErrs, field.Invalid(field.NewPath("deprecatedSource"), "", "needs to be unset"))
	}
	return allErrs
}

// ValidateEventUpdate validates an update of oldEv to newEv made through
// events.k8s.io/v1. newEv must satisfy the field rules that do not depend on
// creation (see ValidateEvent), series is revalidated when it changed, and
// every other field (regarding, related, reason, note, action, type,
// eventTime, reportingController, reportingInstance and the deprecated*
// fields) is immutable.
func ValidateEventUpdate(newEv, oldEv *eventsv1.Event) field.ErrorList {
	allErrs := validateEventCommon(newEv)
	allErrs = append(allErrs, corevalidation.ValidateObjectMetaUpdate(&newEv.ObjectMeta, &oldEv.ObjectMeta, field.NewPath("metadata"))...)
	if !apiequality.Semantic.DeepEqual(newEv.Series, oldEv.Series) {
		allErrs = append(allErrs, validateSeries(newEv.Series)...)
	}
	immutable := func(newVal, oldVal any, name string) {
		allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(newVal, oldVal, field.NewPath(name))...)
	}
	immutable(newEv.Regarding, oldEv.Regarding, "regarding")
	immutable(newEv.Reason, oldEv.Reason, "reason")
	immutable(newEv.Note, oldEv.Note, "note")
	immutable(newEv.DeprecatedSource, oldEv.DeprecatedSource, "deprecatedSource")
	immutable(newEv.DeprecatedFirstTimestamp, oldEv.DeprecatedFirstTimestamp, "deprecatedFirstTimestamp")
	immutable(newEv.DeprecatedLastTimestamp, oldEv.DeprecatedLastTimestamp, "deprecatedLastTimestamp")
	immutable(newEv.DeprecatedCount, oldEv.DeprecatedCount, "deprecatedCount")
	immutable(newEv.Type, oldEv.Type, "type")
	immutable(newEv.EventTime, oldEv.EventTime, "eventTime")
	immutable(newEv.Action, oldEv.Action, "action")
	immutable(newEv.Related, oldEv.Related, "related")
	immutable(newEv.ReportingController, oldEv.ReportingController, "reportingController")
	immutable(newEv.ReportingInstance, oldEv.ReportingInstance, "reportingInstance")
	return allErrs
}

// validateEventCommon holds the rules upstream applies to every event write
// regardless of API version (its "legacy" validation). The namespace format
// itself is left to ObjectMeta validation.
func validateEventCommon(ev *eventsv1.Event) field.ErrorList {
	var allErrs field.ErrorList
	nsPath := field.NewPath("regarding", "namespace")
	if ev.EventTime.IsZero() {
		// Old-style event: namespaces must agree.
		if ev.Regarding.Namespace == "" {
			if ev.Namespace != metav1.NamespaceNone && ev.Namespace != metav1.NamespaceDefault {
				allErrs = append(allErrs, field.Invalid(nsPath, ev.Regarding.Namespace, "does not match event.namespace"))
			}
		} else if ev.Namespace != ev.Regarding.Namespace {
			allErrs = append(allErrs, field.Invalid(nsPath, ev.Regarding.Namespace, "does not match event.namespace"))
		}
		return allErrs
	}
	if ev.Regarding.Namespace == "" && ev.Namespace != metav1.NamespaceDefault && ev.Namespace != metav1.NamespaceSystem {
		allErrs = append(allErrs, field.Invalid(nsPath, ev.Regarding.Namespace, "does not match event.namespace"))
	}
	if ev.ReportingController == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("reportingController"), ""))
	} else {
		for _, msg := range utilvalidation.IsQualifiedName(ev.ReportingController) {
			allErrs = append(allErrs, field.Invalid(field.NewPath("reportingController"), ev.ReportingController, msg))
		}
	}
	allErrs = append(allErrs, requiredLimited(ev.ReportingInstance, ReportingInstanceLengthLimit, field.NewPath("reportingInstance"))...)
	allErrs = append(allErrs, requiredLimited(ev.Action, ActionLengthLimit, field.NewPath("action"))...)
	allErrs = append(allErrs, requiredLimited(ev.Reason, ReasonLengthLimit, field.NewPath("reason"))...)
	if len(ev.Note) > NoteLengthLimit {
		allErrs = append(allErrs, field.Invalid(field.NewPath("note"), "", fmt.Sprintf("can have at most %v characters", NoteLengthLimit)))
	}
	return allErrs
}

// requiredLimited reports Required for an empty value and Invalid for one
// longer than limit bytes.
func requiredLimited(value string, limit int, fldPath *field.Path) field.ErrorList {
	if value == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if len(value) > limit {
		return field.ErrorList{field.Invalid(fldPath, "", fmt.Sprintf("can have at most %v characters", limit))}
	}
	return nil
}

func validateSeries(series *eventsv1.EventSeries) field.ErrorList {
	if series == nil {
		return nil
	}
	var allErrs field.ErrorList
	if series.Count < 2 {
		allErrs = append(allErrs, field.Invalid(field.NewPath("series", "count"), "", "should be at least 2"))
	}
	if series.LastObservedTime.IsZero() {
		allErrs = append(allErrs, field.Required(field.NewPath("series", "lastObservedTime"), ""))
	}
	return allErrs
}
