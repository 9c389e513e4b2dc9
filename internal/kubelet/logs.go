package kubelet

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Container logs as the runtime writes them (the CRI log format) and as
// `kubectl logs` reads them through the kubelet: upstream's
// pkg/kubelet/kuberuntime/logs semantics. Each line of a log file is one
// record:
//
//	2016-10-06T00:17:09.669794202Z stdout P first half of a long line
//	2016-10-06T00:17:09.669794203Z stdout F second half
//
// F ends a line, P is a part of one the runtime split; the parts are
// written back to back so the reader sees the original line, with one
// timestamp prefix per line when timestamps are asked for.

// logMessage is one parsed record. log ends in "\n" for a full record and
// not for a partial one.
type logMessage struct {
	timestamp time.Time
	stream    runtimeapi.LogStreamType
	log       []byte
}

// parseCRILog parses one record, the trailing newline included.
func parseCRILog(line []byte) (logMessage, error) {
	var msg logMessage
	idx := bytes.IndexByte(line, ' ')
	if idx < 0 {
		return msg, errors.New("timestamp is not found")
	}
	ts, err := time.Parse(time.RFC3339Nano, string(line[:idx]))
	if err != nil {
		return msg, fmt.Errorf("unexpected timestamp format %q: %w", time.RFC3339Nano, err)
	}
	msg.timestamp = ts
	line = line[idx+1:]
	idx = bytes.IndexByte(line, ' ')
	if idx < 0 {
		return msg, errors.New("stream type is not found")
	}
	msg.stream = runtimeapi.LogStreamType(line[:idx])
	if msg.stream != runtimeapi.Stdout && msg.stream != runtimeapi.Stderr {
		return msg, fmt.Errorf("unexpected stream type %q", msg.stream)
	}
	line = line[idx+1:]
	idx = bytes.IndexByte(line, ' ')
	if idx < 0 {
		return msg, errors.New("log tag is not found")
	}
	// Tags are ":"-separated for forward compatibility; the first says
	// whether the record is partial.
	partial := runtimeapi.LogTag(bytes.SplitN(line[:idx], []byte(":"), 2)[0]) == runtimeapi.LogTagPartial
	msg.log = line[idx+1:]
	if partial {
		msg.log = bytes.TrimSuffix(msg.log, []byte("\n"))
	}
	return msg, nil
}

// logOptions are a PodLogOptions resolved against the time of the
// request: upstream's NewLogOptions.
type logOptions struct {
	// tail is the number of records to start from the end with; -1 all.
	tail int64
	// bytes caps what is written; -1 no cap.
	bytes      int64
	since      time.Time
	follow     bool
	timestamps bool
	// stdout and stderr say which streams are written.
	stdout, stderr bool
}

func newLogOptions(o *v1.PodLogOptions, now time.Time) logOptions {
	opts := logOptions{tail: -1, bytes: -1, follow: o.Follow, timestamps: o.Timestamps, stdout: true, stderr: true}
	if o.TailLines != nil {
		opts.tail = *o.TailLines
	}
	if o.LimitBytes != nil {
		opts.bytes = *o.LimitBytes
	}
	if o.SinceSeconds != nil {
		opts.since = now.Add(-time.Duration(*o.SinceSeconds) * time.Second)
	}
	if o.SinceTime != nil && o.SinceTime.After(opts.since) {
		opts.since = o.SinceTime.Time
	}
	if o.Stream != nil {
		opts.stdout = *o.Stream != v1.LogStreamStderr
		opts.stderr = *o.Stream != v1.LogStreamStdout
	}
	return opts
}

// validateLogOptions is upstream's ValidatePodLogOptions: the kubelet
// answers 422 "Invalid request." to what it rejects.
func validateLogOptions(o *v1.PodLogOptions) error {
	switch {
	case o.TailLines != nil && *o.TailLines < 0:
		return errors.New("tailLines: must be greater than or equal to 0")
	case o.LimitBytes != nil && *o.LimitBytes < 1:
		return errors.New("limitBytes: must be greater than 0")
	case o.SinceSeconds != nil && o.SinceTime != nil:
		return errors.New("at most one of `sinceTime` or `sinceSeconds` may be specified")
	case o.SinceSeconds != nil && *o.SinceSeconds < 1:
		return errors.New("sinceSeconds: must be greater than 0")
	case o.Stream != nil && *o.Stream != v1.LogStreamStdout && *o.Stream != v1.LogStreamStderr && *o.Stream != v1.LogStreamAll:
		return fmt.Errorf("stream: unsupported value %q", *o.Stream)
	case o.Stream != nil && *o.Stream != v1.LogStreamAll && o.TailLines != nil:
		return errors.New("tailLines: may not be specified when `stream` is not `All`")
	}
	return nil
}

var (
	// errMaximumWrite ends a copy that has written limitBytes.
	errMaximumWrite = errors.New("maximum write")
)

// logWriter writes records as upstream's: older than since are skipped,
// a timestamp prefix starts each line, the byte limit cuts the last one.
type logWriter struct {
	opts   logOptions
	out    io.Writer
	remain int64
}

func newLogWriter(out io.Writer, opts logOptions) *logWriter {
	w := &logWriter{opts: opts, out: out, remain: opts.bytes}
	if w.remain < 0 {
		w.remain = 1<<63 - 1
	}
	return w
}

func (w *logWriter) write(msg logMessage, addPrefix bool) error {
	if msg.timestamp.Before(w.opts.since) {
		return nil
	}
	if (msg.stream == runtimeapi.Stdout && !w.opts.stdout) || (msg.stream == runtimeapi.Stderr && !w.opts.stderr) {
		return nil
	}
	line := msg.log
	if w.opts.timestamps && addPrefix {
		line = append([]byte(msg.timestamp.Format(time.RFC3339Nano)+" "), line...)
	}
	if int64(len(line)) > w.remain {
		line = line[:w.remain]
	}
	n, err := w.out.Write(line)
	w.remain -= int64(n)
	if err != nil {
		return err
	}
	if n < len(line) {
		return io.ErrShortWrite
	}
	if w.remain <= 0 {
		return errMaximumWrite
	}
	return nil
}

// tailStart is the offset of the n-th record from the end of r (size
// bytes long); 0 when it holds fewer, size when n is 0. A last record
// without its newline yet counts as one.
func tailStart(r io.ReaderAt, size, n int64) (int64, error) {
	if n < 0 {
		return 0, nil
	}
	const block = 4096
	end := size
	// A record being written (no newline yet) counts too.
	var last [1]byte
	if size > 0 {
		if _, err := r.ReadAt(last[:], size-1); err != nil {
			return 0, err
		}
		if last[0] == '\n' {
			end = size - 1 // the final newline closes the last record
		}
	}
	if n == 0 {
		return size, nil
	}
	buf := make([]byte, block)
	found := int64(0)
	for pos := end; pos > 0; {
		start := max(pos-block, 0)
		chunk := buf[:pos-start]
		if _, err := r.ReadAt(chunk, start); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		for i := len(chunk) - 1; i >= 0; i-- {
			if chunk[i] == '\n' {
				found++
				if found == n {
					return start + int64(i) + 1, nil
				}
			}
		}
		pos = start
	}
	return 0, nil
}

// copyLogs writes the records of r, read from its start, to w. At the end
// of r it returns, or when following calls more: more returns true when
// the file may have grown (it waited) and false when nothing more will
// come (the container exited), after which the rest is read and copying
// ends. A line still being written at the end is held until it is
// complete. Records that do not parse are skipped, as upstream does.
func copyLogs(ctx context.Context, r io.Reader, opts logOptions, w io.Writer, more func(context.Context) (bool, error)) error {
	lw := newLogWriter(w, opts)
	br := bufio.NewReader(r)
	// tail counts records only when not following, as upstream's
	// limitedMode: the tail's start was found in the file already.
	limited := opts.tail >= 0 && !opts.follow
	left := opts.tail
	newLine := true
	var pending []byte
	final := false
	for {
		if limited && left == 0 {
			return nil
		}
		chunk, err := br.ReadBytes('\n')
		pending = append(pending, chunk...)
		if errors.Is(err, io.EOF) {
			if !opts.follow || final {
				if len(pending) == 0 {
					return nil
				}
				// The last record has no newline: take it as it is.
			} else {
				ok, merr := more(ctx)
				if merr != nil {
					return merr
				}
				if !ok {
					final = true
				}
				continue
			}
		} else if err != nil {
			return err
		}
		line := pending
		pending = nil
		msg, perr := parseCRILog(line)
		if perr != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			continue
		}
		if werr := lw.write(msg, newLine); werr != nil {
			if errors.Is(werr, errMaximumWrite) {
				return nil
			}
			return werr
		}
		if limited {
			left--
		}
		newLine = len(msg.log) == 0 || msg.log[len(msg.log)-1] == '\n'
		if errors.Is(err, io.EOF) {
			return nil
		}
	}
}

// readLogFile copies the log file at path to w with opts; when following,
// it polls the file every poll and asks running whether the container
// still runs (an error from running ends the copy).
func readLogFile(ctx context.Context, path string, opts logOptions, w io.Writer, poll func(context.Context) error, running func(context.Context) (bool, error)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("failed to open log file %q: %w", path, err)
	}
	defer f.Close()
	if opts.tail >= 0 {
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("stat log file %q: %w", path, err)
		}
		start, err := tailStart(f, st.Size(), opts.tail)
		if err != nil {
			return fmt.Errorf("tail log file %q: %w", path, err)
		}
		if _, err := f.Seek(start, io.SeekStart); err != nil {
			return fmt.Errorf("seek log file %q: %w", path, err)
		}
	}
	more := func(ctx context.Context) (bool, error) {
		ok, err := running(ctx)
		if err != nil || !ok {
			return false, err
		}
		if err := poll(ctx); err != nil {
			return false, err
		}
		return true, nil
	}
	var r io.Reader = f
	if opts.follow {
		rf := &reopeningFile{f: f, path: path}
		defer func() { rf.f.Close() }()
		r = rf
	}
	return copyLogs(ctx, r, opts, w, more)
}

// reopeningFile reads a followed log file and, once it is at the end
// and the path names another file (the writer rotated it: renamed it
// away and began a new one), reads on in the new file, as upstream's
// ReadLogs reopens on a rename.
type reopeningFile struct {
	f    *os.File
	path string
}

func (r *reopeningFile) Read(p []byte) (int, error) {
	n, err := r.f.Read(p)
	if n > 0 || !errors.Is(err, io.EOF) {
		return n, err
	}
	cur, err := r.f.Stat()
	if err != nil {
		return 0, io.EOF
	}
	next, err := os.Stat(r.path)
	if err != nil || os.SameFile(cur, next) {
		return 0, io.EOF // not rotated, or the new file not there yet
	}
	// Renamed away: the writer is done with it, but may have written
	// between our last read and the rename.
	if n, err := r.f.Read(p); n > 0 || !errors.Is(err, io.EOF) {
		return n, err
	}
	nf, err := os.Open(r.path)
	if err != nil {
		return 0, io.EOF
	}
	r.f.Close()
	r.f = nf
	return r.f.Read(p)
}

// logContainerID is the runtime ID of the container whose log `kubectl
// logs [--previous]` shows, read from the pod's status, with upstream's
// validateContainerLogStatus rules and wording.
func logContainerID(pod *v1.Pod, name string, previous bool) (string, error) {
	var st *v1.ContainerStatus
	for _, list := range [][]v1.ContainerStatus{pod.Status.ContainerStatuses, pod.Status.InitContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == name {
				st = &list[i]
			}
		}
	}
	if st == nil {
		return "", fmt.Errorf("container %q in pod %q is not available", name, pod.Name)
	}
	last := st.LastTerminationState.Terminated
	var id string
	switch {
	case previous:
		if last == nil || last.ContainerID == "" {
			return "", fmt.Errorf("previous terminated container %q in pod %q not found", name, pod.Name)
		}
		id = last.ContainerID
	case st.State.Running != nil:
		id = st.ContainerID
	case st.State.Terminated != nil:
		id = st.State.Terminated.ContainerID
		if id == "" {
			// The next container did not start: its predecessor's log.
			if last == nil || last.ContainerID == "" {
				return "", fmt.Errorf("container %q in pod %q is terminated", name, pod.Name)
			}
			id = last.ContainerID
		}
	case last != nil:
		if last.ContainerID == "" {
			return "", fmt.Errorf("container %q in pod %q is terminated", name, pod.Name)
		}
		id = last.ContainerID
	case st.State.Waiting != nil:
		switch r := st.State.Waiting.Reason; r {
		case "ErrImagePull":
			return "", fmt.Errorf("container %q in pod %q is waiting to start: image can't be pulled", name, pod.Name)
		case "ImagePullBackOff":
			return "", fmt.Errorf("container %q in pod %q is waiting to start: trying and failing to pull image", name, pod.Name)
		default:
			return "", fmt.Errorf("container %q in pod %q is waiting to start: %v", name, pod.Name, r)
		}
	default:
		return "", fmt.Errorf("container %q in pod %q is waiting to start - no logs yet", name, pod.Name)
	}
	if i := strings.Index(id, "://"); i >= 0 {
		id = id[i+3:]
	}
	return id, nil
}
