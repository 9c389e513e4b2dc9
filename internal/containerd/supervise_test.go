package containerd

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSupervisorRestarts runs stand-ins for containerd that never answer
// the CRI: one exits at once, one hangs past StartTimeout. The supervisor
// must restart both (the hung one after killing it), stay not Ready, and
// return when ctx ends.
func TestSupervisorRestarts(t *testing.T) {
	for _, tc := range []struct {
		name, script, wantLog string
	}{
		{"exits", "exit 3", "exited before answering"},
		{"hangs", "exec sleep 1000", "did not answer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			starts := filepath.Join(dir, "starts")
			bin := filepath.Join(dir, "fake-containerd")
			script := "#!/bin/sh\necho start >> " + starts + "\n" + tc.script + "\n"
			if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			var logs syncBuffer
			c, err := New(Config{
				DataDir: filepath.Join(dir, "ctd"), Binary: bin,
				StartTimeout: 200 * time.Millisecond, RestartBackoff: 10 * time.Millisecond,
				Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- c.Run(ctx) }()
			deadline := time.Now().Add(30 * time.Second)
			for {
				b, _ := os.ReadFile(starts)
				if bytes.Count(b, []byte("start")) >= 3 {
					break
				}
				if c.Ready() {
					t.Fatal("Ready with a containerd that never answered")
				}
				if time.Now().After(deadline) {
					t.Fatalf("not restarted 3 times; logs:\n%s", logs.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run: %v", err)
			}
			if out := logs.String(); !strings.Contains(out, tc.wantLog) || !strings.Contains(out, "containerd exited; restarting") {
				t.Fatalf("logs lack %q and the restart:\n%s", tc.wantLog, out)
			}
		})
	}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRestartBackoff(t *testing.T) {
	const first = time.Second
	for _, tc := range []struct {
		name               string
		current, uptime    time.Duration
		wantWait, wantNext time.Duration
	}{
		{"first exit", 0, time.Second, first, 2 * time.Second},
		{"doubles", 4 * time.Second, time.Second, 4 * time.Second, 8 * time.Second},
		{"capped", 40 * time.Second, time.Second, 40 * time.Second, MaxRestartBackoff},
		{"stays capped", MaxRestartBackoff, time.Second, MaxRestartBackoff, MaxRestartBackoff},
		{"long run resets", MaxRestartBackoff, 2 * time.Minute, first, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wait, next := restartBackoff(tc.current, first, tc.uptime)
			if wait != tc.wantWait || next != tc.wantNext {
				t.Fatalf("restartBackoff(%v, %v, %v) = %v, %v; want %v, %v", tc.current, first, tc.uptime, wait, next, tc.wantWait, tc.wantNext)
			}
		})
	}
}
