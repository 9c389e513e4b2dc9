package kubelet

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

func TestParseCRILog(t *testing.T) {
	ts := time.Date(2016, 10, 6, 0, 17, 9, 669794202, time.UTC)
	cases := []struct {
		line    string
		stream  runtimeapi.LogStreamType
		log     string
		wantErr string
	}{
		{line: "2016-10-06T00:17:09.669794202Z stdout F hello\n", stream: runtimeapi.Stdout, log: "hello\n"},
		{line: "2016-10-06T00:17:09.669794202Z stderr P part", stream: runtimeapi.Stderr, log: "part"},
		{line: "2016-10-06T00:17:09.669794202Z stderr P part\n", stream: runtimeapi.Stderr, log: "part"},
		{line: "2016-10-06T00:17:09.669794202Z stdout F:x  two spaces\n", stream: runtimeapi.Stdout, log: " two spaces\n"},
		{line: "2016-10-06T00:17:09.669794202Z stdout F \n", stream: runtimeapi.Stdout, log: "\n"},
		{line: "nospace", wantErr: "timestamp is not found"},
		{line: "yesterday stdout F x\n", wantErr: "unexpected timestamp format"},
		{line: "2016-10-06T00:17:09.669794202Z stdin F x\n", wantErr: `unexpected stream type "stdin"`},
		{line: "2016-10-06T00:17:09.669794202Z stdout", wantErr: "stream type is not found"},
		{line: "2016-10-06T00:17:09.669794202Z stdout F\n", wantErr: "log tag is not found"},
	}
	for _, c := range cases {
		msg, err := parseCRILog([]byte(c.line))
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%q: error %v, want %q", c.line, err, c.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.line, err)
			continue
		}
		if !msg.timestamp.Equal(ts) || msg.stream != c.stream || string(msg.log) != c.log {
			t.Errorf("%q: got %v %s %q", c.line, msg.timestamp, msg.stream, msg.log)
		}
	}
}

func TestTailStart(t *testing.T) {
	cases := []struct {
		content string
		n       int64
		want    int64
	}{
		{"a\nb\nc\n", -1, 0},
		{"a\nb\nc\n", 0, 6},
		{"a\nb\nc\n", 1, 4},
		{"a\nb\nc\n", 2, 2},
		{"a\nb\nc\n", 3, 0},
		{"a\nb\nc\n", 10, 0},
		{"a\nb\nc", 1, 4}, // a record still being written counts
		{"a\nb\nc", 2, 2},
		{"", 3, 0},
		{strings.Repeat("0123456789\n", 1000), 3, 10967}, // across 4 KiB blocks
	}
	for _, c := range cases {
		r := strings.NewReader(c.content)
		got, err := tailStart(r, int64(len(c.content)), c.n)
		if err != nil || got != c.want {
			t.Errorf("tailStart(%.20q…, %d) = %d, %v; want %d", c.content, c.n, got, err, c.want)
		}
	}
}

// criLines is a CRI log with one record a second from t0.
func criLines(t0 time.Time, records ...string) string {
	var b strings.Builder
	for i, r := range records {
		b.WriteString(t0.Add(time.Duration(i) * time.Second).Format(time.RFC3339Nano))
		b.WriteString(" " + r + "\n")
	}
	return b.String()
}

func TestCopyLogs(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	file := criLines(t0,
		"stdout F one",
		"stderr F two",
		"stdout P thr",
		"stdout P e",
		"stdout F e",
		"garbage-that-is-skipped",
		"stdout F five",
	)
	opts := func(o v1.PodLogOptions) logOptions { return newLogOptions(&o, t0.Add(10*time.Second)) }
	cases := []struct {
		name string
		opts logOptions
		want string
	}{
		{"all", opts(v1.PodLogOptions{}), "one\ntwo\nthree\nfive\n"},
		{"timestamps once per joined line", opts(v1.PodLogOptions{Timestamps: true}),
			"2026-01-02T03:04:05Z one\n2026-01-02T03:04:06Z two\n2026-01-02T03:04:07Z three\n2026-01-02T03:04:11Z five\n"},
		{"tail 2 counts records", opts(v1.PodLogOptions{TailLines: ptr.To[int64](2)}), "five\n"},
		{"tail 3", opts(v1.PodLogOptions{TailLines: ptr.To[int64](3)}), "e\nfive\n"},
		{"tail 0", opts(v1.PodLogOptions{TailLines: ptr.To[int64](0)}), ""},
		{"sinceTime", opts(v1.PodLogOptions{SinceTime: &metav1.Time{Time: t0.Add(time.Second)}}), "two\nthree\nfive\n"},
		{"sinceSeconds", opts(v1.PodLogOptions{SinceSeconds: ptr.To[int64](4)}), "five\n"},
		{"limitBytes cuts", opts(v1.PodLogOptions{LimitBytes: ptr.To[int64](6)}), "one\ntw"},
		{"limitBytes exact", opts(v1.PodLogOptions{LimitBytes: ptr.To[int64](4)}), "one\n"},
		{"stdout only", opts(v1.PodLogOptions{Stream: ptr.To(v1.LogStreamStdout)}), "one\nthree\nfive\n"},
		{"stderr only", opts(v1.PodLogOptions{Stream: ptr.To(v1.LogStreamStderr)}), "two\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := strings.NewReader(file)
			if c.opts.tail >= 0 {
				start, err := tailStart(r, int64(len(file)), c.opts.tail)
				if err != nil {
					t.Fatal(err)
				}
				r = strings.NewReader(file[start:])
			}
			var out bytes.Buffer
			if err := copyLogs(context.Background(), r, c.opts, &out, nil); err != nil {
				t.Fatal(err)
			}
			if out.String() != c.want {
				t.Errorf("got %q, want %q", out.String(), c.want)
			}
		})
	}
}

// growingReader hands out its chunks one per read round: io.EOF between
// them, as a file a runtime appends to.
type growingReader struct {
	chunks []string
	cur    *strings.Reader
}

func (g *growingReader) Read(p []byte) (int, error) {
	if g.cur == nil || g.cur.Len() == 0 {
		return 0, io.EOF
	}
	return g.cur.Read(p)
}

func TestCopyLogsFollow(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	all := criLines(t0, "stdout F one", "stdout F two", "stdout F three")
	// The second record arrives in two writes: the reader must hold the
	// half line until its newline comes.
	cut := strings.Index(all, "two") + 1
	g := &growingReader{chunks: []string{all[cut:], ""}}
	g.cur = strings.NewReader(all[:cut])
	waits := 0
	more := func(context.Context) (bool, error) {
		waits++
		if len(g.chunks) == 0 {
			return false, nil
		}
		g.cur = strings.NewReader(g.chunks[0])
		g.chunks = g.chunks[1:]
		return true, nil
	}
	var out bytes.Buffer
	o := newLogOptions(&v1.PodLogOptions{Follow: true, TailLines: ptr.To[int64](1)}, t0)
	if err := copyLogs(context.Background(), g, o, &out, more); err != nil {
		t.Fatal(err)
	}
	// Following, tail only picks the start: everything after is copied.
	if out.String() != "one\ntwo\nthree\n" || waits != 3 {
		t.Errorf("got %q after %d waits", out.String(), waits)
	}
}

func TestLogOptions(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	o := newLogOptions(&v1.PodLogOptions{SinceSeconds: ptr.To[int64](60), SinceTime: &metav1.Time{Time: now.Add(-time.Hour)}}, now)
	if !o.since.Equal(now.Add(-time.Minute)) || o.tail != -1 || o.bytes != -1 {
		t.Errorf("later of the two since wins, no tail, no limit: %+v", o)
	}
	invalid := []v1.PodLogOptions{
		{TailLines: ptr.To[int64](-1)},
		{LimitBytes: ptr.To[int64](0)},
		{SinceSeconds: ptr.To[int64](0)},
		{SinceSeconds: ptr.To[int64](1), SinceTime: &metav1.Time{Time: now}},
		{Stream: ptr.To("Both")},
		{Stream: ptr.To(v1.LogStreamStdout), TailLines: ptr.To[int64](1)},
	}
	for _, o := range invalid {
		if validateLogOptions(&o) == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	if err := validateLogOptions(&v1.PodLogOptions{TailLines: ptr.To[int64](0), Stream: ptr.To(v1.LogStreamAll)}); err != nil {
		t.Error(err)
	}
}

func TestParseLogQuery(t *testing.T) {
	cases := []struct {
		query string
		check func(*v1.PodLogOptions) bool
		err   bool
	}{
		{"follow=true&timestamps=1&previous=false", func(o *v1.PodLogOptions) bool { return o.Follow && o.Timestamps && !o.Previous }, false},
		{"tailLines=10&limitBytes=5&sinceSeconds=3", func(o *v1.PodLogOptions) bool {
			return *o.TailLines == 10 && *o.LimitBytes == 5 && *o.SinceSeconds == 3
		}, false},
		{"tail=7", func(o *v1.PodLogOptions) bool { return *o.TailLines == 7 }, false},
		{"tail=all&tailLines=3", func(o *v1.PodLogOptions) bool { return o.TailLines == nil }, false},
		{"sinceTime=2026-01-02T03:04:05Z", func(o *v1.PodLogOptions) bool { return o.SinceTime.Unix() == 1767323045 }, false},
		{"stream=Stderr", func(o *v1.PodLogOptions) bool { return *o.Stream == "Stderr" }, false},
		{"tailLines=x", nil, true},
		{"sinceTime=yesterday", nil, true},
	}
	for _, c := range cases {
		q, _ := url.ParseQuery(c.query)
		o, err := parseLogQuery(q)
		if (err != nil) != c.err || (err == nil && !c.check(o)) {
			t.Errorf("%s: %+v, %v", c.query, o, err)
		}
	}
}

func TestLogContainerID(t *testing.T) {
	pod := func(st v1.ContainerStatus) *v1.Pod {
		st.Name = "app"
		return &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Status: v1.PodStatus{ContainerStatuses: []v1.ContainerStatus{st}}}
	}
	running := v1.ContainerState{Running: &v1.ContainerStateRunning{}}
	lastDone := v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ContainerID: "containerd://old"}}
	cases := []struct {
		name     string
		pod      *v1.Pod
		previous bool
		want     string
		wantErr  string
	}{
		{"running", pod(v1.ContainerStatus{ContainerID: "containerd://cur", State: running}), false, "cur", ""},
		{"previous", pod(v1.ContainerStatus{ContainerID: "containerd://cur", State: running, LastTerminationState: lastDone}), true, "old", ""},
		{"no previous", pod(v1.ContainerStatus{ContainerID: "containerd://cur", State: running}), true, "",
			`previous terminated container "app" in pod "p" not found`},
		{"terminated", pod(v1.ContainerStatus{State: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ContainerID: "simulated://t"}}}), false, "t", ""},
		{"terminated without id falls back", pod(v1.ContainerStatus{State: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{}}, LastTerminationState: lastDone}), false, "old", ""},
		{"crash loop shows the last run", pod(v1.ContainerStatus{State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}, LastTerminationState: lastDone}), false, "old", ""},
		{"pull failure", pod(v1.ContainerStatus{State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ImagePullBackOff"}}}), false, "",
			`container "app" in pod "p" is waiting to start: trying and failing to pull image`},
		{"creating", pod(v1.ContainerStatus{State: v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: "ContainerCreating"}}}), false, "",
			`container "app" in pod "p" is waiting to start: ContainerCreating`},
		{"no state", pod(v1.ContainerStatus{}), false, "", `container "app" in pod "p" is waiting to start - no logs yet`},
		{"no status", &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}, false, "", `container "app" in pod "p" is not available`},
	}
	for _, c := range cases {
		id, err := logContainerID(c.pod, "app", c.previous)
		if c.wantErr != "" {
			if err == nil || err.Error() != c.wantErr {
				t.Errorf("%s: error %v, want %q", c.name, err, c.wantErr)
			}
			continue
		}
		if err != nil || id != c.want {
			t.Errorf("%s: %q, %v; want %q", c.name, id, err, c.want)
		}
	}
}

// TestReadLogFileFollowsRotation: a followed file renamed away and begun
// anew (as component.LogFiles rotates) is read to its end, then the new
// file from its start.
func TestReadLogFileFollowsRotation(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "c.log")
	if err := os.WriteFile(path, []byte(criLines(t0, "stderr F one")), 0o600); err != nil {
		t.Fatal(err)
	}
	appendTo := func(p, s string) {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := f.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	step := 0
	poll := func(context.Context) error {
		step++
		switch step {
		case 1: // a record, then a rotation (written to the old file just before the rename)
			appendTo(path, criLines(t0, "stderr F two"))
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			appendTo(path, criLines(t0, "stderr F three"))
		case 2:
			appendTo(path, criLines(t0, "stderr F four"))
		}
		return nil
	}
	running := func(context.Context) (bool, error) { return step < 4, nil }
	var out bytes.Buffer
	o := newLogOptions(&v1.PodLogOptions{Follow: true}, t0)
	if err := readLogFile(context.Background(), path, o, &out, poll, running); err != nil {
		t.Fatal(err)
	}
	if out.String() != "one\ntwo\nthree\nfour\n" {
		t.Errorf("got %q", out.String())
	}
}
