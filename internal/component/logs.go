package component

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// LogFiles keeps one log file per component: a slog.Handler (Handler)
// passes every record on to a base handler, as before, and also writes
// the records that carry a "component" attribute (on the record or given
// to Logger.With) to Dir/<component>.log, so that each in-process
// component has its own log, as each of kubeadm's static pods has.
//
// The files are in the CRI log format ("<RFC 3339 nano time> stderr F
// <line>"), the one the kubelet reads container logs in, so `kubectl logs`
// serves them with --tail, --since, --timestamps and -f unchanged. The
// line is slog's text format without its time (the CRI time stands for
// it). A file left by an earlier process is kept as <component>.log.1
// (Open moves it aside at start, before the component logs anything). A
// file that reaches MaxSize is rotated the same way: renamed to .log.1
// (replacing the one before) and started anew, so a component keeps at
// most two files; the kubelet's log follow reopens the path after a
// rename.
//
// Hand-written rather than a library: slog has no tee or routing handler
// in the standard library, and the CRI framing is the kubelet's own.
type LogFiles struct {
	// Dir holds the files; created when the first one opens.
	Dir string
	// Aliases renames components for their file (e.g. the API server logs
	// as "apiserver", its pod is kube-apiserver).
	Aliases map[string]string
	// Clock stamps the lines. Default the real clock.
	Clock clock.PassiveClock
	// MaxSize is the size in bytes past which a file is rotated. Default
	// 10 MiB (the kubelet's containerLogMaxSize).
	MaxSize int64

	mu    sync.Mutex
	files map[string]*criFile
}

// defaultMaxSize is the kubelet's default containerLogMaxSize.
const defaultMaxSize = 10 << 20

// Open opens the files of the named components now, keeping each file
// left by an earlier process as .log.1, so that a component that has
// not logged yet does not show the last run's log as its current one.
func (l *LogFiles) Open(components ...string) {
	for _, c := range components {
		l.file(c)
	}
}

// Path is the file a component's records go to.
func (l *LogFiles) Path(component string) string {
	if a, ok := l.Aliases[component]; ok {
		component = a
	}
	return filepath.Join(l.Dir, component+".log")
}

// Handler wraps base: records go to base, and to their component's file.
func (l *LogFiles) Handler(base slog.Handler) slog.Handler {
	return &teeHandler{base: base, files: l, cache: &sync.Map{}}
}

// Close closes the open files; later records to them are dropped.
func (l *LogFiles) Close() error {
	l.mu.Lock()
	files := make([]*criFile, 0, len(l.files))
	for _, f := range l.files {
		files = append(files, f)
	}
	l.mu.Unlock()
	var first error
	for _, f := range files {
		f.opened.Do(func() {}) // never opened: it stays closed
		f.mu.Lock()
		if f.f != nil {
			if err := f.f.Close(); err != nil && first == nil {
				first = err
			}
			f.f = nil
		}
		f.mu.Unlock()
	}
	return first
}

// file is the open file of one component, opened (and an earlier one
// kept as .1) on first use; nil when the name cannot be a file name.
// The file system calls run outside l.mu (under the file's own once), so
// one component's first record never waits on another's.
func (l *LogFiles) file(component string) *criFile {
	if component == "" || strings.ContainsAny(component, `/\`) || component[0] == '.' {
		return nil
	}
	path := l.Path(component)
	l.mu.Lock()
	f, ok := l.files[path]
	if !ok {
		if l.files == nil {
			l.files = map[string]*criFile{}
		}
		clk := l.Clock
		if clk == nil {
			clk = clock.RealClock{}
		}
		max := l.MaxSize
		if max <= 0 {
			max = defaultMaxSize
		}
		f = &criFile{clock: clk, dir: l.Dir, path: path, maxSize: max}
		l.files[path] = f
	}
	l.mu.Unlock()
	f.opened.Do(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if err := os.MkdirAll(f.dir, 0o755); err != nil {
			return // f.f nil: dropped
		}
		f.rotate()
	})
	return f
}

// criFile frames each line written to it as a CRI log line.
type criFile struct {
	clock   clock.PassiveClock
	dir     string
	path    string
	maxSize int64
	opened  sync.Once

	mu   sync.Mutex
	f    *os.File
	size int64
	buf  []byte
}

// rotate keeps the current file (if any) as path.1 and opens a new
// one; on failure f stays nil and records are dropped. c.mu is held.
func (c *criFile) rotate() {
	if c.f != nil {
		_ = c.f.Close()
		c.f = nil
	}
	if _, err := os.Stat(c.path); err == nil {
		_ = os.Rename(c.path, c.path+".1")
	}
	c.f, _ = os.OpenFile(c.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	c.size = 0
}

func (c *criFile) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return len(p), nil
	}
	ts := c.clock.Now().UTC().Format(time.RFC3339Nano)
	c.buf = c.buf[:0]
	for _, line := range strings.SplitAfter(string(p), "\n") {
		if line == "" {
			continue
		}
		tag := "F"
		if !strings.HasSuffix(line, "\n") {
			tag, line = "P", line+"\n"
		}
		c.buf = fmt.Appendf(c.buf, "%s stderr %s %s", ts, tag, line)
	}
	if c.size > 0 && c.size+int64(len(c.buf)) > c.maxSize {
		c.rotate()
		if c.f == nil {
			return len(p), nil
		}
	}
	n, err := c.f.Write(c.buf)
	c.size += int64(n)
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// teeHandler is LogFiles' handler: base plus the component's file.
type teeHandler struct {
	base  slog.Handler
	files *LogFiles
	// component is the one a With call named; grouped says a WithGroup
	// came first, so later attributes are not the top-level one.
	component string
	grouped   bool
	// ops replays the With calls on a component's file handler.
	ops   []func(slog.Handler) slog.Handler
	cache *sync.Map // component → its file's handler with ops applied
}

func (h *teeHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.base.Enabled(ctx, level)
}

func (h *teeHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.base.Handle(ctx, r)
	component := h.component
	if component == "" && !h.grouped {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "component" {
				component = a.Value.String()
				return false
			}
			return true
		})
	}
	if fh := h.fileHandler(component); fh != nil {
		_ = fh.Handle(ctx, r)
	}
	return err
}

func (h *teeHandler) fileHandler(component string) slog.Handler {
	if component == "" {
		return nil
	}
	if fh, ok := h.cache.Load(component); ok {
		return fh.(slog.Handler)
	}
	f := h.files.file(component)
	if f == nil {
		return nil
	}
	var fh slog.Handler = slog.NewTextHandler(f, &slog.HandlerOptions{
		Level: slog.LevelDebug, // the base decides (Enabled)
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{} // the CRI time stands for it
			}
			return a
		},
	})
	for _, op := range h.ops {
		fh = op(fh)
	}
	h.cache.Store(component, fh)
	return fh
}

func (h *teeHandler) with(base slog.Handler, op func(slog.Handler) slog.Handler) *teeHandler {
	return &teeHandler{
		base: base, files: h.files, component: h.component, grouped: h.grouped,
		ops: append(append([]func(slog.Handler) slog.Handler(nil), h.ops...), op), cache: &sync.Map{},
	}
}

func (h *teeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := h.with(h.base.WithAttrs(attrs), func(x slog.Handler) slog.Handler { return x.WithAttrs(attrs) })
	if !h.grouped {
		for _, a := range attrs {
			if a.Key == "component" {
				n.component = a.Value.String()
			}
		}
	}
	return n
}

func (h *teeHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := h.with(h.base.WithGroup(name), func(x slog.Handler) slog.Handler { return x.WithGroup(name) })
	n.grouped = true
	return n
}
