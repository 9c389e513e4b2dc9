package component

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"
)

func TestLogFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "kube-apiserver.log"), []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 4, 8, 0, 0, 5, time.UTC))
	lf := &LogFiles{Dir: dir, Aliases: map[string]string{"apiserver": "kube-apiserver"}, Clock: clk}
	var stderr bytes.Buffer
	logger := slog.New(lf.Handler(slog.NewTextHandler(&stderr, nil)))

	logger.With("component", "kube-scheduler").Info("scheduled", "pod", "default/web")
	logger.Info("served", "component", "apiserver", "code", 200)
	logger.Info("no component")
	logger.Debug("below the level", "component", "kube-scheduler")
	logger.WithGroup("g").Info("grouped", "component", "nested") // not top-level: no file
	logger.With("component", "kube-scheduler").WithGroup("req").Info("multi\nline", "n", 1)
	if err := lf.Close(); err != nil {
		t.Fatal(err)
	}

	if got := strings.Count(stderr.String(), "\n"); got != 5 {
		t.Errorf("stderr has %d lines, want 5 (all enabled records):\n%s", got, stderr.String())
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	wantSched := "2026-12-04T08:00:00.000000005Z stderr F level=INFO msg=scheduled component=kube-scheduler pod=default/web\n" +
		"2026-12-04T08:00:00.000000005Z stderr F level=INFO msg=\"multi\\nline\" component=kube-scheduler req.n=1\n"
	if got := read("kube-scheduler.log"); got != wantSched {
		t.Errorf("kube-scheduler.log:\n%s\nwant:\n%s", got, wantSched)
	}
	if got, want := read("kube-apiserver.log"), "2026-12-04T08:00:00.000000005Z stderr F level=INFO msg=served component=apiserver code=200\n"; got != want {
		t.Errorf("kube-apiserver.log:\n%q\nwant:\n%q", got, want)
	}
	if got := read("kube-apiserver.log.1"); got != "old\n" {
		t.Errorf("the earlier file was not kept: %q", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "nested.log")); err == nil {
		t.Error("a grouped component attribute made a file")
	}
	if p := lf.Path("apiserver"); p != filepath.Join(dir, "kube-apiserver.log") {
		t.Errorf("Path(apiserver) = %s", p)
	}
}
