package manager_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/kubelet/simruntime"
)

// TestJobsAndCronJobs runs Jobs to completion and to failure on simulated
// nodes, whose containers exit as the pods' sim.skiff.sh annotations
// script; a CronJob every minute starts a Job meanwhile.
func TestJobsAndCronJobs(t *testing.T) {
	c := startCluster(t)
	ctx := context.Background()
	ns := "batch"
	c.namespace(ns)
	jobs := c.client.BatchV1().Jobs(ns)

	// A CronJob first: its minute passes while the Jobs below run.
	cj, err := c.client.BatchV1().CronJobs(ns).Create(ctx, &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "tick"},
		Spec: batchv1.CronJobSpec{Schedule: "* * * * *", JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: exitingPod(0)},
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("completions 3, parallelism 2: Complete", func(t *testing.T) {
		_, err := jobs.Create(ctx, &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "three"},
			Spec:       batchv1.JobSpec{Completions: ptr.To[int32](3), Parallelism: ptr.To[int32](2), Template: exitingPod(0)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		j := c.jobCondition(ns, "three", batchv1.JobComplete)
		if j.Status.Succeeded != 3 || j.Status.Failed != 0 || j.Status.CompletionTime == nil || j.Status.StartTime == nil ||
			!hasJobCondition(j, batchv1.JobSuccessCriteriaMet) {
			t.Errorf("status %+v", j.Status)
		}
		pods := c.jobPods(ns, "three")
		if len(pods) != 3 {
			t.Errorf("%d pods, want 3", len(pods))
		}
		c.eventually(time.Minute, "tracking finalizers removed", func() (bool, string) {
			for _, p := range c.jobPods(ns, "three") {
				if slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) {
					return false, p.Name
				}
			}
			return true, ""
		})
		if p := pods[0]; p.Labels[batchv1.JobNameLabel] != "three" || p.Labels[batchv1.ControllerUidLabel] != string(j.UID) ||
			p.Labels["job-name"] != "three" || p.Labels["controller-uid"] != string(j.UID) {
			t.Errorf("pod labels %v", p.Labels)
		}
		if out := c.kubectl("wait", "-n", ns, "--for=condition=complete", "--timeout=10s", "job/three"); !strings.Contains(out, "job.batch/three condition met") {
			t.Errorf("kubectl wait: %s", out)
		}
		out := c.kubectl("get", "-n", ns, "job", "three")
		t.Logf("kubectl get job:\n%s", out)
		if !strings.Contains(out, "COMPLETIONS") || !strings.Contains(out, "DURATION") || !strings.Contains(out, "3/3") || !strings.Contains(out, "Complete") {
			t.Errorf("kubectl get job:\n%s", out)
		}
	})

	t.Run("failing pods: BackoffLimitExceeded", func(t *testing.T) {
		_, err := jobs.Create(ctx, &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "fails"},
			Spec:       batchv1.JobSpec{BackoffLimit: ptr.To[int32](1), Template: exitingPod(1)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		j := c.jobCondition(ns, "fails", batchv1.JobFailed)
		cond := jobConditionOf(j, batchv1.JobFailed)
		if j.Status.Failed != 2 || cond.Reason != batchv1.JobReasonBackoffLimitExceeded ||
			cond.Message != "Job has reached the specified backoff limit" || !hasJobCondition(j, batchv1.JobFailureTarget) {
			t.Errorf("status %+v", j.Status)
		}
		if n := len(c.jobPods(ns, "fails")); n != 2 {
			t.Errorf("%d pods, want 2", n)
		}
	})

	t.Run("Indexed: completed indexes and hostnames", func(t *testing.T) {
		_, err := jobs.Create(ctx, &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "idx"},
			Spec: batchv1.JobSpec{Completions: ptr.To[int32](3), Parallelism: ptr.To[int32](3),
				CompletionMode: ptr.To(batchv1.IndexedCompletion), Template: exitingPod(0)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		j := c.jobCondition(ns, "idx", batchv1.JobComplete)
		if j.Status.CompletedIndexes != "0-2" || j.Status.Succeeded != 3 {
			t.Errorf("status %+v", j.Status)
		}
		var hosts []string
		for _, p := range c.jobPods(ns, "idx") {
			hosts = append(hosts, p.Spec.Hostname+"="+p.Annotations[batchv1.JobCompletionIndexAnnotation])
		}
		slices.Sort(hosts)
		if strings.Join(hosts, " ") != "idx-0=0 idx-1=1 idx-2=2" {
			t.Errorf("hostnames %v", hosts)
		}
	})

	t.Run("ttlSecondsAfterFinished deletes the finished Job and its pods", func(t *testing.T) {
		_, err := jobs.Create(ctx, &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "short"},
			Spec:       batchv1.JobSpec{TTLSecondsAfterFinished: ptr.To[int32](1), Template: exitingPod(0)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c.eventually(2*time.Minute, "job short deleted", func() (bool, string) {
			j, err := jobs.Get(ctx, "short", metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, ""
			}
			if err != nil {
				return false, err.Error()
			}
			return false, fmt.Sprintf("conditions %v", j.Status.Conditions)
		})
		c.eventually(time.Minute, "pods of short deleted", func() (bool, string) {
			n := len(c.jobPods(ns, "short"))
			return n == 0, fmt.Sprintf("%d pods", n)
		})
	})

	t.Run("activeDeadlineSeconds: DeadlineExceeded, pods deleted", func(t *testing.T) {
		_, err := jobs.Create(ctx, &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "slow"},
			Spec:       batchv1.JobSpec{ActiveDeadlineSeconds: ptr.To[int64](3), Template: runningPod()},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		j := c.jobCondition(ns, "slow", batchv1.JobFailed)
		if cond := jobConditionOf(j, batchv1.JobFailed); cond.Reason != batchv1.JobReasonDeadlineExceeded ||
			cond.Message != "Job was active longer than specified deadline" || j.Status.Active != 0 {
			t.Errorf("status %+v", j.Status)
		}
		c.eventually(time.Minute, "pods of slow gone", func() (bool, string) {
			n := len(c.jobPods(ns, "slow"))
			return n == 0, fmt.Sprintf("%d pods", n)
		})
	})

	t.Run("suspend deletes the pods; resume starts them again", func(t *testing.T) {
		_, err := jobs.Create(ctx, &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: "pausable"},
			// Completions 4: a pod stopped by the suspension may end
			// Succeeded (the simulated container exits 0 on SIGTERM) and
			// count, and the resumed Job must still want 2 running.
			Spec: batchv1.JobSpec{Parallelism: ptr.To[int32](2), Completions: ptr.To[int32](4), Template: runningPod()},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c.jobActive(ns, "pausable", 2)
		c.patchJob(ns, "pausable", `{"spec":{"suspend":true}}`)
		j := c.jobCondition(ns, "pausable", batchv1.JobSuspended)
		c.eventually(time.Minute, "pods of pausable gone", func() (bool, string) {
			n := len(c.jobPods(ns, "pausable"))
			return n == 0, fmt.Sprintf("%d pods", n)
		})
		c.patchJob(ns, "pausable", `{"spec":{"suspend":false}}`)
		j = c.jobActive(ns, "pausable", 2)
		if j.Status.Failed != 0 || hasJobCondition(j, batchv1.JobSuspended) {
			t.Errorf("status %+v", j.Status)
		}
	})

	t.Run("a deleted Job's pods lose the tracking finalizer and go", func(t *testing.T) {
		c.eventually(time.Minute, "pods of pausable running", func() (bool, string) {
			n := len(c.jobPods(ns, "pausable"))
			return n == 2, fmt.Sprintf("%d pods", n)
		})
		bg := metav1.DeletePropagationBackground
		if err := jobs.Delete(ctx, "pausable", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
			t.Fatal(err)
		}
		c.eventually(2*time.Minute, "pods of the deleted job gone", func() (bool, string) {
			pods := c.jobPods(ns, "pausable")
			var fin []string
			for _, p := range pods {
				fin = append(fin, fmt.Sprint(p.Finalizers))
			}
			return len(pods) == 0, fmt.Sprintf("%d pods, finalizers %v", len(pods), fin)
		})
	})

	t.Run("an orphaned pod loses the tracking finalizer", func(t *testing.T) {
		_, err := jobs.Create(ctx, &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "orphaning"}, Spec: batchv1.JobSpec{Template: runningPod()}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c.eventually(time.Minute, "a pod of orphaning", func() (bool, string) {
			n := len(c.jobPods(ns, "orphaning"))
			return n == 1, fmt.Sprintf("%d pods", n)
		})
		orphan := metav1.DeletePropagationOrphan
		if err := jobs.Delete(ctx, "orphaning", metav1.DeleteOptions{PropagationPolicy: &orphan}); err != nil {
			t.Fatal(err)
		}
		c.eventually(time.Minute, "the orphan without owner and finalizer", func() (bool, string) {
			pods := c.jobPods(ns, "orphaning")
			if len(pods) != 1 {
				return false, fmt.Sprintf("%d pods", len(pods))
			}
			p := pods[0]
			return len(p.OwnerReferences) == 0 && len(p.Finalizers) == 0, fmt.Sprintf("owners %v finalizers %v", p.OwnerReferences, p.Finalizers)
		})
	})

	t.Run("the CronJob started a Job named by its minute", func(t *testing.T) {
		var started *batchv1.Job
		c.eventually(2*time.Minute, "a job of the cronjob", func() (bool, string) {
			list, err := jobs.List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err.Error()
			}
			for i, j := range list.Items {
				if ref := metav1.GetControllerOf(&j); ref != nil && ref.UID == cj.UID {
					started = &list.Items[i]
					return true, ""
				}
			}
			return false, fmt.Sprintf("%d jobs", len(list.Items))
		})
		ts, err := time.Parse(time.RFC3339, started.Annotations[batchv1.CronJobScheduledTimestampAnnotation])
		if err != nil || started.Name != fmt.Sprintf("tick-%d", ts.Unix()/60) {
			t.Errorf("job %s annotated %q (%v)", started.Name, started.Annotations[batchv1.CronJobScheduledTimestampAnnotation], err)
		}
		c.eventually(2*time.Minute, "lastSuccessfulTime", func() (bool, string) {
			got, err := c.client.BatchV1().CronJobs(ns).Get(ctx, "tick", metav1.GetOptions{})
			if err != nil {
				return false, err.Error()
			}
			return got.Status.LastScheduleTime != nil && got.Status.LastSuccessfulTime != nil, fmt.Sprintf("%+v", got.Status)
		})
		out := c.kubectl("get", "-n", ns, "cronjobs")
		t.Logf("kubectl get cronjobs:\n%s", out)
		if !strings.Contains(out, "LAST SCHEDULE") || !strings.Contains(out, "* * * * *") {
			t.Errorf("kubectl get cronjobs:\n%s", out)
		}
		out = c.kubectl("create", "job", "-n", ns, "manual", "--from=cronjob/tick")
		if !strings.Contains(out, "job.batch/manual created") {
			t.Errorf("kubectl create job --from: %s", out)
		}
		c.jobCondition(ns, "manual", batchv1.JobComplete)
	})
}

// exitingPod is a pod template whose one container (on a simulated node)
// exits with code after a second.
func exitingPod(code int) v1.PodTemplateSpec {
	return v1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{
			simruntime.AnnotationExitCodePrefix + "c": fmt.Sprint(code),
			simruntime.AnnotationExitAfter + "c":      "1s",
		}},
		Spec: v1.PodSpec{RestartPolicy: v1.RestartPolicyNever, Containers: []v1.Container{{Name: "c", Image: "busybox"}}},
	}
}

// runningPod is a pod template whose container runs until it is stopped.
func runningPod() v1.PodTemplateSpec {
	return v1.PodTemplateSpec{Spec: v1.PodSpec{RestartPolicy: v1.RestartPolicyNever, Containers: []v1.Container{{Name: "c", Image: "busybox"}}}}
}

// jobActive waits until the Job reports n active pods and returns it.
func (c *cluster) jobActive(ns, name string, n int32) *batchv1.Job {
	c.t.Helper()
	var j *batchv1.Job
	c.eventually(time.Minute, fmt.Sprintf("job %s with %d active", name, n), func() (bool, string) {
		var err error
		j, err = c.client.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return j.Status.Active == n, fmt.Sprintf("%+v", j.Status)
	})
	return j
}

// patchJob merge-patches a Job.
func (c *cluster) patchJob(ns, name, patch string) {
	c.t.Helper()
	if _, err := c.client.BatchV1().Jobs(ns).Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		c.t.Fatal(err)
	}
}

// jobCondition waits for the Job's condition t and returns the Job.
func (c *cluster) jobCondition(ns, name string, t batchv1.JobConditionType) *batchv1.Job {
	c.t.Helper()
	var j *batchv1.Job
	c.eventually(2*time.Minute, fmt.Sprintf("job %s %s", name, t), func() (bool, string) {
		var err error
		j, err = c.client.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return hasJobCondition(j, t), fmt.Sprintf("%+v", j.Status)
	})
	return j
}

// jobPods lists the pods labelled with the Job's name.
func (c *cluster) jobPods(ns, name string) []v1.Pod {
	c.t.Helper()
	list, err := c.client.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + name})
	if err != nil {
		c.t.Fatal(err)
	}
	return list.Items
}

// kubectl runs the real kubectl against the cluster and returns its
// combined output; a failure fails the test.
func (c *cluster) kubectl(args ...string) string {
	c.t.Helper()
	if _, err := os.Stat("/usr/bin/kubectl"); err != nil {
		c.t.Skip("no kubectl")
	}
	cmd := exec.Command("/usr/bin/kubectl", append([]string{"--kubeconfig", c.srv.Kubeconfig}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+c.t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("kubectl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func jobConditionOf(j *batchv1.Job, t batchv1.JobConditionType) batchv1.JobCondition {
	for _, c := range j.Status.Conditions {
		if c.Type == t {
			return c
		}
	}
	return batchv1.JobCondition{}
}

func hasJobCondition(j *batchv1.Job, t batchv1.JobConditionType) bool {
	return jobConditionOf(j, t).Status == v1.ConditionTrue
}
