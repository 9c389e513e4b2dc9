package validation

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestValidateConfigMap(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "cfg", Namespace: "default"}
	tests := []struct {
		name string
		cm   corev1.ConfigMap
		want []string
	}{
		{"valid", corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"app.properties": "a=b", "KEY_1": "v"}, BinaryData: map[string][]byte{"blob.bin": {1}}}, nil},
		{"bad name", corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "Cfg", Namespace: "default"}}, []string{invalid + "metadata.name"}},
		{"bad key", corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"a/b": "x"}}, []string{invalid + "data[a/b]"}},
		{"dot key", corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"..": "x"}}, []string{invalid + "data[..]"}},
		{"bad binary key", corev1.ConfigMap{ObjectMeta: meta, BinaryData: map[string][]byte{"a b": nil}}, []string{invalid + "binaryData[a b]"}},
		{"key in both", corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"k": "x"}, BinaryData: map[string][]byte{"k": nil}}, []string{invalid + "data[k]"}},
		{"too large", corev1.ConfigMap{ObjectMeta: meta, Data: map[string]string{"a": strings.Repeat("x", corev1.MaxSecretSize), "b": "y"}}, []string{tooLong + "[]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectErrors(t, ValidateConfigMap(&tc.cm), tc.want...)
		})
	}

	old := &corev1.ConfigMap{ObjectMeta: withRV(meta), Data: map[string]string{"k": "v"}}
	upd := old.DeepCopy()
	upd.Data["k"] = "w"
	expectErrors(t, ValidateConfigMapUpdate(upd, old))
	old.Immutable = ptr(true)
	upd = old.DeepCopy()
	upd.Data["k"] = "w"
	expectErrors(t, ValidateConfigMapUpdate(upd, old), forbidden+"data")
	upd = old.DeepCopy()
	upd.Immutable = nil
	expectErrors(t, ValidateConfigMapUpdate(upd, old), forbidden+"immutable")
	upd = old.DeepCopy()
	upd.BinaryData = map[string][]byte{"b": {1}}
	expectErrors(t, ValidateConfigMapUpdate(upd, old), forbidden+"binaryData")
	upd = old.DeepCopy()
	upd.Labels = map[string]string{"x": "y"}
	expectErrors(t, ValidateConfigMapUpdate(upd, old))
}

func TestValidateSecret(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "s", Namespace: "default"}
	tests := []struct {
		name string
		s    corev1.Secret
		want []string
	}{
		{"valid opaque", corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"password": []byte("x")}}, nil},
		{"bad key", corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"a:b": nil}}, []string{invalid + "data[a:b]"}},
		{"too large", corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"a": make([]byte, corev1.MaxSecretSize+1)}}, []string{tooLong + "data"}},
		{"valid tls", corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": {1}, "tls.key": {1}}}, nil},
		{"tls missing keys", corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeTLS}, []string{required + "data[tls.crt]", required + "data[tls.key]"}},
		{"dockerconfigjson missing", corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeDockerConfigJson}, []string{required + "data[.dockerconfigjson]"}},
		{"dockerconfigjson bad json", corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{".dockerconfigjson": []byte("{")}}, []string{invalid + "data[.dockerconfigjson]"}},
		{"dockerconfigjson valid", corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{".dockerconfigjson": []byte(`{"auths":{}}`)}}, nil},
		{"dockercfg bad json", corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeDockercfg, Data: map[string][]byte{".dockercfg": []byte("[")}}, []string{invalid + "data[.dockercfg]"}},
		{"sa token missing annotation", corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeServiceAccountToken}, []string{required + "metadata.annotations[kubernetes.io/service-account.name]"}},
		{"sa token valid", corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "default", Annotations: map[string]string{corev1.ServiceAccountNameKey: "default"}}, Type: corev1.SecretTypeServiceAccountToken}, nil},
		{"basic auth missing", corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeBasicAuth}, []string{required + "data[username]", required + "data[password]"}},
		{"basic auth username only", corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeBasicAuth, Data: map[string][]byte{"username": nil}}, nil},
		{"ssh auth missing", corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeSSHAuth}, []string{required + "data[ssh-privatekey]"}},
		{"custom type", corev1.Secret{ObjectMeta: meta, Type: "example.com/thing"}, nil},
		{"tls via stringData", corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeTLS, StringData: map[string]string{"tls.crt": "c", "tls.key": "k"}}, nil},
		{"bad stringData key", corev1.Secret{ObjectMeta: meta, Type: corev1.SecretTypeOpaque, StringData: map[string]string{"a b": "x"}}, []string{invalid + "stringData[a b]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expectErrors(t, ValidateSecret(&tc.s), tc.want...)
		})
	}

	old := &corev1.Secret{ObjectMeta: withRV(meta), Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"k": []byte("v")}}
	upd := old.DeepCopy()
	upd.Data["k"] = []byte("w")
	expectErrors(t, ValidateSecretUpdate(upd, old))
	upd.Type = corev1.SecretTypeBasicAuth
	expectErrors(t, ValidateSecretUpdate(upd, old), invalid+"type", required+"data[username]", required+"data[password]")
	old.Immutable = ptr(true)
	upd = old.DeepCopy()
	upd.Data["k"] = []byte("w")
	expectErrors(t, ValidateSecretUpdate(upd, old), forbidden+"data")
	upd = old.DeepCopy()
	upd.Immutable = ptr(false)
	expectErrors(t, ValidateSecretUpdate(upd, old), forbidden+"immutable")
}

func TestValidateServiceAccount(t *testing.T) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "default"}}
	expectErrors(t, ValidateServiceAccount(sa))
	bad := sa.DeepCopy()
	bad.Name = "Builder"
	expectErrors(t, ValidateServiceAccount(bad), invalid+"metadata.name")
	bad = sa.DeepCopy()
	bad.Namespace = ""
	expectErrors(t, ValidateServiceAccount(bad), required+"metadata.namespace")

	old := sa.DeepCopy()
	old.ResourceVersion = "1"
	upd := old.DeepCopy()
	upd.Secrets = []corev1.ObjectReference{{Name: "tok"}}
	expectErrors(t, ValidateServiceAccountUpdate(upd, old))
	upd.UID = "changed"
	expectErrors(t, ValidateServiceAccountUpdate(upd, old), invalid+"metadata.uid")
}

func TestValidateEvent(t *testing.T) {
	legacy := func() *corev1.Event {
		return &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "web.17a2b3c4d5e6f", Namespace: "default"},
			InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"},
			Reason:         "Started", Message: "Started container", Type: corev1.EventTypeNormal, Count: 1,
			Source: corev1.EventSource{Component: "kubelet"},
		}
	}
	modern := func() *corev1.Event {
		e := legacy()
		e.EventTime = metav1.NowMicro()
		e.ReportingController = "example.com/controller"
		e.ReportingInstance = "controller-0"
		e.Action = "Reconcile"
		return e
	}
	tests := []struct {
		name string
		ev   *corev1.Event
		mod  func(e *corev1.Event)
		want []string
	}{
		{"valid legacy", legacy(), nil, nil},
		{"valid modern", modern(), nil, nil},
		{"name with colon allowed", legacy(), func(e *corev1.Event) { e.Name = "web:Started" }, nil},
		{"name with slash", legacy(), func(e *corev1.Event) { e.Name = "a/b" }, []string{invalid + "metadata.name"}},
		{"namespace mismatch", legacy(), func(e *corev1.Event) { e.InvolvedObject.Namespace = "other" }, []string{invalid + "involvedObject.namespace"}},
		{"cluster object event in default", legacy(), func(e *corev1.Event) { e.InvolvedObject = corev1.ObjectReference{Kind: "Node", Name: "n"} }, nil},
		{"modern missing fields", modern(), func(e *corev1.Event) { e.ReportingController, e.ReportingInstance, e.Action, e.Reason = "", "", "", "" }, []string{
			required + "reportingController", invalid + "reportingController", invalid + "reportingController",
			required + "reportingInstance", required + "action", required + "reason"}},
		{"modern long message", modern(), func(e *corev1.Event) { e.Message = strings.Repeat("x", 1025) }, []string{invalid + "message"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.mod != nil {
				tc.mod(tc.ev)
			}
			expectErrors(t, ValidateEvent(tc.ev), tc.want...)
		})
	}
	old := legacy()
	old.ResourceVersion = "1"
	upd := old.DeepCopy()
	upd.Count = 2
	expectErrors(t, ValidateEventUpdate(upd, old))
	upd.Name = "x"
	expectErrors(t, ValidateEventUpdate(upd, old), invalid+"metadata.name")
}
