package kubelet

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// The volume plugins' directory names under <pod dir>/volumes, upstream's
// escaped plugin names (kubernetes.io/empty-dir → kubernetes.io~empty-dir).
const (
	pluginEmptyDir    = "kubernetes.io~empty-dir"
	pluginConfigMap   = "kubernetes.io~configmap"
	pluginSecret      = "kubernetes.io~secret"
	pluginDownwardAPI = "kubernetes.io~downward-api"
	pluginProjected   = "kubernetes.io~projected"
)

// defaultVolumeFileMode is the mode of projected files when neither the
// item nor the volume gives one (the API server defaults it to this).
const defaultVolumeFileMode int32 = 0o644

// fileProjection is one file of a configMap, secret, downwardAPI or
// projected volume.
type fileProjection struct {
	Data []byte
	Mode int32
}

// volumeObjects is what the API server said about the ConfigMaps and
// Secrets a pod's volumes name, read at the edge before volumeFiles
// decides. A name absent from ConfigMaps or Secrets was not found; a
// name in Errs could not be read (the error is the volume's).
type volumeObjects struct {
	ConfigMaps map[string]*v1.ConfigMap
	Secrets    map[string]*v1.Secret
	// Errs is keyed "configmap/<name>" or "secret/<name>".
	Errs map[string]error
	// Allocatable stands in for a limit a container does not set
	// (downward API resourceFieldRef).
	Allocatable v1.ResourceList
}

// volumeKind says what a volume needs on the node.
type volumeKind int

const (
	volumeUnsupported volumeKind = iota
	volumeEmptyDir
	volumeHostPath
	// volumeFiles: configMap, secret, downwardAPI, projected: files the
	// kubelet writes with the atomic writer and refreshes on every sync.
	volumeProjectedFiles
)

// volumeKindOf classifies a pod volume and names its plugin directory.
func volumeKindOf(vol *v1.Volume) (volumeKind, string) {
	switch {
	case vol.EmptyDir != nil:
		return volumeEmptyDir, pluginEmptyDir
	case vol.HostPath != nil:
		return volumeHostPath, ""
	case vol.ConfigMap != nil:
		return volumeProjectedFiles, pluginConfigMap
	case vol.Secret != nil:
		return volumeProjectedFiles, pluginSecret
	case vol.DownwardAPI != nil:
		return volumeProjectedFiles, pluginDownwardAPI
	case vol.Projected != nil:
		return volumeProjectedFiles, pluginProjected
	}
	return volumeUnsupported, ""
}

// volumeDir is where a volume lives on the node: the hostPath itself, or
// <podDir>/volumes/<plugin>/<name> as upstream.
func volumeDir(podDir string, vol *v1.Volume) string {
	kind, plugin := volumeKindOf(vol)
	if kind == volumeHostPath {
		return vol.HostPath.Path
	}
	return filepath.Join(podDir, "volumes", plugin, vol.Name)
}

// memoryBacked reports whether upstream backs the volume with tmpfs:
// emptyDir of medium Memory, and secret and projected volumes (their
// files must not reach a disk).
func memoryBacked(vol *v1.Volume) bool {
	return (vol.EmptyDir != nil && vol.EmptyDir.Medium == v1.StorageMediumMemory) || vol.Secret != nil || vol.Projected != nil
}

// tmpfsSize is the size of a memory-backed volume's tmpfs, as upstream's
// calculateEmptyDirMemorySize: the node's allocatable memory, or the
// pod's memory limit when smaller, or the emptyDir's sizeLimit when
// smaller still. Zero means no size option (the kernel's default).
func tmpfsSize(pod *v1.Pod, vol *v1.Volume, allocatable v1.ResourceList) int64 {
	size := int64(0)
	if q, ok := allocatable[v1.ResourceMemory]; ok {
		size = q.Value()
	}
	if lim := podMemoryLimit(pod); lim > 0 && (size == 0 || lim <= size) {
		size = lim
	}
	if vol.EmptyDir != nil && vol.EmptyDir.SizeLimit != nil {
		if l := vol.EmptyDir.SizeLimit.Value(); l > 0 && (size == 0 || l <= size) {
			size = l
		}
	}
	return size
}

// podMemoryLimit is the pod cgroup's memory limit: the sum of its
// containers' (and sidecars') limits, at least the largest init
// container's, or 0 when a container has none.
func podMemoryLimit(pod *v1.Pod) int64 {
	var sum int64
	for _, c := range pod.Spec.Containers {
		q, ok := c.Resources.Limits[v1.ResourceMemory]
		if !ok {
			return 0
		}
		sum += q.Value()
	}
	var initMax int64
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		q, ok := c.Resources.Limits[v1.ResourceMemory]
		if !ok {
			return 0
		}
		if isSidecar(c) {
			sum += q.Value()
		} else {
			initMax = max(initMax, q.Value())
		}
	}
	return max(sum, initMax)
}

// volumeFiles decides the files of a configMap, secret, downwardAPI or
// projected volume, as upstream's plugins: every key (configMap data and
// binaryData, secret data) with the volume's defaultMode, or only the
// listed items at their paths and modes; a missing optional object or
// key gives no file. notes are sources that were skipped (projected
// serviceAccountToken, clusterTrustBundle, podCertificate: Skiff cannot
// serve them yet). The error is the one upstream's SetUp returns, shown
// after `MountVolume.SetUp failed for volume "x" : `.
func volumeFiles(pod *v1.Pod, vol *v1.Volume, objs volumeObjects) (files map[string]fileProjection, notes []string, err error) {
	switch {
	case vol.ConfigMap != nil:
		s := vol.ConfigMap
		files, err := objs.configMapFiles(s.Name, s.Items, modeOr(s.DefaultMode), optional(s.Optional))
		return files, nil, err
	case vol.Secret != nil:
		s := vol.Secret
		files, err := objs.secretFiles(s.SecretName, s.Items, modeOr(s.DefaultMode), optional(s.Optional))
		return files, nil, err
	case vol.DownwardAPI != nil:
		files, err := downwardAPIFiles(vol.DownwardAPI.Items, pod, objs.Allocatable, modeOr(vol.DownwardAPI.DefaultMode))
		return files, nil, err
	case vol.Projected != nil:
		return projectedFiles(pod, vol.Projected, objs)
	}
	return nil, nil, fmt.Errorf("volume %q has no files to project", vol.Name)
}

func modeOr(m *int32) int32 {
	if m != nil {
		return *m
	}
	return defaultVolumeFileMode
}

// configMap returns the named ConfigMap; a missing optional one is empty.
func (o volumeObjects) configMap(name string, optional bool) (*v1.ConfigMap, error) {
	if err := o.Errs["configmap/"+name]; err != nil {
		return nil, err
	}
	if cm, ok := o.ConfigMaps[name]; ok && cm != nil {
		return cm, nil
	}
	if optional {
		return &v1.ConfigMap{}, nil
	}
	// The kubelet's object managers answer with the singular resource.
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "configmap"}, name)
}

// secret returns the named Secret; a missing optional one is empty.
func (o volumeObjects) secret(name string, optional bool) (*v1.Secret, error) {
	if err := o.Errs["secret/"+name]; err != nil {
		return nil, err
	}
	if s, ok := o.Secrets[name]; ok && s != nil {
		return s, nil
	}
	if optional {
		return &v1.Secret{}, nil
	}
	return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "secret"}, name)
}

// configMapFiles is the files of the named ConfigMap (see volumeFiles).
func (o volumeObjects) configMapFiles(name string, items []v1.KeyToPath, defaultMode int32, optional bool) (map[string]fileProjection, error) {
	cm, err := o.configMap(name, optional)
	if err != nil {
		return nil, err
	}
	return configMapFiles(items, cm, defaultMode, optional)
}

// secretFiles is the files of the named Secret (see volumeFiles).
func (o volumeObjects) secretFiles(name string, items []v1.KeyToPath, defaultMode int32, optional bool) (map[string]fileProjection, error) {
	s, err := o.secret(name, optional)
	if err != nil {
		return nil, err
	}
	return secretFiles(items, s, defaultMode, optional)
}

func configMapFiles(items []v1.KeyToPath, cm *v1.ConfigMap, defaultMode int32, optional bool) (map[string]fileProjection, error) {
	out := make(map[string]fileProjection, len(cm.Data)+len(cm.BinaryData))
	if len(items) == 0 {
		for k, v := range cm.Data {
			out[k] = fileProjection{Data: []byte(v), Mode: defaultMode}
		}
		for k, v := range cm.BinaryData {
			out[k] = fileProjection{Data: v, Mode: defaultMode}
		}
		return out, nil
	}
	for _, it := range items {
		var data []byte
		if s, ok := cm.Data[it.Key]; ok {
			data = []byte(s)
		} else if b, ok := cm.BinaryData[it.Key]; ok {
			data = b
		} else {
			if optional {
				continue
			}
			return nil, fmt.Errorf("configmap references non-existent config key: %s", it.Key)
		}
		out[it.Path] = fileProjection{Data: data, Mode: itemMode(it.Mode, defaultMode)}
	}
	return out, nil
}

func secretFiles(items []v1.KeyToPath, s *v1.Secret, defaultMode int32, optional bool) (map[string]fileProjection, error) {
	out := make(map[string]fileProjection, len(s.Data))
	if len(items) == 0 {
		for k, v := range s.Data {
			out[k] = fileProjection{Data: v, Mode: defaultMode}
		}
		return out, nil
	}
	for _, it := range items {
		data, ok := s.Data[it.Key]
		if !ok {
			if optional {
				continue
			}
			return nil, fmt.Errorf("references non-existent secret key: %s", it.Key)
		}
		out[it.Path] = fileProjection{Data: data, Mode: itemMode(it.Mode, defaultMode)}
	}
	return out, nil
}

func itemMode(m *int32, def int32) int32 {
	if m != nil {
		return *m
	}
	return def
}

// downwardAPIFiles is upstream's downwardapi.CollectData: each item's
// field (metadata.name, namespace, uid, labels, annotations, or one
// label or annotation) or container resource, every failure collected.
func downwardAPIFiles(items []v1.DownwardAPIVolumeFile, pod *v1.Pod, allocatable v1.ResourceList, defaultMode int32) (map[string]fileProjection, error) {
	out := make(map[string]fileProjection, len(items))
	var errs []error
	for _, it := range items {
		f := fileProjection{Mode: itemMode(it.Mode, defaultMode)}
		switch {
		case it.FieldRef != nil:
			v, err := podFieldAsString(pod, it.FieldRef.FieldPath)
			if err != nil {
				errs = append(errs, err)
			} else {
				f.Data = []byte(v)
			}
		case it.ResourceFieldRef != nil:
			v, err := containerResourceAsString(pod, it.ResourceFieldRef, allocatable)
			if err != nil {
				errs = append(errs, err)
			} else {
				f.Data = []byte(v)
			}
		}
		out[filepath.Clean(it.Path)] = f
	}
	return out, utilerrors.NewAggregate(errs)
}

// podFieldAsString is upstream's fieldpath.ExtractFieldPathAsString for
// a pod: the fields a downwardAPI volume may project.
func podFieldAsString(pod *v1.Pod, path string) (string, error) {
	if key, ok := bracketKey(path, "metadata.labels"); ok {
		return pod.Labels[key], nil
	}
	if key, ok := bracketKey(path, "metadata.annotations"); ok {
		return pod.Annotations[key], nil
	}
	switch path {
	case "metadata.annotations":
		return formatMap(pod.Annotations), nil
	case "metadata.labels":
		return formatMap(pod.Labels), nil
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	}
	return "", fmt.Errorf("unsupported fieldPath: %v", path)
}

// formatMap is upstream's fieldpath.FormatMap: key="quoted value" lines
// in key order.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	lines := make([]string, 0, len(keys))
	for _, k := range keys {
		lines = append(lines, k+"="+strconv.Quote(m[k]))
	}
	return strings.Join(lines, "\n")
}

// containerResourceAsString resolves a downwardAPI resourceFieldRef
// against the named container, a missing limit being the node's
// allocatable, as the env var of the same kind.
func containerResourceAsString(pod *v1.Pod, ref *v1.ResourceFieldSelector, allocatable v1.ResourceList) (string, error) {
	c := findSpec(pod, ref.ContainerName)
	if c == nil {
		return "", fmt.Errorf("container %s not found", ref.ContainerName)
	}
	r := *ref
	if r.Divisor.IsZero() {
		r.Divisor = resource.MustParse("1")
	}
	return resourceValue(envContext{Pod: pod, Allocatable: allocatable}, c, &r)
}

// projectedFiles merges a projected volume's sources in order (a later
// source's file replaces an earlier one at the same path), collecting
// every source's error as upstream.
func projectedFiles(pod *v1.Pod, p *v1.ProjectedVolumeSource, objs volumeObjects) (map[string]fileProjection, []string, error) {
	mode := modeOr(p.DefaultMode)
	out := map[string]fileProjection{}
	var errs []error
	var notes []string
	for _, src := range p.Sources {
		var files map[string]fileProjection
		var err error
		switch {
		case src.ConfigMap != nil:
			s := src.ConfigMap
			files, err = objs.configMapFiles(s.Name, s.Items, mode, optional(s.Optional))
		case src.Secret != nil:
			s := src.Secret
			files, err = objs.secretFiles(s.Name, s.Items, mode, optional(s.Optional))
		case src.DownwardAPI != nil:
			files, err = downwardAPIFiles(src.DownwardAPI.Items, pod, objs.Allocatable, mode)
		case src.ServiceAccountToken != nil:
			notes = append(notes, fmt.Sprintf("serviceAccountToken source for %q skipped: Skiff has no TokenRequest API yet", src.ServiceAccountToken.Path))
		case src.ClusterTrustBundle != nil:
			notes = append(notes, fmt.Sprintf("clusterTrustBundle source for %q skipped: not supported", src.ClusterTrustBundle.Path))
		case src.PodCertificate != nil:
			notes = append(notes, "podCertificate source skipped: not supported")
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for k, v := range files {
			out[k] = v
		}
	}
	return out, notes, utilerrors.NewAggregate(errs)
}

// referencedObjects lists the ConfigMaps and Secrets a pod's volumes
// name, each once.
func referencedObjects(pod *v1.Pod) (configMaps, secrets []string) {
	seen := map[string]bool{}
	add := func(list *[]string, kind, name string) {
		if name != "" && !seen[kind+"/"+name] {
			seen[kind+"/"+name] = true
			*list = append(*list, name)
		}
	}
	for _, vol := range pod.Spec.Volumes {
		switch {
		case vol.ConfigMap != nil:
			add(&configMaps, "configmap", vol.ConfigMap.Name)
		case vol.Secret != nil:
			add(&secrets, "secret", vol.Secret.SecretName)
		case vol.Projected != nil:
			for _, src := range vol.Projected.Sources {
				if src.ConfigMap != nil {
					add(&configMaps, "configmap", src.ConfigMap.Name)
				}
				if src.Secret != nil {
					add(&secrets, "secret", src.Secret.Name)
				}
			}
		}
	}
	return configMaps, secrets
}
