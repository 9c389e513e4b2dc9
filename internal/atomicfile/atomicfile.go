// Package atomicfile writes files so that readers see the old content or
// the new, never a mix: certificates, keys and kubeconfigs are written this
// way.
package atomicfile

import (
	"os"
	"path/filepath"
)

// WriteFile writes data to path with perm by renaming a fully written,
// synced temporary file from the same directory over it. perm applies even
// when path existed with other permissions.
func WriteFile(path string, data []byte, perm os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		_ = tmp.Close()
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err = tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
