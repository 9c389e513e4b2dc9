package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func validRC() *corev1.ReplicationController {
	return &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: ptr(int32(2)),
			Selector: map[string]string{"app": "web"},
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}, Spec: validPodSpec()},
		},
	}
}

func TestValidateReplicationController(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(rc *corev1.ReplicationController)
		want   []string
	}{
		{"valid", func(*corev1.ReplicationController) {}, nil},
		{"empty selector", func(rc *corev1.ReplicationController) { rc.Spec.Selector = nil }, []string{required + "spec.selector"}},
		{"selector mismatch", func(rc *corev1.ReplicationController) { rc.Spec.Selector = map[string]string{"app": "db"} }, []string{invalid + "spec.template.metadata.labels"}},
		{"negative replicas", func(rc *corev1.ReplicationController) { rc.Spec.Replicas = ptr(int32(-1)) }, []string{invalid + "spec.replicas"}},
		{"missing template", func(rc *corev1.ReplicationController) { rc.Spec.Template = nil }, []string{required + "spec.template"}},
		{"restartPolicy Never", func(rc *corev1.ReplicationController) {
			rc.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever
		}, []string{notSupported + "spec.template.spec.restartPolicy"}},
		{"activeDeadlineSeconds", func(rc *corev1.ReplicationController) { rc.Spec.Template.Spec.ActiveDeadlineSeconds = ptr(int64(5)) }, []string{forbidden + "spec.template.spec.activeDeadlineSeconds"}},
		{"bad container", func(rc *corev1.ReplicationController) { rc.Spec.Template.Spec.Containers[0].Name = "" }, []string{required + "spec.template.spec.containers[0].name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc := validRC()
			tc.mutate(rc)
			expectErrors(t, ValidateReplicationController(rc), tc.want...)
		})
	}
	old := validRC()
	old.ResourceVersion = "1"
	upd := old.DeepCopy()
	upd.Spec.Replicas = ptr(int32(5))
	expectErrors(t, ValidateReplicationControllerUpdate(upd, old))
	st := old.DeepCopy()
	st.Status = corev1.ReplicationControllerStatus{Replicas: 2, ReadyReplicas: 3}
	expectErrors(t, ValidateReplicationControllerStatusUpdate(st, old), invalid+"status.readyReplicas")
}

func TestValidatePodTemplate(t *testing.T) {
	pt := &corev1.PodTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "tmpl", Namespace: "default"},
		Template:   corev1.PodTemplateSpec{Spec: validPodSpec()},
	}
	expectErrors(t, ValidatePodTemplate(pt))
	bad := pt.DeepCopy()
	bad.Template.Spec.DNSPolicy = "x"
	expectErrors(t, ValidatePodTemplate(bad), notSupported+"template.spec.dnsPolicy")
	old := pt.DeepCopy()
	old.ResourceVersion = "1"
	upd := old.DeepCopy()
	upd.Template.Spec.Containers[0].Image = "nginx:2"
	expectErrors(t, ValidatePodTemplateUpdate(upd, old))
}
