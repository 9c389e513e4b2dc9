package proxy

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	eventsvalidation "github.com/skiff-sh/skiff/internal/validation/events"
)

func TestStartingEvent(t *testing.T) {
	ev := startingEvent("node-a", metav1.NewMicroTime(time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)))
	if ev.Reason != "Starting" || ev.ReportingController != "kube-proxy" || ev.Regarding.Kind != "Node" || string(ev.Regarding.UID) != "node-a" {
		t.Errorf("event %+v", ev)
	}
	// The API server's validation of events.k8s.io/v1 creates accepts it.
	if errs := eventsvalidation.ValidateEvent(ev); len(errs) > 0 {
		t.Errorf("invalid: %v", errs)
	}
}
