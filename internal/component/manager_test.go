package component

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// fake is ready once its Run began.
type fake struct {
	name    string
	running atomic.Bool
}

func (f *fake) Name() string { return f.name }
func (f *fake) Ready() bool  { return f.running.Load() }
func (f *fake) Run(ctx context.Context) error {
	f.running.Store(true)
	<-ctx.Done()
	return nil
}

func TestManagerReportsReadyInOrderAndStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var order []string
	stops := 0
	m := &Manager{
		OnReady: func(name string, since time.Duration) {
			order = append(order, name)
			if since < 0 {
				t.Errorf("%s ready at %v", name, since)
			}
			if len(order) == 3 {
				cancel()
			}
		},
		OnStop: func() { stops++ },
	}
	for _, n := range []string{"etcd", "kube-apiserver", "kubelet"} {
		m.Add(&fake{name: n})
	}
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if got := order; len(got) != 3 || got[0] != "etcd" || got[1] != "kube-apiserver" || got[2] != "kubelet" {
		t.Errorf("ready order %v", got)
	}
	if stops != 1 {
		t.Errorf("OnStop called %d times", stops)
	}
}
