package printers

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// eventColumns are the columns both kinds of event print with: LAST SEEN
// TYPE REASON OBJECT MESSAGE, and with -o wide SUBOBJECT SOURCE FIRST SEEN
// COUNT NAME (in column order: SUBOBJECT and SOURCE come before MESSAGE).
func eventColumns() []metav1.TableColumnDefinition {
	doc := corev1.Event{}.SwaggerDoc()
	name := nameColumn()
	name.Priority = 1
	return []metav1.TableColumnDefinition{
		column("Last Seen", "string", doc["lastTimestamp"]),
		column("Type", "string", doc["type"]),
		column("Reason", "string", doc["reason"]),
		column("Object", "string", doc["involvedObject"]),
		wide(column("Subobject", "string", corev1.ObjectReference{}.SwaggerDoc()["fieldPath"])),
		wide(column("Source", "string", doc["source"])),
		column("Message", "string", doc["message"]),
		wide(column("First Seen", "string", doc["firstTimestamp"])),
		wide(column("Count", "string", doc["count"])),
		name,
	}
}

// coreEventPrinter prints core/v1 events.
func coreEventPrinter() Printer {
	return typed[corev1.Event, *corev1.Event]{columns: eventColumns(), cells: eventCells}
}

// eventsV1EventPrinter prints events.k8s.io/v1 events, which upstream
// serves from the same storage as core events and prints alike.
func eventsV1EventPrinter() Printer {
	return typed[eventsv1.Event, *eventsv1.Event]{
		columns: eventColumns(),
		cells: func(e *eventsv1.Event, now time.Time) ([]interface{}, error) {
			return eventCells(coreEvent(e), now)
		},
	}
}

// eventCells is one event's row. FIRST SEEN is the first timestamp, or the
// event time when that is unset; LAST SEEN the last timestamp, or FIRST SEEN
// when that is unset, or the series' last observation for a series. COUNT is
// the series' count, or the count (1 when unset). OBJECT is kind/name of the
// involved object in lower case. SOURCE is "component, host", each falling
// back to the reporting controller and instance.
func eventCells(e *corev1.Event, now time.Time) ([]interface{}, error) {
	first := since(e.FirstTimestamp, now)
	if e.FirstTimestamp.IsZero() {
		first = sinceMicro(e.EventTime, now)
	}
	last := since(e.LastTimestamp, now)
	if e.LastTimestamp.IsZero() {
		last = first
	}
	count := e.Count
	if e.Series != nil {
		last = sinceMicro(e.Series.LastObservedTime, now)
		count = e.Series.Count
	} else if count == 0 {
		count = 1 // singleton events of the new API carry no count
	}

	target := strings.ToLower(e.InvolvedObject.Kind)
	if e.InvolvedObject.Name != "" {
		target = fmt.Sprintf("%s/%s", target, e.InvolvedObject.Name)
	}

	component, instance := e.Source.Component, e.Source.Host
	if component == "" {
		component = e.ReportingController
	}
	if instance == "" {
		instance = e.ReportingInstance
	}
	source := component
	if instance != "" {
		source = component + ", " + instance
	}

	return []interface{}{
		last, e.Type, e.Reason, target, e.InvolvedObject.FieldPath, source,
		strings.TrimSpace(e.Message), first, int64(count), e.Name,
	}, nil
}

// coreEvent is e as a core/v1 event, field for field as upstream converts
// events.k8s.io/v1 events to the internal event both are stored as.
func coreEvent(e *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		ObjectMeta:          e.ObjectMeta,
		InvolvedObject:      e.Regarding,
		Reason:              e.Reason,
		Message:             e.Note,
		Source:              e.DeprecatedSource,
		FirstTimestamp:      e.DeprecatedFirstTimestamp,
		LastTimestamp:       e.DeprecatedLastTimestamp,
		Count:               e.DeprecatedCount,
		Type:                e.Type,
		EventTime:           e.EventTime,
		Action:              e.Action,
		Related:             e.Related,
		ReportingController: e.ReportingController,
		ReportingInstance:   e.ReportingInstance,
	}
	if e.Series != nil {
		out.Series = &corev1.EventSeries{Count: e.Series.Count, LastObservedTime: e.Series.LastObservedTime}
	}
	return out
}
