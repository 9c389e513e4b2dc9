package validation

import (
	"strings"
	"testing"

	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestValidateObjectMeta(t *testing.T) {
	fld := field.NewPath("metadata")
	tests := []struct {
		name       string
		meta       metav1.ObjectMeta
		namespaced bool
		want       []string
	}{
		{"valid namespaced", metav1.ObjectMeta{Name: "a.b-c", Namespace: "ns"}, true, nil},
		{"valid cluster scoped", metav1.ObjectMeta{Name: "node-1"}, false, nil},
		{"generateName only", metav1.ObjectMeta{GenerateName: "web-", Namespace: "ns"}, true, []string{required + "metadata.name"}},
		{"missing name", metav1.ObjectMeta{Namespace: "ns"}, true, []string{required + "metadata.name"}},
		{"bad name", metav1.ObjectMeta{Name: "Bad_Name", Namespace: "ns"}, true, []string{invalid + "metadata.name"}},
		{"bad generateName", metav1.ObjectMeta{Name: "ok", GenerateName: "Bad_", Namespace: "ns"}, true, []string{invalid + "metadata.generateName"}},
		{"missing namespace", metav1.ObjectMeta{Name: "a"}, true, []string{required + "metadata.namespace"}},
		{"bad namespace", metav1.ObjectMeta{Name: "a", Namespace: "a.b"}, true, []string{invalid + "metadata.namespace"}},
		{"namespace on cluster scoped", metav1.ObjectMeta{Name: "a", Namespace: "ns"}, false, []string{forbidden + "metadata.namespace"}},
		{"bad label key", metav1.ObjectMeta{Name: "a", Namespace: "ns", Labels: map[string]string{"-bad": "v"}}, true, []string{invalid + "metadata.labels"}},
		{"bad label value", metav1.ObjectMeta{Name: "a", Namespace: "ns", Labels: map[string]string{"k": "bad value"}}, true, []string{invalid + "metadata.labels"}},
		{"bad annotation key", metav1.ObjectMeta{Name: "a", Namespace: "ns", Annotations: map[string]string{"a/b/c": "v"}}, true, []string{invalid + "metadata.annotations"}},
		{"annotations too large", metav1.ObjectMeta{Name: "a", Namespace: "ns", Annotations: map[string]string{"k": strings.Repeat("x", 256*1024)}}, true, []string{tooLong + "metadata.annotations"}},
		{"nonstandard finalizer", metav1.ObjectMeta{Name: "a", Namespace: "ns", Finalizers: []string{"foo"}}, true, []string{invalid + "metadata.finalizers[0]"}},
		{"qualified finalizer", metav1.ObjectMeta{Name: "a", Namespace: "ns", Finalizers: []string{"example.com/cleanup", "kubernetes"}}, true, nil},
		{"conflicting finalizers", metav1.ObjectMeta{Name: "a", Namespace: "ns", Finalizers: []string{metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents}}, true, []string{invalid + "metadata.finalizers"}},
		{"owner reference missing fields", metav1.ObjectMeta{Name: "a", Namespace: "ns", OwnerReferences: []metav1.OwnerReference{{Kind: "ReplicaSet"}}}, true,
			[]string{required + "metadata.ownerReferences[0].apiVersion", required + "metadata.ownerReferences[0].name", required + "metadata.ownerReferences[0].uid"}},
		{"valid owner reference", metav1.ObjectMeta{Name: "a", Namespace: "ns", OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "rs", UID: "u1"}}}, true, nil},
		{"negative generation", metav1.ObjectMeta{Name: "a", Namespace: "ns", Generation: -1}, true, []string{invalid + "metadata.generation"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectErrors(t, ValidateObjectMeta(&tc.meta, tc.namespaced, apimachineryvalidation.NameIsDNSSubdomain, fld), tc.want...)
		})
	}
}

func TestValidateObjectMetaUpdate(t *testing.T) {
	now := metav1.Now()
	old := metav1.ObjectMeta{Name: "a", Namespace: "ns", UID: types.UID("u1"), ResourceVersion: "5", Generation: 2, CreationTimestamp: now}
	tests := []struct {
		name   string
		mutate func(m *metav1.ObjectMeta)
		want   []string
	}{
		{"unchanged", func(*metav1.ObjectMeta) {}, nil},
		{"labels change", func(m *metav1.ObjectMeta) { m.Labels = map[string]string{"x": "y"} }, nil},
		{"name change", func(m *metav1.ObjectMeta) { m.Name = "b" }, []string{invalid + "metadata.name"}},
		{"namespace change", func(m *metav1.ObjectMeta) { m.Namespace = "other" }, []string{invalid + "metadata.namespace"}},
		{"uid change", func(m *metav1.ObjectMeta) { m.UID = "u2" }, []string{invalid + "metadata.uid"}},
		{"creationTimestamp change", func(m *metav1.ObjectMeta) { m.CreationTimestamp = metav1.Time{} }, []string{invalid + "metadata.creationTimestamp"}},
		{"missing resourceVersion", func(m *metav1.ObjectMeta) { m.ResourceVersion = "" }, []string{invalid + "metadata.resourceVersion"}},
		{"generation decrement", func(m *metav1.ObjectMeta) { m.Generation = 1 }, []string{invalid + "metadata.generation"}},
		{"bad finalizer", func(m *metav1.ObjectMeta) { m.Finalizers = []string{"nope"} }, []string{invalid + "metadata.finalizers[0]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := *old.DeepCopy()
			tc.mutate(&m)
			expectErrors(t, ValidateObjectMetaUpdate(&m, &old, field.NewPath("metadata")), tc.want...)
		})
	}

	deleting := *old.DeepCopy()
	deleting.DeletionTimestamp = &now
	deleting.Finalizers = []string{"example.com/a"}
	m := *deleting.DeepCopy()
	m.Finalizers = append(m.Finalizers, "example.com/b")
	expectErrors(t, ValidateObjectMetaUpdate(&m, &deleting, field.NewPath("metadata")), forbidden+"metadata.finalizers")
}
