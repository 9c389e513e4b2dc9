package etcd

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"go.uber.org/zap"
)

func TestZapToSlog(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	z := newZapLogger(logger.With("component", "etcd")).Named("raft").With(zap.String("member", "skiff"))
	z.Info("noise")
	z.Warn("slow fdatasync", zap.Duration("took", 1500000000), zap.Int("expected", 1))
	z.Error("lost leader")
	want := "level=WARN msg=\"slow fdatasync\" component=etcd logger=raft expected=1 member=skiff took=1.5s\n" +
		"level=ERROR msg=\"lost leader\" component=etcd logger=raft member=skiff\n"
	if got := buf.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if strings.Contains(buf.String(), "noise") {
		t.Error("info passed")
	}
}
