package containerd

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/utils/clock"
)

// Defaults of Config.
const (
	DefaultBridgeName     = "skiff0"
	DefaultBinary         = "containerd"
	DefaultStopTimeout    = 10 * time.Second
	DefaultStartTimeout   = 60 * time.Second
	DefaultRestartBackoff = time.Second
	MaxRestartBackoff     = time.Minute
	// maxUnixSocketPath is sun_path's size on Linux minus its NUL, less
	// the ".ttrpc" containerd appends for its second socket.
	maxUnixSocketPath = 107 - len(".ttrpc")
)

// Config configures the supervised containerd.
type Config struct {
	// DataDir holds everything this containerd writes: its config, root,
	// state, sockets, log, CNI config and host-local IP allocations. It is
	// usually <skiff data dir>/containerd.
	DataDir string
	// Endpoint, when set, is the CRI endpoint of a runtime someone else runs
	// (--container-runtime-endpoint): nothing is started, Run only waits
	// for it to answer and Endpoint returns it unchanged.
	Endpoint string
	// Binary is the containerd executable; default "containerd" on PATH.
	Binary string
	// CNIBinDir holds the CNI plugins; default /usr/lib/cni if it has a
	// bridge plugin, else /opt/cni/bin.
	CNIBinDir string
	// BridgeName is the Linux bridge the CNI bridge plugin creates for pods
	// (at most 15 bytes); default skiff0. It also names the CNI network.
	BridgeName string
	// NoMasquerade turns off the CNI bridge plugin's masquerading
	// ("ipMasq"): the pod network across nodes (package podnet) then
	// masquerades only traffic leaving the cluster CIDR, so that pods on
	// other nodes see a pod's own IP. By default the bridge masquerades
	// everything that leaves the node's pod CIDR, which suits one node.
	NoMasquerade bool
	// InsecureRegistries are registry hosts (host or host:port) pulled over
	// plain HTTP. containerd already does so for localhost and loopback
	// addresses with a port.
	InsecureRegistries []string
	// StopPodsOnExit stops every pod sandbox over the CRI before containerd
	// is stopped; by default containers keep running when Skiff stops, as
	// they do when upstream's containerd restarts.
	StopPodsOnExit bool
	// StartTimeout bounds how long one start of containerd may take to
	// answer the CRI; default 60s.
	StartTimeout time.Duration
	// StopTimeout is how long containerd gets after SIGTERM before SIGKILL;
	// default 10s.
	StopTimeout time.Duration
	// RestartBackoff is the first wait before restarting a containerd that
	// died; it doubles up to a minute and resets after a minute of uptime.
	// Default 1s.
	RestartBackoff time.Duration
	// Logger receives the component's logs; default slog.Default().
	Logger *slog.Logger
	// Clock times back-offs; default the real clock.
	Clock clock.WithTicker
}

// complete fills defaults and validates.
func (c *Config) complete() error {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	if c.RestartBackoff == 0 {
		c.RestartBackoff = DefaultRestartBackoff
	}
	if c.Endpoint != "" {
		return nil
	}
	if c.DataDir == "" {
		return errors.New("containerd: DataDir or Endpoint is required")
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return fmt.Errorf("containerd: data dir: %w", err)
	}
	c.DataDir = abs
	if n := len(SocketPath(c.DataDir)); n > maxUnixSocketPath {
		return fmt.Errorf("containerd: socket path %q is %d bytes, more than a unix socket allows (%d): use a shorter data dir", SocketPath(c.DataDir), n, maxUnixSocketPath)
	}
	if c.Binary == "" {
		c.Binary = DefaultBinary
	}
	if c.BridgeName == "" {
		c.BridgeName = DefaultBridgeName
	}
	if len(c.BridgeName) > 15 {
		return fmt.Errorf("containerd: bridge name %q is longer than 15 bytes", c.BridgeName)
	}
	if c.CNIBinDir == "" {
		c.CNIBinDir = "/opt/cni/bin"
		if _, err := os.Stat("/usr/lib/cni/bridge"); err == nil {
			c.CNIBinDir = "/usr/lib/cni"
		}
	}
	for _, r := range c.InsecureRegistries {
		if r == "" || strings.ContainsAny(r, "/ \t") {
			return fmt.Errorf("containerd: insecure registry %q is not a host or host:port", r)
		}
	}
	return nil
}

// SocketPath is the gRPC socket of the containerd whose Config.DataDir is
// dataDir.
func SocketPath(dataDir string) string { return filepath.Join(dataDir, "containerd.sock") }

// layout is where a data dir's files live.
type layout struct {
	dir, config, root, state, socket, log, cniConf, cniTemplate, ipam, certs string
}

func newLayout(dataDir string) layout {
	return layout{
		dir:         dataDir,
		config:      filepath.Join(dataDir, "config.toml"),
		root:        filepath.Join(dataDir, "root"),
		state:       filepath.Join(dataDir, "state"),
		socket:      SocketPath(dataDir),
		log:         filepath.Join(dataDir, "containerd.log"),
		cniConf:     filepath.Join(dataDir, "cni", "net.d"),
		cniTemplate: filepath.Join(dataDir, "cni", "conflist.tmpl"),
		ipam:        filepath.Join(dataDir, "cni", "ipam"),
		certs:       filepath.Join(dataDir, "certs.d"),
	}
}

// tomlString quotes s as a TOML basic string; JSON's escapes are a subset
// of TOML's.
func tomlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// renderConfig is containerd's config.toml (version 2) for a data dir.
// The stream server takes an ephemeral port so that several Skiff nodes
// (or a system containerd on 10010) can run side by side; the kubelet
// gets its URL from each Exec/Attach/PortForward answer.
//
// restrictOOM keeps containers' oom_score_adj at or above containerd's own,
// for hosts (some VMs and containers) where even root may not lower it:
// there the sandbox's -998 would make runc fail to create it.
func renderConfig(c *Config, l layout, sandboxImage string, restrictOOM bool) string {
	q := tomlString
	var b strings.Builder
	fmt.Fprintf(&b, `# Generated by skiff at every start; edits are overwritten.
version = 2
root = %s
state = %s
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = %s

[ttrpc]
  address = %s

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %s
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  restrict_oom_score_adj = %t
  disable_apparmor = true

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = %s

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %s
    conf_dir = %s
    conf_template = %s
    max_conf_num = 1

  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = %s
`, q(l.root), q(l.state), q(l.socket), q(l.socket+".ttrpc"), q(sandboxImage), restrictOOM,
		q(filepath.Join(l.state, "runc")), q(c.CNIBinDir), q(l.cniConf), q(l.cniTemplate), q(l.certs))
	return b.String()
}

// renderCNITemplate is the conflist template containerd fills in when the
// kubelet sends the node's pod CIDR (CRI UpdateRuntimeConfig); containerd
// adds the loopback network itself. The IP allocations live under the data
// dir so that two nodes on one host never share them.
func renderCNITemplate(c *Config, l layout) string {
	return fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": %s,
  "plugins": [
    {
      "type": "bridge",
      "bridge": %s,
      "isGateway": true,
      "ipMasq": %t,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": %s,
        "ranges": [{{range $i, $r := .PodCIDRRanges}}{{if $i}}, {{end}}[{"subnet": "{{$r}}"}]{{end}}],
        "routes": [{{range $i, $r := .Routes}}{{if $i}}, {{end}}{"dst": "{{$r}}"}{{end}}]
      }
    },
    {
      "type": "portmap",
      "capabilities": {"portMappings": true}
    }
  ]
}
`, tomlString(c.BridgeName), tomlString(c.BridgeName), !c.NoMasquerade, tomlString(l.ipam))
}

// renderHostsTOML is the certs.d/<host>/hosts.toml that makes containerd
// pull from host over plain HTTP.
func renderHostsTOML(host string) string {
	return fmt.Sprintf(`# Generated by skiff: %[1]s is pulled over plain HTTP.
server = "http://%[1]s"

[host."http://%[1]s"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
`, host)
}

// writeFiles writes the config, the CNI template and the registry hosts
// under the data dir, creating its directories.
func writeFiles(c *Config, l layout, sandboxImage string, restrictOOM bool) error {
	for _, d := range []string{l.dir, l.root, l.state, l.cniConf, l.ipam, l.certs} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
	}
	files := map[string]string{
		l.config:      renderConfig(c, l, sandboxImage, restrictOOM),
		l.cniTemplate: renderCNITemplate(c, l),
	}
	for _, h := range c.InsecureRegistries {
		dir := filepath.Join(l.certs, h)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		files[filepath.Join(dir, "hosts.toml")] = renderHostsTOML(h)
	}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

// canLowerOOMScore reports whether this process may lower its
// oom_score_adj, trying it and restoring the old value.
func canLowerOOMScore() bool {
	const path = "/proc/self/oom_score_adj"
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	cur, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || cur <= -1000 {
		return false
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(cur-1)), 0); err != nil {
		return false
	}
	_ = os.WriteFile(path, []byte(strconv.Itoa(cur)), 0)
	return true
}
