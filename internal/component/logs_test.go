package component

import (
	"bytes"
	"fmt"
	"io"
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

// TestLogFilesRotate: a file past MaxSize is kept as .1 and begun anew.
func TestLogFilesRotate(t *testing.T) {
	dir := t.TempDir()
	clk := clocktesting.NewFakePassiveClock(time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC))
	lf := &LogFiles{Dir: dir, Clock: clk, MaxSize: 200}
	logger := slog.New(lf.Handler(slog.NewTextHandler(io.Discard, nil))).With("component", "c")
	line := "2026-12-04T08:00:00Z stderr F level=INFO msg=m component=c n=%d\n"
	for n := range 6 {
		logger.Info("m", "n", n)
	}
	if err := lf.Close(); err != nil {
		t.Fatal(err)
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// Each line is 63 bytes: three fit in 200.
	if got, want := read("c.log.1"), fmt.Sprintf(line, 0)+fmt.Sprintf(line, 1)+fmt.Sprintf(line, 2); got != want {
		t.Errorf("c.log.1:\n%s\nwant:\n%s", got, want)
	}
	if got, want := read("c.log"), fmt.Sprintf(line, 3)+fmt.Sprintf(line, 4)+fmt.Sprintf(line, 5); got != want {
		t.Errorf("c.log:\n%s\nwant:\n%s", got, want)
	}
}

// TestLogFilesOpen: Open moves the last process's file aside before the
// component logs anything.
func TestLogFilesOpen(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "quiet.log"), []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lf := &LogFiles{Dir: dir}
	lf.Open("quiet", "../bad")
	defer lf.Close()
	if b, err := os.ReadFile(filepath.Join(dir, "quiet.log.1")); err != nil || string(b) != "old\n" {
		t.Errorf("quiet.log.1: %q %v", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "quiet.log")); err != nil || len(b) != 0 {
		t.Errorf("quiet.log: %q %v", b, err)
	}
}
