package containerd

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func TestPauseELFParses(t *testing.T) {
	for arch, machine := range elfMachine {
		t.Run(arch, func(t *testing.T) {
			bin, err := pauseELF(arch)
			if err != nil {
				t.Fatal(err)
			}
			f, err := elf.NewFile(bytes.NewReader(bin))
			if err != nil {
				t.Fatalf("not an ELF: %v", err)
			}
			if f.Machine != machine || f.Type != elf.ET_EXEC || len(f.Progs) != 1 {
				t.Fatalf("machine %v type %v progs %d", f.Machine, f.Type, len(f.Progs))
			}
			if len(bin) > 256 {
				t.Errorf("pause is %d bytes, want a tiny program", len(bin))
			}
		})
	}
}

// TestPauseRunsUntilKilled runs the generated program on this machine: it
// must block (not crash) and die of SIGKILL.
func TestPauseRunsUntilKilled(t *testing.T) {
	bin, err := pauseELF(runtime.GOARCH)
	if err != nil {
		t.Skip(err)
	}
	path := filepath.Join(t.TempDir(), "pause")
	if err := os.WriteFile(path, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("pause exited on its own: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
	ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("pause ended with %v, want killed by SIGKILL", cmd.ProcessState)
	}
}

func TestPauseImage(t *testing.T) {
	img, err := pauseImage("amd64")
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.Architecture != "amd64" || cf.OS != "linux" || len(cf.Config.Entrypoint) != 1 || cf.Config.Entrypoint[0] != "/pause" {
		t.Fatalf("config %+v", cf)
	}
	d1, _ := img.Digest()
	img2, _ := pauseImage("amd64")
	d2, _ := img2.Digest()
	if d1 != d2 {
		t.Fatalf("digest not stable: %s vs %s", d1, d2)
	}
	if _, err := pauseArchive(); err != nil {
		t.Fatal(err)
	}
}
