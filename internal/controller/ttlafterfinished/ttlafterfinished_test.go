package ttlafterfinished

import (
	"context"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller"
)

var now = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func finishedJob(ttl *int32, cond batchv1.JobConditionType, ago time.Duration) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "ns", UID: "u"}, Spec: batchv1.JobSpec{TTLSecondsAfterFinished: ttl}}
	if cond != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: cond, Status: v1.ConditionTrue, LastTransitionTime: metav1.NewTime(now.Add(-ago))}}
	}
	return j
}

func TestExpiry(t *testing.T) {
	cases := []struct {
		name    string
		job     *batchv1.Job
		expired bool
		left    time.Duration
		ok      bool
	}{
		{"no TTL", finishedJob(nil, batchv1.JobComplete, time.Hour), false, 0, false},
		{"running", finishedJob(ptr.To[int32](0), "", 0), false, 0, false},
		{"TTL 0: at once", finishedJob(ptr.To[int32](0), batchv1.JobComplete, 0), true, 0, true},
		{"failed jobs too", finishedJob(ptr.To[int32](10), batchv1.JobFailed, 11*time.Second), true, 0, true},
		{"not yet", finishedJob(ptr.To[int32](100), batchv1.JobComplete, 40*time.Second), false, 60 * time.Second, true},
		{"a success criteria alone is not finished", finishedJob(ptr.To[int32](0), batchv1.JobSuccessCriteriaMet, time.Hour), false, 0, false},
	}
	for _, tc := range cases {
		expired, left, ok := Expiry(tc.job, now)
		if expired != tc.expired || left != tc.left || ok != tc.ok {
			t.Errorf("%s: got %v %v %v", tc.name, expired, left, ok)
		}
	}
}

func TestSyncDeletesInTheForeground(t *testing.T) {
	j := finishedJob(ptr.To[int32](5), batchv1.JobComplete, time.Minute)
	client := fake.NewClientset(j)
	inf := informers.NewSharedInformerFactory(client, 0)
	c, err := newController(controller.Context{Client: client, Informers: inf, Clock: clocktesting.NewFakeClock(now)})
	if err != nil {
		t.Fatal(err)
	}
	_ = inf.Batch().V1().Jobs().Informer().GetIndexer().Add(j)
	if err := c.sync(context.Background(), "ns/pi"); err != nil {
		t.Fatal(err)
	}
	var deleted bool
	for _, a := range client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok {
			deleted = true
			if p := d.GetDeleteOptions().PropagationPolicy; p == nil || *p != metav1.DeletePropagationForeground {
				t.Errorf("propagation %v", p)
			}
		}
	}
	if !deleted {
		t.Error("not deleted")
	}
}
