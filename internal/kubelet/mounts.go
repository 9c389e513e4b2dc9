package kubelet

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	etcHostsPath = "/etc/hosts"
	// The first line of the kubelet-managed /etc/hosts, upstream's.
	managedHostsHeader                = "# Kubernetes-managed hosts file.\n"
	managedHostsHeaderWithHostNetwork = "# Kubernetes-managed hosts file (host network).\n"
)

// plannedMount is one container mount before its host path is resolved
// inside its volume.
type plannedMount struct {
	Mount *runtimeapi.Mount
	// VolumePath and SubPath: when SubPath is set, the host path is
	// SubPath resolved inside VolumePath (created if missing).
	VolumePath string
	SubPath    string
	// VolumeName names the volume in error messages.
	VolumeName string
}

// planMounts maps a container's volumeMounts to CRI mounts, as upstream's
// makeMounts: the volume's directory (or hostPath), subPath or
// subPathExpr expanded from the container's env, readOnly (forced for
// configMap, secret, downwardAPI and projected volumes), propagation. It
// also says whether the kubelet's /etc/hosts is to be mounted (not when
// the container mounts something there itself). Errors are the
// container's CreateContainerConfigError message.
func planMounts(pod *v1.Pod, c *v1.Container, podDir string, env []*runtimeapi.KeyValue) (mounts []plannedMount, mountHosts bool, err error) {
	vols := make(map[string]*v1.Volume, len(pod.Spec.Volumes))
	for i := range pod.Spec.Volumes {
		vols[pod.Spec.Volumes[i].Name] = &pod.Spec.Volumes[i]
	}
	mountHosts = true
	for _, vm := range c.VolumeMounts {
		if vm.MountPath == etcHostsPath {
			mountHosts = false
		}
		vol, ok := vols[vm.Name]
		if !ok {
			return nil, false, fmt.Errorf("cannot find volume %q to mount into container %q", vm.Name, c.Name)
		}
		kind, _ := volumeKindOf(vol)
		if kind == volumeUnsupported {
			return nil, false, fmt.Errorf("cannot find volume %q to mount into container %q", vm.Name, c.Name)
		}
		subPath := vm.SubPath
		if vm.SubPathExpr != "" {
			if subPath, err = expandSubPath(vm.SubPathExpr, env); err != nil {
				return nil, false, err
			}
		}
		if subPath != "" {
			if filepath.IsAbs(subPath) {
				return nil, false, fmt.Errorf("error SubPath `%s` must not be an absolute path", subPath)
			}
			for _, part := range strings.Split(subPath, "/") {
				if part == ".." {
					return nil, false, fmt.Errorf("unable to provision SubPath `%s`: must not contain '..'", subPath)
				}
			}
		}
		prop, err := mountPropagation(vm.MountPropagation)
		if err != nil {
			return nil, false, err
		}
		hostPath := volumeDir(podDir, vol)
		containerPath := vm.MountPath
		if !filepath.IsAbs(containerPath) {
			containerPath = "/" + containerPath
		}
		mounts = append(mounts, plannedMount{
			Mount: &runtimeapi.Mount{
				ContainerPath: containerPath,
				HostPath:      hostPath,
				Readonly:      vm.ReadOnly || kind == volumeProjectedFiles,
				Propagation:   prop,
			},
			VolumePath: hostPath,
			SubPath:    subPath,
			VolumeName: vm.Name,
		})
	}
	return mounts, mountHosts, nil
}

// mountPropagation is upstream's translateMountPropagation.
func mountPropagation(m *v1.MountPropagationMode) (runtimeapi.MountPropagation, error) {
	switch {
	case m == nil || *m == v1.MountPropagationNone:
		return runtimeapi.MountPropagation_PROPAGATION_PRIVATE, nil
	case *m == v1.MountPropagationHostToContainer:
		return runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER, nil
	case *m == v1.MountPropagationBidirectional:
		return runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL, nil
	}
	return 0, fmt.Errorf("invalid MountPropagation mode: %q", *m)
}

// expandSubPath is upstream's ExpandContainerVolumeMounts: $(VAR) from
// the container's env, every undefined or empty one an error.
func expandSubPath(expr string, env []*runtimeapi.KeyValue) (string, error) {
	vals := make(map[string]string, len(env))
	for _, kv := range env {
		vals[kv.Key] = string(kv.Value)
	}
	missing := map[string]bool{}
	out := expandWith(expr, func(name string) (string, bool) {
		if vals[name] == "" {
			missing[name] = true
		}
		return vals[name], true
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("missing value for %s", strings.Join(sortedKeys(missing), ", "))
	}
	return out, nil
}

// podHostnameAndDomain is the pod's hostname (spec.hostname or its name,
// at most 63 characters) and, with a subdomain, its domain
// <subdomain>.<namespace>.svc.<cluster domain>.
func podHostnameAndDomain(pod *v1.Pod, clusterDomain string) (string, string) {
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	if len(hostname) > 63 {
		hostname = strings.TrimRight(hostname[:63], "-.")
	}
	domain := ""
	if pod.Spec.Subdomain != "" {
		domain = fmt.Sprintf("%s.%s.svc.%s", pod.Spec.Subdomain, pod.Namespace, clusterDomain)
	}
	return hostname, domain
}

// managedHostsFile is the /etc/hosts of a pod on the pod network,
// upstream's managedHostsFileContent.
func managedHostsFile(podIPs []string, hostname, domain string, aliases []v1.HostAlias) []byte {
	var b bytes.Buffer
	b.WriteString(managedHostsHeader)
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	for _, ip := range podIPs {
		if domain != "" {
			fmt.Fprintf(&b, "%s\t%s.%s\t%s\n", ip, hostname, domain, hostname)
		} else {
			fmt.Fprintf(&b, "%s\t%s\n", ip, hostname)
		}
	}
	b.Write(hostAliasEntries(aliases))
	return b.Bytes()
}

// hostNetworkHostsFile is the /etc/hosts of a host-network pod: the
// node's, under upstream's header, with the pod's aliases.
func hostNetworkHostsFile(node []byte, aliases []v1.HostAlias) []byte {
	var b bytes.Buffer
	b.WriteString(managedHostsHeaderWithHostNetwork)
	b.Write(node)
	b.Write(hostAliasEntries(aliases))
	return b.Bytes()
}

func hostAliasEntries(aliases []v1.HostAlias) []byte {
	if len(aliases) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("\n# Entries added by HostAliases.\n")
	for _, a := range aliases {
		fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
	return b.Bytes()
}

// containerMounts is the I/O edge of planMounts: it resolves subPaths
// inside their volumes (creating missing ones with the volume's mode),
// writes the pod's etc-hosts and creates the container's
// termination-message file, and returns the CRI mounts in upstream's
// order: volumes, /etc/hosts, termination message.
func (k *Kubelet) containerMounts(pod *v1.Pod, c *v1.Container, podIPs []string, env []*runtimeapi.KeyValue) ([]*runtimeapi.Mount, error) {
	podDir := k.volumes.podDir(pod.UID)
	planned, mountHosts, err := planMounts(pod, c, podDir, env)
	if err != nil {
		return nil, err
	}
	out := make([]*runtimeapi.Mount, 0, len(planned)+2)
	for _, p := range planned {
		if p.SubPath != "" {
			// Resolved inside the volume, so that a symlink in it cannot
			// point the mount anywhere else on the node.
			resolved, err := securejoin.SecureJoin(p.VolumePath, p.SubPath)
			if err != nil {
				return nil, fmt.Errorf("failed to prepare subPath for volumeMount %q of container %q", p.VolumeName, c.Name)
			}
			if !pathExists(resolved) {
				perm := os.FileMode(0o750)
				if st, err := os.Stat(p.VolumePath); err == nil {
					perm = st.Mode().Perm()
				}
				if err := os.MkdirAll(resolved, perm); err != nil {
					k.log.Warn("creating a subPath failed", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "err", err)
					return nil, fmt.Errorf("failed to create subPath directory for volumeMount %q of container %q", p.VolumeName, c.Name)
				}
			}
			p.Mount.HostPath = resolved
		}
		out = append(out, p.Mount)
	}
	if mountHosts && len(podIPs) > 0 {
		var content []byte
		if pod.Spec.HostNetwork {
			node, err := os.ReadFile(etcHostsPath)
			if err != nil {
				return nil, err
			}
			content = hostNetworkHostsFile(node, pod.Spec.HostAliases)
		} else {
			hostname, domain := podHostnameAndDomain(pod, k.cfg.ClusterDomain)
			content = managedHostsFile(podIPs, hostname, domain, pod.Spec.HostAliases)
		}
		hostsFile := filepath.Join(podDir, "etc-hosts")
		if err := os.MkdirAll(podDir, 0o750); err != nil {
			return nil, err
		}
		if err := os.WriteFile(hostsFile, content, 0o644); err != nil {
			return nil, err
		}
		if err := os.Chmod(hostsFile, 0o644); err != nil {
			return nil, err
		}
		out = append(out, &runtimeapi.Mount{ContainerPath: etcHostsPath, HostPath: hostsFile})
	}
	if c.TerminationMessagePath != "" {
		dir := filepath.Join(podDir, "containers", c.Name)
		var b [4]byte
		_, _ = rand.Read(b[:])
		file := filepath.Join(dir, fmt.Sprintf("%08x", binary.BigEndian.Uint32(b[:])))
		err := os.MkdirAll(dir, 0o750)
		if err == nil {
			var f *os.File
			if f, err = os.Create(file); err == nil {
				f.Close()
				// Any user of the container must be able to write it.
				err = os.Chmod(file, 0o666)
			}
		}
		if err != nil {
			// As upstream: the container runs without it.
			k.log.Warn("creating the termination-log file failed", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name, "err", err)
		} else {
			out = append(out, &runtimeapi.Mount{ContainerPath: c.TerminationMessagePath, HostPath: file})
		}
	}
	return out, nil
}
