package kubelet

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// MachineInfo is what the kubelet reads from its machine: the node's
// capacity and nodeInfo, and the readings its pressure conditions come
// from.
type MachineInfo struct {
	CPUs                  int
	MemoryBytes           int64
	EphemeralStorageBytes int64

	KernelVersion   string
	OSImage         string
	OperatingSystem string
	Architecture    string
	MachineID       string
	SystemUUID      string
	BootID          string

	// MemoryAvailableBytes, DiskAvailableBytes and the PID counts feed
	// MemoryPressure, DiskPressure and PIDPressure. Zero disables the
	// corresponding check.
	MemoryAvailableBytes int64
	DiskAvailableBytes   int64
	PIDsInUse            int64
	PIDMax               int64
}

// readHostMachine reads this host: /proc/meminfo, statfs of dataDir,
// /etc/os-release, uname, the machine and boot IDs.
func readHostMachine(dataDir string) (MachineInfo, error) {
	m := MachineInfo{CPUs: runtime.NumCPU(), OperatingSystem: runtime.GOOS, Architecture: runtime.GOARCH}
	mem, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return m, fmt.Errorf("read /proc/meminfo: %w", err)
	}
	total, avail := parseMeminfo(mem)
	m.MemoryBytes, m.MemoryAvailableBytes = total, avail
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dataDir, &fs); err != nil {
		return m, fmt.Errorf("statfs %s: %w", dataDir, err)
	}
	m.EphemeralStorageBytes = int64(fs.Blocks) * int64(fs.Bsize)
	m.DiskAvailableBytes = int64(fs.Bavail) * int64(fs.Bsize)
	var u syscall.Utsname
	if syscall.Uname(&u) == nil {
		m.KernelVersion = utsString(u.Release[:])
	}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		m.OSImage = parseOSRelease(b)
	}
	if m.OSImage == "" {
		m.OSImage = "Unknown"
	}
	m.MachineID = readTrimmed("/etc/machine-id")
	m.SystemUUID = readTrimmed("/sys/class/dmi/id/product_uuid")
	m.BootID = readTrimmed("/proc/sys/kernel/random/boot_id")
	if n, err := strconv.ParseInt(readTrimmed("/proc/sys/kernel/pid_max"), 10, 64); err == nil {
		m.PIDMax = n
		if entries, err := os.ReadDir("/proc"); err == nil {
			for _, e := range entries {
				if _, err := strconv.Atoi(e.Name()); err == nil {
					m.PIDsInUse++
				}
			}
		}
	}
	return m, nil
}

func readTrimmed(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func utsString(f []int8) string {
	b := make([]byte, 0, len(f))
	for _, c := range f {
		if c == 0 {
			break
		}
		b = append(b, byte(c))
	}
	return string(b)
}

// parseMeminfo returns MemTotal and MemAvailable in bytes.
func parseMeminfo(b []byte) (total, avail int64) {
	kv := keyValues(b)
	return int64(kv["MemTotal"]), int64(kv["MemAvailable"])
}

// parseOSRelease returns PRETTY_NAME, as upstream's nodeInfo.osImage.
func parseOSRelease(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && k == "PRETTY_NAME" {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
			return strings.Trim(v, `"'`)
		}
	}
	return ""
}

// SimulatedMachine is the Machine of a simulated node: fixed readings
// that never show pressure. Zero fields get defaults (4 CPUs, 16 GiB,
// 100 GiB of ephemeral storage, this host's OS and architecture).
func SimulatedMachine(m MachineInfo) func() (MachineInfo, error) {
	if m.CPUs == 0 {
		m.CPUs = 4
	}
	if m.MemoryBytes == 0 {
		m.MemoryBytes = 16 << 30
	}
	if m.EphemeralStorageBytes == 0 {
		m.EphemeralStorageBytes = 100 << 30
	}
	if m.KernelVersion == "" {
		m.KernelVersion = "simulated"
	}
	if m.OSImage == "" {
		m.OSImage = "Skiff simulated node"
	}
	if m.OperatingSystem == "" {
		m.OperatingSystem = runtime.GOOS
	}
	if m.Architecture == "" {
		m.Architecture = runtime.GOARCH
	}
	return func() (MachineInfo, error) { return m, nil }
}
