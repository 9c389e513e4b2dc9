package kubelet

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 12, 3, 21, 0, 0, 0, time.UTC)
	read := func(p string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	link := func(p string) string {
		t.Helper()
		l, err := os.Readlink(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		return l
	}

	changed, err := writeAtomic(dir, map[string]fileProjection{
		"a":          {Data: []byte("1"), Mode: 0o644},
		"sub/deep/b": {Data: []byte("2"), Mode: 0o400},
	}, t0)
	if err != nil || !changed {
		t.Fatalf("first write: changed=%v err=%v", changed, err)
	}
	first := link("..data")
	if !strings.HasPrefix(first, "..2026_12_03_21_00_00.") {
		t.Errorf("..data -> %s, want a timestamped dir", first)
	}
	if link("a") != "..data/a" || link("sub") != "..data/sub" {
		t.Errorf("user-visible links: a -> %s, sub -> %s", link("a"), link("sub"))
	}
	if read("a") != "1" || read("sub/deep/b") != "2" {
		t.Errorf("contents: %q %q", read("a"), read("sub/deep/b"))
	}
	if st, _ := os.Stat(filepath.Join(dir, "sub/deep/b")); st.Mode().Perm() != 0o400 {
		t.Errorf("mode = %v", st.Mode().Perm())
	}
	if st, _ := os.Stat(filepath.Join(dir, first)); st.Mode().Perm() != 0o755 {
		t.Errorf("timestamped dir mode = %v", st.Mode().Perm())
	}

	changed, err = writeAtomic(dir, map[string]fileProjection{
		"a":          {Data: []byte("1"), Mode: 0o644},
		"sub/deep/b": {Data: []byte("2"), Mode: 0o400},
	}, t0.Add(time.Minute))
	if err != nil || changed {
		t.Fatalf("unchanged write: changed=%v err=%v", changed, err)
	}

	changed, err = writeAtomic(dir, map[string]fileProjection{"a": {Data: []byte("new"), Mode: 0o644}, "c": {Data: []byte("3"), Mode: 0o644}}, t0.Add(2*time.Minute))
	if err != nil || !changed {
		t.Fatalf("update: changed=%v err=%v", changed, err)
	}
	if link("..data") == first {
		t.Error("..data still points at the old dir")
	}
	if read("a") != "new" || read("c") != "3" {
		t.Errorf("after update: %q %q", read("a"), read("c"))
	}
	if _, err := os.Lstat(filepath.Join(dir, "sub")); !os.IsNotExist(err) {
		t.Errorf("sub should be gone: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, first)); !os.IsNotExist(err) {
		t.Errorf("old timestamped dir should be gone: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 4 { // ..<ts>, ..data, a, c
		t.Errorf("dir holds %v", names)
	}

	for _, bad := range []string{"/abs", "../up", "x/../../up", "..hidden", ""} {
		if _, err := writeAtomic(dir, map[string]fileProjection{bad: {Data: []byte("x"), Mode: 0o644}}, t0); err == nil {
			t.Errorf("path %q: want an error", bad)
		}
	}
}

func TestSetUpHostPath(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	typ := func(s v1.HostPathType) *v1.HostPathType { return &s }
	tests := []struct {
		path    string
		typ     *v1.HostPathType
		wantErr string
		created bool
	}{
		{path: filepath.Join(dir, "missing"), typ: nil},
		{path: filepath.Join(dir, "missing"), typ: typ(v1.HostPathUnset)},
		{path: filepath.Join(dir, "new/dir"), typ: typ(v1.HostPathDirectoryOrCreate), created: true},
		{path: dir, typ: typ(v1.HostPathDirectory)},
		{path: filepath.Join(dir, "nodir"), typ: typ(v1.HostPathDirectory), wantErr: "hostPath " + dir + "/nodir doesn't exist"},
		{path: file, typ: typ(v1.HostPathDirectory), wantErr: "hostPath type check failed: " + file + " is not a directory, it's a File"},
		{path: filepath.Join(dir, "newfile"), typ: typ(v1.HostPathFileOrCreate), created: true},
		{path: file, typ: typ(v1.HostPathFile)},
		{path: dir, typ: typ(v1.HostPathFile), wantErr: "hostPath type check failed: " + dir + " is not a file, it's a Directory"},
		{path: sock, typ: typ(v1.HostPathSocket)},
		{path: file, typ: typ(v1.HostPathSocket), wantErr: "hostPath type check failed: " + file + " is not a socket file, it's a File"},
		{path: "/dev/null", typ: typ(v1.HostPathCharDev)},
		{path: "/dev/null", typ: typ(v1.HostPathBlockDev), wantErr: "hostPath type check failed: /dev/null is not a block device, it's a CharDevice"},
		{path: "/srv/../etc", typ: nil, wantErr: "invalid HostPath `/srv/../etc`: must not contain '..'"},
		{path: dir, typ: typ("Weird"), wantErr: "Weird is an invalid volume type"},
	}
	for _, tt := range tests {
		err := setUpHostPath(&v1.HostPathVolumeSource{Path: tt.path, Type: tt.typ})
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.wantErr {
			t.Errorf("%s (%v): error %q, want %q", tt.path, ptr.Deref(tt.typ, "nil"), got, tt.wantErr)
		}
		if tt.created && !pathExists(tt.path) {
			t.Errorf("%s was not created", tt.path)
		}
	}
}

func TestSetVolumeOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing a file's group to any gid needs root")
	}
	dir := t.TempDir()
	if _, err := writeAtomic(dir, map[string]fileProjection{"a": {Data: []byte("1"), Mode: 0o400}}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := setVolumeOwnership(dir, 4242, true); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o440 || st.Sys().(*syscall.Stat_t).Gid != 4242 {
		t.Errorf("file: mode %v gid %d", st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Gid)
	}
	if st, _ := os.Stat(dir); st.Mode()&os.ModeSetgid == 0 || st.Sys().(*syscall.Stat_t).Gid != 4242 {
		t.Errorf("dir: mode %v", st.Mode())
	}
}

func TestWriteAtomicIgnoresModeChanges(t *testing.T) {
	dir := t.TempDir()
	files := map[string]fileProjection{"a": {Data: []byte("1"), Mode: 0o400}}
	if _, err := writeAtomic(dir, files, time.Now()); err != nil {
		t.Fatal(err)
	}
	// What an fsGroup does after a write must not look like a change.
	if err := os.Chmod(filepath.Join(dir, "a"), 0o440); err != nil {
		t.Fatal(err)
	}
	if changed, err := writeAtomic(dir, files, time.Now()); err != nil || changed {
		t.Errorf("changed=%v err=%v", changed, err)
	}
}
