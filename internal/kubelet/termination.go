package kubelet

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Upstream's bounds on a termination message: the file's last 4 KiB, or
// with FallbackToLogsOnError the log's last 80 lines and 2 KiB.
const (
	maxTerminationMessageLength = 4 * 1024
	maxTerminationLogLines      = 80
	maxTerminationLogLength     = 2 * 1024
)

// terminationMessage is what an exited container's terminated state
// shows after the runtime's own message: the file the container wrote at
// its terminationMessagePath (found through the container's mounts), or
// with FallbackToLogsOnError and a failed exit, the tail of its log.
func terminationMessage(s *runtimeapi.ContainerStatus) string {
	a := s.GetAnnotations()
	path := a[annotationTerminationMessagePath]
	fallback := a[annotationTerminationPolicy] == string(v1.TerminationMessageFallbackToLogsOnError) &&
		s.GetExitCode() != 0 && s.GetReason() != "ContainerCannotRun"
	msg, checkLogs := "", fallback
	if path != "" {
		for _, m := range s.GetMounts() {
			if m.GetContainerPath() != path {
				continue
			}
			data, err := readTail(m.GetHostPath(), maxTerminationMessageLength)
			switch {
			case os.IsNotExist(err):
			case err != nil:
				msg, checkLogs = fmt.Sprintf("Error on reading termination log %s: %v", m.GetHostPath(), err), false
			default:
				msg, checkLogs = string(data), fallback && len(data) == 0
			}
			break
		}
	}
	if checkLogs && strings.HasPrefix(s.GetLogPath(), "/") {
		msg = lastLogLines(s.GetLogPath())
	}
	return msg
}

// withTerminationMessage appends the container's own message to the
// runtime's, as upstream: "<runtime message>: <container message>".
func withTerminationMessage(runtimeMsg, msg string) string {
	if msg == "" {
		return runtimeMsg
	}
	if runtimeMsg == "" {
		return msg
	}
	return runtimeMsg + ": " + msg
}

// readTail reads at most the last max bytes of a file.
func readTail(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > max {
		if _, err := f.Seek(st.Size()-max, io.SeekStart); err != nil {
			return nil, err
		}
	}
	return io.ReadAll(io.LimitReader(f, max))
}

// lastLogLines is the content of a CRI log file's last lines
// ("<time> <stream> <P|F> <content>"), within upstream's bounds.
func lastLogLines(path string) string {
	data, err := readTail(path, 64*1024)
	if err != nil {
		return ""
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > maxTerminationLogLines {
		lines = lines[len(lines)-maxTerminationLogLines:]
	}
	var b strings.Builder
	for _, l := range lines {
		parts := bytes.SplitN(l, []byte(" "), 4)
		if len(parts) < 4 {
			continue
		}
		b.Write(parts[3])
		if string(parts[2]) == "F" {
			b.WriteByte('\n')
		}
	}
	out := b.String()
	if len(out) > maxTerminationLogLength {
		out = out[len(out)-maxTerminationLogLength:]
	}
	return out
}
