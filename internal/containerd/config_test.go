package containerd

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
)

func TestConfigComplete(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"data dir", Config{DataDir: "/var/lib/skiff/containerd"}, ""},
		{"external endpoint needs no data dir", Config{Endpoint: "unix:///run/containerd/containerd.sock"}, ""},
		{"nothing", Config{}, "DataDir or Endpoint is required"},
		{"socket too long", Config{DataDir: "/" + strings.Repeat("d", 100)}, "more than a unix socket allows"},
		{"bridge too long", Config{DataDir: "/x", BridgeName: "abcdefghijklmnop"}, "longer than 15 bytes"},
		{"bad insecure registry", Config{DataDir: "/x", InsecureRegistries: []string{"http://r:5000"}}, "not a host or host:port"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.complete()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("complete() = %v, want error containing %q", err, tc.wantErr)
			}
		})
	}
	c := Config{DataDir: "rel/dir"}
	if err := c.complete(); err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(c.DataDir) || c.BridgeName != DefaultBridgeName || c.Binary != DefaultBinary || c.CNIBinDir == "" {
		t.Fatalf("defaults not filled: %+v", c)
	}
}

// TestRenderConfig has containerd itself load the generated config
// (`containerd config dump`) and checks the settings it reports.
func TestRenderConfig(t *testing.T) {
	bin, err := exec.LookPath("containerd")
	if err != nil {
		t.Skip("needs containerd:", err)
	}
	c := Config{DataDir: "/var/lib/skiff/containerd", CNIBinDir: "/usr/lib/cni"}
	if err := c.complete(); err != nil {
		t.Fatal(err)
	}
	l := newLayout(c.DataDir)
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(renderConfig(&c, l, PauseImage, true)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--config", path, "config", "dump").CombinedOutput()
	if err != nil {
		t.Fatalf("containerd cannot load the config: %v\n%s", err, out)
	}
	dump := string(out)
	for _, want := range []string{
		`root = "/var/lib/skiff/containerd/root"`,
		`state = "/var/lib/skiff/containerd/state"`,
		`address = "/var/lib/skiff/containerd/containerd.sock"`,
		`address = "/var/lib/skiff/containerd/containerd.sock.ttrpc"`,
		`sandbox_image = "skiff.local/pause:1.0"`,
		`stream_server_port = "0"`,
		`restrict_oom_score_adj = true`,
		`snapshotter = "overlayfs"`,
		`default_runtime_name = "runc"`,
		`runtime_type = "io.containerd.runc.v2"`,
		`SystemdCgroup = false`,
		`bin_dir = "/usr/lib/cni"`,
		`conf_dir = "/var/lib/skiff/containerd/cni/net.d"`,
		`conf_template = "/var/lib/skiff/containerd/cni/conflist.tmpl"`,
		`config_path = "/var/lib/skiff/containerd/certs.d"`,
	} {
		if !strings.Contains(dump, want) {
			t.Errorf("containerd's view of the config lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("config dump:\n%s", dump)
	}
}

// TestCNITemplate renders the conflist template as containerd does on
// UpdateRuntimeConfig (its data: PodCIDR, PodCIDRRanges, Routes).
func TestCNITemplate(t *testing.T) {
	c := Config{DataDir: "/d", BridgeName: "br7"}
	if err := c.complete(); err != nil {
		t.Fatal(err)
	}
	tmpl, err := template.New("cni").Parse(renderCNITemplate(&c, newLayout(c.DataDir)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	data := struct {
		PodCIDR       string
		PodCIDRRanges []string
		Routes        []string
	}{"10.42.3.0/24", []string{"10.42.3.0/24", "fd00:42:3::/64"}, []string{"0.0.0.0/0", "::/0"}}
	if err := tmpl.Execute(&out, data); err != nil {
		t.Fatal(err)
	}
	var conf struct {
		Name    string
		Plugins []struct {
			Type, Bridge      string
			IsGateway, IPMasq bool
			Capabilities      map[string]bool
			IPAM              struct {
				Type, DataDir string
				Ranges        [][]struct{ Subnet string }
				Routes        []struct{ Dst string }
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &conf); err != nil {
		t.Fatalf("rendered conflist is not JSON: %v\n%s", err, out.String())
	}
	if conf.Name != "br7" || len(conf.Plugins) != 2 {
		t.Fatalf("conflist: %+v", conf)
	}
	br, pm := conf.Plugins[0], conf.Plugins[1]
	if br.Type != "bridge" || br.Bridge != "br7" || !br.IsGateway || !br.IPMasq || br.IPAM.Type != "host-local" || br.IPAM.DataDir != "/d/cni/ipam" {
		t.Errorf("bridge: %+v", br)
	}
	if len(br.IPAM.Ranges) != 2 || br.IPAM.Ranges[1][0].Subnet != "fd00:42:3::/64" || len(br.IPAM.Routes) != 2 || br.IPAM.Routes[0].Dst != "0.0.0.0/0" {
		t.Errorf("ipam: %+v", br.IPAM)
	}
	if pm.Type != "portmap" || !pm.Capabilities["portMappings"] {
		t.Errorf("portmap: %+v", pm)
	}
	// Under the pod network across nodes the bridge does not masquerade.
	c.NoMasquerade = true
	if s := renderCNITemplate(&c, newLayout(c.DataDir)); !strings.Contains(s, `"ipMasq": false,`) {
		t.Errorf("NoMasquerade: the template still masquerades:\n%s", s)
	}
}

func TestHostsTOML(t *testing.T) {
	want := `# Generated by skiff: registry.test:5000 is pulled over plain HTTP.
server = "http://registry.test:5000"

[host."http://registry.test:5000"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
`
	if got := renderHostsTOML("registry.test:5000"); got != want {
		t.Fatalf("hosts.toml:\n%s\nwant:\n%s", got, want)
	}
}

func TestRunWithoutBinary(t *testing.T) {
	c, err := New(Config{DataDir: t.TempDir(), Binary: "/nonexistent/containerd"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(t.Context()); err == nil || !strings.Contains(err.Error(), "/nonexistent/containerd") {
		t.Fatalf("Run = %v, want an error naming the binary", err)
	}
	if c.Ready() {
		t.Fatal("Ready without a containerd")
	}
}
