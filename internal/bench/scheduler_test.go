package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunSchedulerSmall runs the scheduler bench at a small scale and
// checks the figures hang together.
func TestRunSchedulerSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := RunScheduler(ctx, SchedulerConfig{Nodes: 50, Pods: 300, Writers: 4, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.NodeCreate.Count != 50 || res.Bound.Count != 300 || res.Create.Count != 300 {
		t.Errorf("counts: %+v %+v %+v", res.NodeCreate, res.Create, res.Bound)
	}
	if res.Bound.PerSecond <= 0 || res.Bound.Seconds < res.Create.Seconds*0.5 {
		t.Errorf("bound %+v, create %+v", res.Bound, res.Create)
	}
	l := res.Latency
	if l.P50Ms <= 0 || l.P90Ms < l.P50Ms || l.P99Ms < l.P90Ms || l.MaxMs < l.P99Ms {
		t.Errorf("latency %+v", l)
	}
	if res.CPUSeconds <= 0 || res.Target.Value == "" {
		t.Errorf("cpu %v, target %+v", res.CPUSeconds, res.Target)
	}
	var out bytes.Buffer
	if err := res.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Pods bound") {
		t.Errorf("table:\n%s", out.String())
	}
}
