package kubelet

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// The atomic writer's reserved names in a volume directory, upstream's.
const (
	dataDirName    = "..data"
	newDataDirName = "..data_tmp"
)

// writeAtomic projects files into dir with upstream's atomic-writer
// layout, so that a container never sees half an update:
//
//	dir/..2026_12_03_21_00_00.123456789/<path>   the files, in a timestamped dir
//	dir/..data -> ..2026_12_03_21_00_00.123456789
//	dir/<top-level name> -> ..data/<top-level name>
//
// An update writes a new timestamped dir, renames a fresh ..data_tmp
// symlink over ..data (one atomic rename), then prunes user-visible
// names that are gone and the old dir. It reports whether anything
// changed. dir must exist; paths may not be absolute, contain "..", or
// start with "..". Upstream's AtomicWriter lives in k8s.io/kubernetes,
// which is not importable, hence this small rewrite.
func writeAtomic(dir string, files map[string]fileProjection, now time.Time) (bool, error) {
	clean := make(map[string]fileProjection, len(files))
	for p, f := range files {
		if err := validateVolumePath(p); err != nil {
			return false, err
		}
		clean[filepath.Clean(p)] = f
	}

	dataLink := filepath.Join(dir, dataDirName)
	oldTs, err := os.Readlink(dataLink)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("reading the data directory link: %w", err)
	}
	var remove []string
	if oldTs != "" {
		oldPath := filepath.Join(dir, oldTs)
		remove, err = pathsToRemove(clean, oldPath)
		if err != nil {
			return false, err
		}
		write, err := payloadDiffers(clean, oldPath)
		if err != nil {
			return false, err
		}
		if !write && len(remove) == 0 {
			return false, nil
		}
	}

	tsDir, err := os.MkdirTemp(dir, now.UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, fmt.Errorf("creating a timestamped data directory: %w", err)
	}
	// Group and others must be able to walk the tree whatever the umask.
	if err := os.Chmod(tsDir, 0o755); err != nil {
		os.RemoveAll(tsDir)
		return false, err
	}
	if err := writePayload(clean, tsDir); err != nil {
		os.RemoveAll(tsDir)
		return false, err
	}
	for p := range clean {
		top, _, _ := strings.Cut(p, string(os.PathSeparator))
		visible := filepath.Join(dir, top)
		if _, err := os.Lstat(visible); errors.Is(err, fs.ErrNotExist) {
			if err := os.Symlink(filepath.Join(dataDirName, top), visible); err != nil {
				os.RemoveAll(tsDir)
				return false, fmt.Errorf("creating the user-visible link %s: %w", top, err)
			}
		}
	}
	tmpLink := filepath.Join(dir, newDataDirName)
	_ = os.Remove(tmpLink) // left over by a crash between symlink and rename
	if err := os.Symlink(filepath.Base(tsDir), tmpLink); err != nil {
		os.RemoveAll(tsDir)
		return false, fmt.Errorf("creating the new data directory link: %w", err)
	}
	if err := os.Rename(tmpLink, dataLink); err != nil {
		os.Remove(tmpLink)
		os.RemoveAll(tsDir)
		return false, fmt.Errorf("swapping the data directory link: %w", err)
	}
	var lastErr error
	for _, p := range remove {
		if strings.Contains(p, string(os.PathSeparator)) {
			continue // only the top level holds user-visible links
		}
		if err := os.Remove(filepath.Join(dir, p)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			lastErr = err
		}
	}
	if oldTs != "" {
		if err := os.RemoveAll(filepath.Join(dir, oldTs)); err != nil {
			lastErr = err
		}
	}
	return true, lastErr
}

// validateVolumePath is upstream's atomic-writer path check, with its
// messages.
func validateVolumePath(p string) error {
	const maxFileNameLength, maxPathLength = 255, 4096
	if p == "" {
		return fmt.Errorf("invalid path: must not be empty: %q", p)
	}
	if filepath.IsAbs(p) {
		return fmt.Errorf("invalid path: must be relative path: %s", p)
	}
	if len(p) > maxPathLength {
		return fmt.Errorf("invalid path: must be less than or equal to %d characters", maxPathLength)
	}
	items := strings.Split(p, string(os.PathSeparator))
	for _, it := range items {
		if it == ".." {
			return fmt.Errorf("invalid path: must not contain '..': %s", p)
		}
		if len(it) > maxFileNameLength {
			return fmt.Errorf("invalid path: filenames must be less than or equal to %d characters", maxFileNameLength)
		}
	}
	if strings.HasPrefix(items[0], "..") && len(items[0]) > 2 {
		return fmt.Errorf("invalid path: must not start with '..': %s", p)
	}
	return nil
}

// payloadDiffers reports whether any file's content differs from the
// current timestamped dir's (or is missing there).
func payloadDiffers(files map[string]fileProjection, oldDir string) (bool, error) {
	for p, f := range files {
		cur, err := os.ReadFile(filepath.Join(oldDir, p))
		if errors.Is(err, fs.ErrNotExist) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		// Content only, as upstream: modes are fixed by the pod spec, and
		// an fsGroup adds group bits after each write.
		if !bytes.Equal(cur, f.Data) {
			return true, nil
		}
	}
	return false, nil
}

// pathsToRemove lists what the current timestamped dir holds that the
// new payload (its files and their parent dirs) does not.
func pathsToRemove(files map[string]fileProjection, oldDir string) ([]string, error) {
	keep := map[string]bool{}
	for p := range files {
		for sub := p; sub != "." && sub != ""; sub = filepath.Dir(sub) {
			keep[sub] = true
		}
	}
	var out []string
	err := filepath.WalkDir(oldDir, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(oldDir, path)
		if rel != "." && !keep[rel] {
			out = append(out, rel)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return out, err
}

func writePayload(files map[string]fileProjection, dir string) error {
	for p, f := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(f.Mode).Perm()
		if err := os.WriteFile(full, f.Data, mode); err != nil {
			return err
		}
		// WriteFile's mode is masked by the umask; the volume's is not.
		if err := os.Chmod(full, mode); err != nil {
			return err
		}
	}
	return nil
}
