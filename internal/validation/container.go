package validation

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validateVolumes(volumes []corev1.Volume, fldPath *field.Path) (sets.Set[string], field.ErrorList) {
	names := sets.New[string]()
	return names, nil
}

func validateContainers(ctrs []corev1.Container, vols sets.Set[string], fldPath *field.Path) field.ErrorList {
	return nil
}

func validateInitContainers(ctrs, regular []corev1.Container, vols sets.Set[string], fldPath *field.Path) field.ErrorList {
	return nil
}

func validateRestartPolicy(p corev1.RestartPolicy, fldPath *field.Path) field.ErrorList {
	return nil
}

func validateDNSPolicy(p corev1.DNSPolicy, fldPath *field.Path) field.ErrorList {
	return nil
}
