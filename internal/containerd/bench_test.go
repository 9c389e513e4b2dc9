package containerd

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkRunToReady measures a cold start: from Run on an empty data dir
// to Ready (containerd started, CRI Version answered, pause image
// imported and unpacked), then a stop. ns/op is one start; the stop is
// excluded.
func BenchmarkRunToReady(b *testing.B) {
	skipUnlessRuntime(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c, err := New(Config{DataDir: b.TempDir(), BridgeName: "skb" + randomHex(3), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		b.StartTimer()
		go func() { done <- c.Run(ctx) }()
		for !c.Ready() {
			time.Sleep(5 * time.Millisecond)
		}
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
}
