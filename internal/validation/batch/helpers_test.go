package batch

import (
	"fmt"
	"slices"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func errKeys(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%s %s", e.Type, e.Field))
	}
	return out
}

func key(t field.ErrorType, f string) string { return fmt.Sprintf("%s %s", t, f) }

func checkErrs(t *testing.T, got field.ErrorList, want ...string) {
	t.Helper()
	if g := errKeys(got); !slices.Equal(g, want) {
		t.Errorf("errors mismatch\n got: %q\nwant: %q\nfull: %v", g, want, got)
	}
}

func ptr[T any](v T) *T { return &v }

const testUID = types.UID("5f0c1f8e-8a53-4c9b-bd0e-2c7a4f1e9d10")

// podTemplate returns a job pod template as the defaulting layer leaves it.
func podTemplate() corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:                     "pi",
				Image:                    "perl:5.34",
				Command:                  []string{"perl", "-Mbignum=bpi", "-wle", "print bpi(2000)"},
				ImagePullPolicy:          corev1.PullIfNotPresent,
				TerminationMessagePath:   corev1.TerminationMessagePathDefault,
				TerminationMessagePolicy: corev1.TerminationMessageReadFile,
			}},
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptr(int64(30)),
			DNSPolicy:                     corev1.DNSClusterFirst,
			SecurityContext:               &corev1.PodSecurityContext{},
			SchedulerName:                 corev1.DefaultSchedulerName,
		},
	}
}

// validJob returns a defaulted Job with a generated selector.
func validJob() *batchv1.Job {
	tmpl := podTemplate()
	tmpl.Labels = map[string]string{
		"controller-uid":           string(testUID),
		"job-name":                 "pi",
		batchv1.ControllerUidLabel: string(testUID),
		batchv1.JobNameLabel:       "pi",
	}
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "default", UID: testUID, ResourceVersion: "1", Generation: 1},
		Spec: batchv1.JobSpec{
			Parallelism:          ptr(int32(1)),
			Completions:          ptr(int32(1)),
			BackoffLimit:         ptr(int32(6)),
			Selector:             &metav1.LabelSelector{MatchLabels: map[string]string{batchv1.ControllerUidLabel: string(testUID)}},
			ManualSelector:       ptr(false),
			Template:             tmpl,
			CompletionMode:       ptr(batchv1.NonIndexedCompletion),
			Suspend:              ptr(false),
			PodReplacementPolicy: ptr(batchv1.TerminatingOrFailed),
		},
	}
}

// indexed turns j into an Indexed job with n completions and parallelism.
func indexed(j *batchv1.Job, n int32) {
	j.Spec.CompletionMode = ptr(batchv1.IndexedCompletion)
	j.Spec.Completions = ptr(n)
	j.Spec.Parallelism = ptr(n)
}
