package kubelet

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// setUpHostPath checks (and for the ...OrCreate types creates) a
// hostPath volume's path, with upstream's messages.
func setUpHostPath(src *v1.HostPathVolumeSource) error {
	for _, part := range strings.Split(src.Path, "/") {
		if part == ".." {
			return fmt.Errorf("invalid HostPath `%s`: must not contain '..'", src.Path)
		}
	}
	t := v1.HostPathUnset
	if src.Type != nil {
		t = *src.Type
	}
	switch t {
	case v1.HostPathUnset:
		return nil
	case v1.HostPathDirectoryOrCreate:
		if !pathExists(src.Path) {
			if err := os.MkdirAll(src.Path, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		}
		return hostPathTypeIs(src.Path, v1.HostPathDirectory, "directory")
	case v1.HostPathDirectory:
		return hostPathTypeIs(src.Path, v1.HostPathDirectory, "directory")
	case v1.HostPathFileOrCreate:
		if !pathExists(src.Path) {
			f, err := os.OpenFile(src.Path, os.O_CREATE, 0o644)
			if f != nil {
				f.Close()
			}
			if err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		}
		return hostPathTypeIs(src.Path, v1.HostPathFile, "file")
	case v1.HostPathFile:
		return hostPathTypeIs(src.Path, v1.HostPathFile, "file")
	case v1.HostPathSocket:
		return hostPathTypeIs(src.Path, v1.HostPathSocket, "socket file")
	case v1.HostPathCharDev:
		return hostPathTypeIs(src.Path, v1.HostPathCharDev, "character device")
	case v1.HostPathBlockDev:
		return hostPathTypeIs(src.Path, v1.HostPathBlockDev, "block device")
	}
	return fmt.Errorf("%s is an invalid volume type", t)
}

func pathExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func hostPathTypeIs(path string, want v1.HostPathType, what string) error {
	if !pathExists(path) {
		return fmt.Errorf("hostPath %s doesn't exist", path)
	}
	got, err := hostFileType(path)
	if err != nil {
		return fmt.Errorf("hostPath type check failed, %s is not a %s, unable to determine its type: %w", path, what, err)
	}
	if got != want {
		return fmt.Errorf("hostPath type check failed: %s is not a %s, it's a %s", path, what, got)
	}
	return nil
}

// hostFileType is upstream's hostutil GetFileType (symlinks followed).
func hostFileType(path string) (v1.HostPathType, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	m := st.Mode()
	switch {
	case m.IsDir():
		return v1.HostPathDirectory, nil
	case m.IsRegular():
		return v1.HostPathFile, nil
	case m&os.ModeSocket != 0:
		return v1.HostPathSocket, nil
	case m&os.ModeCharDevice != 0:
		return v1.HostPathCharDev, nil
	case m&os.ModeDevice != 0:
		return v1.HostPathBlockDev, nil
	}
	return "", errors.New("only recognise file, directory, socket, block device and character device")
}
