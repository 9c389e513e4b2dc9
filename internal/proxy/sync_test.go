package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/proxy/conntrack"
	"github.com/skiff-sh/skiff/internal/proxy/model"
)

// fakeBackend answers each Sync with the next of results (the last one
// once they run out).
type fakeBackend struct{ results []model.SyncResult }

func (b *fakeBackend) Name() string { return "fake" }
func (b *fakeBackend) Sync(_ context.Context, _ *model.Snapshot, full bool) (model.SyncResult, error) {
	res := b.results[0]
	if len(b.results) > 1 {
		b.results = b.results[1:]
	}
	res.Full = res.Full || full
	return res, nil
}
func (b *fakeBackend) Cleanup(context.Context) error { return nil }

// fakeDeleter records the filters it is given and fails with errs in turn.
type fakeDeleter struct {
	calls [][]conntrack.Filter
	errs  []error
}

func (d *fakeDeleter) Delete(filters []conntrack.Filter) (int, error) {
	d.calls = append(d.calls, filters)
	var err error
	if len(d.errs) > 0 {
		err, d.errs = d.errs[0], d.errs[1:]
	}
	return 0, err
}

// TestSyncReports drives sync by hand against a fake backend and
// conntrack deleter: a replaced table is a Warn, full syncs re-check
// every UDP port's conntrack entries, and a clean-up error is logged at
// Error only when it changes (an interrupted dump at Warn), each failure
// leading the next sync to re-check.
func TestSyncReports(t *testing.T) {
	var logs bytes.Buffer
	backend := &fakeBackend{results: []model.SyncResult{
		{Replaced: true, ReplaceCause: errors.New("EBUSY")},
		{CleanupErr: errors.New("EBUSY")},
		{CleanupErr: errors.New("EBUSY")},
		{},
	}}
	deleter := &fakeDeleter{errs: []error{nil, errors.New("EPERM"), errors.New("EPERM"),
		fmt.Errorf("conntrack: delete: %w", netlink.ErrDumpInterrupted), errors.New("EPERM")}}
	p, err := New(Config{Client: fake.NewClientset(), NodeName: "node-a", Backend: backend, Conntrack: deleter,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	svc := &v1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "dns"}, Spec: v1.ServiceSpec{
		ClusterIP: "10.43.0.10", Ports: []v1.ServicePort{{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP}}}}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: "dns-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "dns"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("dns"), Port: ptr.To[int32](5353), Protocol: ptr.To(v1.ProtocolUDP)}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.42.0.5"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
	}
	if err := p.informers.Core().V1().Services().Informer().GetIndexer().Add(svc); err != nil {
		t.Fatal(err)
	}
	if err := p.informers.Discovery().V1().EndpointSlices().Informer().GetIndexer().Add(slice); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	steps := []struct {
		full     bool
		checked  bool   // the deleter was called
		newLines string // what the step logged at Warn and above
	}{
		{full: true, checked: true, newLines: "level=WARN msg=\"full sync could not amend the rules and replaced them all"},
		{full: false, checked: false}, // nothing changed
		{full: true, checked: true},   // a full sync re-checks: EPERM
		{full: false, checked: true},  // a retry after a failure: EPERM again, not logged
		{full: false, checked: true},  // interrupted dump: Warn
		{full: false, checked: true},  // EPERM: logged again, the error changed
		{full: false, checked: true},  // works
		{full: false, checked: false}, // nothing changed
	}
	wantLevels := []string{"WARN", "WARN", "ERROR", "", "WARN", "ERROR", "", ""}
	for i, step := range steps {
		calls, before := len(deleter.calls), logs.Len()
		if err := p.sync(ctx, step.full); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := len(deleter.calls) > calls; got != step.checked {
			t.Errorf("step %d: conntrack checked %v, want %v", i, got, step.checked)
		}
		logged := logs.String()[before:]
		if step.newLines != "" && !strings.Contains(logged, step.newLines) {
			t.Errorf("step %d: logged %q, want %q", i, logged, step.newLines)
		}
		if n := strings.Count(logged, "\n"); wantLevels[i] == "" && n != 0 || wantLevels[i] != "" && (n != 1 || !strings.Contains(logged, "level="+wantLevels[i])) {
			t.Errorf("step %d: logged %q, want one line at %q", i, logged, wantLevels[i])
		}
	}
}
