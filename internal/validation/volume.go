package validation

import (
	"fmt"
	"path"
	"path/filepath"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// podOpts carries the context-dependent switches of pod spec validation.
type podOpts struct {
	// resourceIsPod is true when validating a Pod object (as opposed to a
	// PodSpec embedded in a template); some checks only apply to pods.
	resourceIsPod bool
}

// validateVolumes checks spec.volumes: names are unique DNS-1123 labels and
// each volume has exactly one valid source. It returns the sources of the
// valid volumes by name, for resolving volumeMounts and volumeDevices.
func validateVolumes(volumes []corev1.Volume, podMeta *metav1.ObjectMeta, fldPath *field.Path, opts podOpts) (map[string]corev1.VolumeSource, field.ErrorList) {
	var allErrs field.ErrorList
	allNames := sets.New[string]()
	createdPVCs := sets.New[string]()
	if podMeta != nil && podMeta.Name != "" {
		for _, vol := range volumes {
			if vol.Ephemeral != nil {
				createdPVCs.Insert(podMeta.Name + "-" + vol.Name)
			}
		}
	}
	vols := make(map[string]corev1.VolumeSource, len(volumes))
	for i, vol := range volumes {
		idxPath := fldPath.Index(i)
		namePath := idxPath.Child("name")
		el := validateVolumeSource(&vol.VolumeSource, idxPath, vol.Name, podMeta, opts)
		if len(vol.Name) == 0 {
			el = append(el, field.Required(namePath, ""))
		} else {
			el = append(el, validateDNS1123Label(vol.Name, namePath)...)
		}
		if allNames.Has(vol.Name) {
			el = append(el, field.Duplicate(namePath, vol.Name))
		}
		if len(el) == 0 {
			allNames.Insert(vol.Name)
			vols[vol.Name] = vol.VolumeSource
		} else {
			allErrs = append(allErrs, el...)
		}
		if vol.PersistentVolumeClaim != nil && createdPVCs.Has(vol.PersistentVolumeClaim.ClaimName) {
			allErrs = append(allErrs, field.Invalid(idxPath.Child("persistentVolumeClaim", "claimName"), vol.PersistentVolumeClaim.ClaimName,
				"must not reference a PVC that gets created for an ephemeral volume"))
		}
	}
	return vols, allErrs
}

// volumeSourceOrder is the order in which upstream considers volume source
// types; the first one set is validated and later ones are Forbidden.
func volumeSourceOrder() []string {
	return []string{"emptyDir", "hostPath", "gitRepo", "gcePersistentDisk", "awsElasticBlockStore", "secret",
		"nfs", "iscsi", "glusterfs", "flocker", "persistentVolumeClaim", "rbd", "cinder", "cephfs", "quobyte",
		"downwardAPI", "fc", "flexVolume", "configMap", "azureFile", "vsphereVolume", "photonPersistentDisk",
		"portworxVolume", "azureDisk", "storageos", "projected", "scaleIO", "csi", "ephemeral", "image"}
}

// setVolumeSourceFields returns the JSON names of the non-nil source
// pointers of a VolumeSource, in upstream's precedence order (unknown
// sources last).
func setVolumeSourceFields(source *corev1.VolumeSource) []string {
	set := sets.New[string]()
	v := reflect.ValueOf(source).Elem()
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() != reflect.Ptr || f.IsNil() {
			continue
		}
		name := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
		if name == "" {
			name = t.Field(i).Name
		}
		set.Insert(name)
	}
	var names []string
	for _, n := range volumeSourceOrder() {
		if set.Has(n) {
			names = append(names, n)
			set.Delete(n)
		}
	}
	return append(names, sets.List(set)...)
}

func validateVolumeSource(source *corev1.VolumeSource, fldPath *field.Path, volName string, podMeta *metav1.ObjectMeta, opts podOpts) field.ErrorList {
	var allErrs field.ErrorList
	set := setVolumeSourceFields(source)
	if len(set) == 0 {
		return field.ErrorList{field.Required(fldPath, "must specify a volume type")}
	}
	for _, extra := range set[1:] {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child(extra), "may not specify more than 1 volume type"))
	}
	switch set[0] {
	case "emptyDir":
		if source.EmptyDir.SizeLimit != nil && source.EmptyDir.SizeLimit.Sign() < 0 {
			allErrs = append(allErrs, field.Forbidden(fldPath.Child("emptyDir", "sizeLimit"), "SizeLimit field must be a valid resource quantity"))
		}
	case "hostPath":
		allErrs = append(allErrs, validateHostPathVolumeSource(source.HostPath, fldPath.Child("hostPath"))...)
	case "secret":
		allErrs = append(allErrs, validateSecretVolumeSource(source.Secret, fldPath.Child("secret"))...)
	case "configMap":
		allErrs = append(allErrs, validateConfigMapVolumeSource(source.ConfigMap, fldPath.Child("configMap"))...)
	case "persistentVolumeClaim":
		if len(source.PersistentVolumeClaim.ClaimName) == 0 {
			allErrs = append(allErrs, field.Required(fldPath.Child("persistentVolumeClaim", "claimName"), ""))
		}
	case "nfs":
		p := fldPath.Child("nfs")
		if len(source.NFS.Server) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("server"), ""))
		}
		if len(source.NFS.Path) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("path"), ""))
		}
		if !path.IsAbs(source.NFS.Path) {
			allErrs = append(allErrs, field.Invalid(p.Child("path"), source.NFS.Path, "must be an absolute path"))
		}
	case "gitRepo":
		p := fldPath.Child("gitRepo")
		if len(source.GitRepo.Repository) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("repository"), ""))
		}
		allErrs = append(allErrs, validateLocalDescendingPath(source.GitRepo.Directory, p.Child("directory"))...)
	case "downwardAPI":
		allErrs = append(allErrs, validateDownwardAPIVolumeSource(source.DownwardAPI, fldPath.Child("downwardAPI"))...)
	case "projected":
		allErrs = append(allErrs, validateProjectedVolumeSource(source.Projected, fldPath.Child("projected"))...)
	case "csi":
		allErrs = append(allErrs, validateCSIVolumeSource(source.CSI, fldPath.Child("csi"))...)
	case "ephemeral":
		p := fldPath.Child("ephemeral")
		if source.Ephemeral.VolumeClaimTemplate == nil {
			allErrs = append(allErrs, field.Required(p.Child("volumeClaimTemplate"), ""))
		} else {
			tmpl := source.Ephemeral.VolumeClaimTemplate
			tp := p.Child("volumeClaimTemplate")
			allErrs = append(allErrs, apimachineryvalidation.ValidateAnnotations(tmpl.Annotations, tp.Child("metadata", "annotations"))...)
			allErrs = append(allErrs, validateLabelsAt(tmpl.Labels, tp.Child("metadata", "labels"))...)
			if len(tmpl.Spec.AccessModes) == 0 {
				allErrs = append(allErrs, field.Required(tp.Child("spec", "accessModes"), "at least 1 access mode is required"))
			}
		}
		if podMeta != nil && podMeta.Name != "" && volName != "" {
			pvcName := podMeta.Name + "-" + volName
			for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(pvcName, false) {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("name"), volName, fmt.Sprintf("PVC name %q: %v", pvcName, msg)))
			}
		}
	case "image":
		p := fldPath.Child("image")
		if opts.resourceIsPod && len(source.Image.Reference) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("reference"), ""))
		}
		allErrs = append(allErrs, validatePullPolicy(source.Image.PullPolicy, p.Child("pullPolicy"))...)
	}
	return allErrs
}

func validateHostPathVolumeSource(hp *corev1.HostPathVolumeSource, fldPath *field.Path) field.ErrorList {
	if len(hp.Path) == 0 {
		return field.ErrorList{field.Required(fldPath.Child("path"), "")}
	}
	allErrs := validatePathNoBacksteps(hp.Path, fldPath.Child("path"))
	if hp.Type != nil {
		supported := []corev1.HostPathType{
			corev1.HostPathUnset, corev1.HostPathBlockDev, corev1.HostPathCharDev, corev1.HostPathDirectory,
			corev1.HostPathDirectoryOrCreate, corev1.HostPathFile, corev1.HostPathFileOrCreate, corev1.HostPathSocket,
		}
		ok := false
		for _, s := range supported {
			if *hp.Type == s {
				ok = true
			}
		}
		if !ok {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), *hp.Type, supported))
		}
	}
	return allErrs
}

func validateFileMode(mode *int32, fldPath *field.Path) field.ErrorList {
	if mode != nil && (*mode > 0o777 || *mode < 0) {
		return field.ErrorList{field.Invalid(fldPath, *mode, fileModeErrorMsg)}
	}
	return nil
}

func validateSecretVolumeSource(s *corev1.SecretVolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(s.SecretName) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("secretName"), ""))
	}
	allErrs = append(allErrs, validateFileMode(s.DefaultMode, fldPath.Child("defaultMode"))...)
	for i := range s.Items {
		allErrs = append(allErrs, validateKeyToPath(&s.Items[i], fldPath.Child("items").Index(i))...)
	}
	return allErrs
}

func validateConfigMapVolumeSource(c *corev1.ConfigMapVolumeSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(c.Name) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), ""))
	}
	allErrs = append(allErrs, validateFileMode(c.DefaultMode, fldPath.Child("defaultMode"))...)
	for i := range c.Items {
		allErrs = append(allErrs, validateKeyToPath(&c.Items[i], fldPath.Child("items").Index(i))...)
	}
	return allErrs
}

func validateKeyToPath(kp *corev1.KeyToPath, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(kp.Key) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("key"), ""))
	}
	if len(kp.Path) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	allErrs = append(allErrs, validateLocalNonReservedPath(kp.Path, fldPath.Child("path"))...)
	allErrs = append(allErrs, validateFileMode(kp.Mode, fldPath.Child("mode"))...)
	return allErrs
}

func validCSIDriverName(driver string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(driver) == 0 {
		allErrs = append(allErrs, field.Required(fldPath, ""))
	}
	if len(driver) > 63 {
		allErrs = append(allErrs, field.TooLong(fldPath, "", 63))
	}
	for _, msg := range validation.IsDNS1123Subdomain(strings.ToLower(driver)) {
		allErrs = append(allErrs, field.Invalid(fldPath, driver, msg))
	}
	return allErrs
}

func validateCSIVolumeSource(csi *corev1.CSIVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := validCSIDriverName(csi.Driver, fldPath.Child("driver"))
	if csi.NodePublishSecretRef != nil {
		if len(csi.NodePublishSecretRef.Name) == 0 {
			allErrs = append(allErrs, field.Required(fldPath.Child("nodePublishSecretRef", "name"), ""))
		} else {
			allErrs = append(allErrs, validateNameWith(apimachineryvalidation.NameIsDNSSubdomain, csi.NodePublishSecretRef.Name, fldPath.Child("name"))...)
		}
	}
	return allErrs
}

// validVolumeDownwardAPIFieldPaths are the pod fields a downwardAPI volume
// file may project.
func validVolumeDownwardAPIFieldPaths() sets.Set[string] {
	return sets.New("metadata.name", "metadata.namespace", "metadata.labels", "metadata.annotations", "metadata.uid")
}

func validateDownwardAPIVolumeFile(file *corev1.DownwardAPIVolumeFile, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(file.Path) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
	}
	allErrs = append(allErrs, validateLocalNonReservedPath(file.Path, fldPath.Child("path"))...)
	switch {
	case file.FieldRef != nil:
		allErrs = append(allErrs, validateObjectFieldSelector(file.FieldRef, validVolumeDownwardAPIFieldPaths(), fldPath.Child("fieldRef"))...)
		if file.ResourceFieldRef != nil {
			allErrs = append(allErrs, field.Invalid(fldPath, "resource", "fieldRef and resourceFieldRef can not be specified simultaneously"))
		}
	case file.ResourceFieldRef != nil:
		allErrs = append(allErrs, validateContainerResourceFieldSelector(file.ResourceFieldRef, fldPath.Child("resourceFieldRef"), true)...)
	default:
		allErrs = append(allErrs, field.Required(fldPath, "one of fieldRef and resourceFieldRef is required"))
	}
	allErrs = append(allErrs, validateFileMode(file.Mode, fldPath.Child("mode"))...)
	return allErrs
}

func validateDownwardAPIVolumeSource(d *corev1.DownwardAPIVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := validateFileMode(d.DefaultMode, fldPath.Child("defaultMode"))
	for i := range d.Items {
		allErrs = append(allErrs, validateDownwardAPIVolumeFile(&d.Items[i], fldPath)...)
	}
	return allErrs
}

func validateProjectedVolumeSource(p *corev1.ProjectedVolumeSource, fldPath *field.Path) field.ErrorList {
	allErrs := validateFileMode(p.DefaultMode, fldPath.Child("defaultMode"))
	allPaths := sets.New[string]()
	addPath := func(name, curPath string) {
		if len(curPath) == 0 {
			return
		}
		if allPaths.Has(curPath) {
			allErrs = append(allErrs, field.Invalid(fldPath, name, "conflicting duplicate paths"))
		}
		allPaths.Insert(curPath)
	}
	for i, source := range p.Sources {
		numSources := 0
		srcPath := fldPath.Child("sources").Index(i)
		if source.Secret != nil {
			numSources++
			sp := srcPath.Child("secret")
			if len(source.Secret.Name) == 0 {
				allErrs = append(allErrs, field.Required(sp.Child("name"), ""))
			}
			for j := range source.Secret.Items {
				allErrs = append(allErrs, validateKeyToPath(&source.Secret.Items[j], sp.Child("items").Index(j))...)
				addPath(source.Secret.Name, source.Secret.Items[j].Path)
			}
		}
		if source.ConfigMap != nil {
			numSources++
			cp := srcPath.Child("configMap")
			if len(source.ConfigMap.Name) == 0 {
				allErrs = append(allErrs, field.Required(cp.Child("name"), ""))
			}
			for j := range source.ConfigMap.Items {
				allErrs = append(allErrs, validateKeyToPath(&source.ConfigMap.Items[j], cp.Child("items").Index(j))...)
				addPath(source.ConfigMap.Name, source.ConfigMap.Items[j].Path)
			}
		}
		if source.DownwardAPI != nil {
			numSources++
			dp := srcPath.Child("downwardAPI")
			for j := range source.DownwardAPI.Items {
				allErrs = append(allErrs, validateDownwardAPIVolumeFile(&source.DownwardAPI.Items[j], dp)...)
				addPath(source.DownwardAPI.Items[j].Path, source.DownwardAPI.Items[j].Path)
			}
		}
		if sat := source.ServiceAccountToken; sat != nil {
			numSources++
			tp := srcPath.Child("serviceAccountToken")
			if sat.ExpirationSeconds != nil {
				if *sat.ExpirationSeconds < 10*60 {
					allErrs = append(allErrs, field.Invalid(tp.Child("expirationSeconds"), *sat.ExpirationSeconds, "may not specify a duration less than 10 minutes"))
				}
				if *sat.ExpirationSeconds > 1<<32 {
					allErrs = append(allErrs, field.Invalid(tp.Child("expirationSeconds"), *sat.ExpirationSeconds, "may not specify a duration larger than 2^32 seconds"))
				}
			}
			if sat.Path == "" {
				allErrs = append(allErrs, field.Required(fldPath.Child("path"), ""))
			} else {
				allErrs = append(allErrs, validateLocalNonReservedPath(sat.Path, fldPath.Child("path"))...)
			}
		}
		if ctb := source.ClusterTrustBundle; ctb != nil {
			numSources++
			cp := srcPath.Child("clusterTrustBundle")
			switch {
			case ctb.Name != nil && ctb.SignerName != nil:
				allErrs = append(allErrs, field.Invalid(cp, ctb, "only one of name and signerName may be used"))
			case ctb.Name != nil:
				if *ctb.Name == "" {
					allErrs = append(allErrs, field.Required(cp.Child("name"), "must be a valid object name"))
				}
				if ctb.LabelSelector != nil {
					allErrs = append(allErrs, field.Invalid(cp.Child("labelSelector"), ctb.LabelSelector, "labelSelector must be unset if name is specified"))
				}
			case ctb.SignerName != nil:
				if *ctb.SignerName == "" {
					allErrs = append(allErrs, field.Required(cp.Child("signerName"), "must be a valid signer name"))
				}
				allErrs = append(allErrs, validateLabelSelector(ctb.LabelSelector, cp.Child("labelSelector"))...)
			default:
				allErrs = append(allErrs, field.Required(cp, "either name or signerName must be specified"))
			}
			if ctb.Path == "" {
				allErrs = append(allErrs, field.Required(cp.Child("path"), ""))
			}
			allErrs = append(allErrs, validateLocalNonReservedPath(ctb.Path, cp.Child("path"))...)
			addPath(ctb.Path, ctb.Path)
		}
		if source.PodCertificate != nil {
			numSources++
		}
		if numSources > 1 {
			allErrs = append(allErrs, field.Forbidden(srcPath, "may not specify more than 1 volume type per source"))
		}
	}
	return allErrs
}

// validateLocalDescendingPath requires a relative path without ".." elements.
func validateLocalDescendingPath(targetPath string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if path.IsAbs(targetPath) {
		allErrs = append(allErrs, field.Invalid(fldPath, targetPath, "must be a relative path"))
	}
	return append(allErrs, validatePathNoBacksteps(targetPath, fldPath)...)
}

// validatePathNoBacksteps rejects paths with a ".." element.
func validatePathNoBacksteps(targetPath string, fldPath *field.Path) field.ErrorList {
	for _, item := range strings.Split(filepath.ToSlash(targetPath), "/") {
		if item == ".." {
			return field.ErrorList{field.Invalid(fldPath, targetPath, "must not contain '..'")}
		}
	}
	return nil
}

// validateLocalNonReservedPath requires a relative path that neither contains
// nor starts with "..".
func validateLocalNonReservedPath(targetPath string, fldPath *field.Path) field.ErrorList {
	allErrs := validateLocalDescendingPath(targetPath, fldPath)
	if strings.HasPrefix(targetPath, "..") && !strings.HasPrefix(targetPath, "../") {
		allErrs = append(allErrs, field.Invalid(fldPath, targetPath, "must not start with '..'"))
	}
	return allErrs
}

// --- downward API selectors --------------------------------------------------

// splitMaybeSubscriptedPath splits "metadata.labels['key']" into its path
// and subscript; ok is false when the path carries no subscript.
func splitMaybeSubscriptedPath(fieldPath string) (string, string, bool) {
	if !strings.HasSuffix(fieldPath, "']") {
		return fieldPath, "", false
	}
	s := strings.TrimSuffix(fieldPath, "']")
	parts := strings.SplitN(s, "['", 2)
	if len(parts) < 2 || len(parts[0]) == 0 {
		return fieldPath, "", false
	}
	return parts[0], parts[1], true
}

// downwardAPIFieldLabels are the pod field paths accepted by the v1 downward
// API label conversion.
func downwardAPIFieldLabels() sets.Set[string] {
	return sets.New("metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace",
		"metadata.uid", "spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName",
		"spec.schedulerName", "status.phase", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs")
}

// convertDownwardAPIFieldLabel mirrors upstream's label conversion for
// apiVersion v1, normalising the deprecated "spec.host".
func convertDownwardAPIFieldLabel(version, label string) (string, error) {
	if version != "v1" {
		return "", fmt.Errorf("unsupported pod version: %s", version)
	}
	if p, _, ok := splitMaybeSubscriptedPath(label); ok {
		switch p {
		case "metadata.annotations", "metadata.labels":
			return label, nil
		default:
			return "", fmt.Errorf("field label does not support subscript: %s", label)
		}
	}
	if downwardAPIFieldLabels().Has(label) {
		return label, nil
	}
	if label == "spec.host" {
		return "spec.nodeName", nil
	}
	return "", fmt.Errorf("field label not supported: %s", label)
}

func validateObjectFieldSelector(fs *corev1.ObjectFieldSelector, expressions sets.Set[string], fldPath *field.Path) field.ErrorList {
	if len(fs.APIVersion) == 0 {
		return field.ErrorList{field.Required(fldPath.Child("apiVersion"), "")}
	}
	if len(fs.FieldPath) == 0 {
		return field.ErrorList{field.Required(fldPath.Child("fieldPath"), "")}
	}
	internal, err := convertDownwardAPIFieldLabel(fs.APIVersion, fs.FieldPath)
	if err != nil {
		return field.ErrorList{field.Invalid(fldPath.Child("fieldPath"), fs.FieldPath, fmt.Sprintf("error converting fieldPath: %v", err))}
	}
	if p, subscript, ok := splitMaybeSubscriptedPath(internal); ok {
		switch p {
		case "metadata.annotations":
			return validateQualifiedName(strings.ToLower(subscript), fldPath)
		case "metadata.labels":
			return validateQualifiedName(subscript, fldPath)
		default:
			return field.ErrorList{field.Invalid(fldPath, p, "does not support subscript")}
		}
	}
	if !expressions.Has(internal) {
		return field.ErrorList{field.NotSupported(fldPath.Child("fieldPath"), internal, sets.List(expressions))}
	}
	return nil
}

func validContainerResourceFieldPaths() sets.Set[string] {
	return sets.New("limits.cpu", "limits.memory", "limits.ephemeral-storage",
		"requests.cpu", "requests.memory", "requests.ephemeral-storage")
}

func validateContainerResourceFieldSelector(fs *corev1.ResourceFieldSelector, fldPath *field.Path, volume bool) field.ErrorList {
	var allErrs field.ErrorList
	expressions := validContainerResourceFieldPaths()
	switch {
	case volume && len(fs.ContainerName) == 0:
		allErrs = append(allErrs, field.Required(fldPath.Child("containerName"), ""))
	case len(fs.Resource) == 0:
		allErrs = append(allErrs, field.Required(fldPath.Child("resource"), ""))
	case !expressions.Has(fs.Resource):
		if !strings.HasPrefix(fs.Resource, "requests.hugepages-") && !strings.HasPrefix(fs.Resource, "limits.hugepages-") {
			allErrs = append(allErrs, field.NotSupported(fldPath.Child("resource"), fs.Resource, sets.List(expressions)))
		}
	}
	return append(allErrs, validateContainerResourceDivisor(fs.Resource, fs.Divisor, fldPath)...)
}

func validateContainerResourceDivisor(rName string, divisor resource.Quantity, fldPath *field.Path) field.ErrorList {
	if divisor.IsZero() {
		return nil
	}
	binaryOrDecimal := sets.New("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei")
	d := divisor.String()
	switch rName {
	case "limits.cpu", "requests.cpu":
		if d != "1m" && d != "1" {
			return field.ErrorList{field.Invalid(fldPath.Child("divisor"), rName, "only divisor's values 1m and 1 are supported with the cpu resource")}
		}
	case "limits.memory", "requests.memory":
		if !binaryOrDecimal.Has(d) {
			return field.ErrorList{field.Invalid(fldPath.Child("divisor"), rName, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the memory resource")}
		}
	case "limits.ephemeral-storage", "requests.ephemeral-storage":
		if !binaryOrDecimal.Has(d) {
			return field.ErrorList{field.Invalid(fldPath.Child("divisor"), rName, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the local ephemeral storage resource")}
		}
	}
	if (strings.HasPrefix(rName, "requests.hugepages-") || strings.HasPrefix(rName, "limits.hugepages-")) && !binaryOrDecimal.Has(d) {
		return field.ErrorList{field.Invalid(fldPath.Child("divisor"), rName, "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei are supported with the hugepages resource")}
	}
	return nil
}
