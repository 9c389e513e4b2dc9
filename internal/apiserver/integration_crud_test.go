package apiserver_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"

	"github.com/skiff-sh/skiff/internal/testserver"
)

var (
	deploymentsGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	configMapsGVR  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
)

func testDeployment(name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}},
			},
		},
	}
}

// TestIntegrationCRUD covers the write and read verbs through client-go,
// protobuf and JSON, typed and dynamic.
func TestIntegrationCRUD(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	c := s.Client(t)
	jc := jsonClient(t, s)

	t.Run("CreateDefaultsAndSystemFields", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		for _, client := range []kubernetes.Interface{c, jc} {
			pod := testPod("")
			pod.GenerateName = "web-"
			pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "pinned", Image: "busybox:1.36"})
			got, err := client.CoreV1().Pods(ns).Create(bg(), pod, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got.Name, "web-") || len(got.Name) != len("web-")+5 {
				t.Errorf("generated name = %q", got.Name)
			}
			if got.UID == "" || got.CreationTimestamp.IsZero() || got.ResourceVersion == "" {
				t.Errorf("system fields not set: uid=%q created=%v rv=%q", got.UID, got.CreationTimestamp, got.ResourceVersion)
			}
			if got.Namespace != ns {
				t.Errorf("namespace = %q", got.Namespace)
			}
			sp := got.Spec
			if sp.RestartPolicy != corev1.RestartPolicyAlways || sp.DNSPolicy != corev1.DNSClusterFirst ||
				sp.SchedulerName != corev1.DefaultSchedulerName || sp.TerminationGracePeriodSeconds == nil || *sp.TerminationGracePeriodSeconds != 30 {
				t.Errorf("pod spec defaults not applied: %+v", sp)
			}
			if sp.Containers[0].ImagePullPolicy != corev1.PullAlways || sp.Containers[1].ImagePullPolicy != corev1.PullIfNotPresent {
				t.Errorf("imagePullPolicy = %q, %q; want Always, IfNotPresent", sp.Containers[0].ImagePullPolicy, sp.Containers[1].ImagePullPolicy)
			}
			if sp.Containers[0].TerminationMessagePath != "/dev/termination-log" {
				t.Errorf("terminationMessagePath = %q", sp.Containers[0].TerminationMessagePath)
			}
			if got.Status.Phase != corev1.PodPending || got.Status.QOSClass != corev1.PodQOSBestEffort {
				t.Errorf("status = %+v", got.Status)
			}
			// What the create returned is what a get returns.
			again, err := client.CoreV1().Pods(ns).Get(bg(), got.Name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if again.ResourceVersion != got.ResourceVersion || again.UID != got.UID {
				t.Errorf("get = rv %s uid %s, create = rv %s uid %s", again.ResourceVersion, again.UID, got.ResourceVersion, got.UID)
			}
		}

		d, err := c.AppsV1().Deployments(ns).Create(bg(), testDeployment("web"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Generation != 1 {
			t.Errorf("deployment generation = %d, want 1", d.Generation)
		}
		ru := d.Spec.Strategy.RollingUpdate
		if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil ||
			ru.MaxSurge.String() != "25%" || ru.MaxUnavailable.String() != "25%" {
			t.Errorf("strategy = %+v", d.Spec.Strategy)
		}
		if d.Spec.RevisionHistoryLimit == nil || *d.Spec.RevisionHistoryLimit != 10 ||
			d.Spec.ProgressDeadlineSeconds == nil || *d.Spec.ProgressDeadlineSeconds != 600 {
			t.Errorf("deployment defaults: %+v", d.Spec)
		}
		cm, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("plain", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Generation != 0 {
			t.Errorf("configmap generation = %d, want 0", cm.Generation)
		}

		// The same name again.
		_, err = c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("plain", nil), metav1.CreateOptions{})
		st := wantStatus(t, err, 409, metav1.StatusReasonAlreadyExists)
		if st.Message != `configmaps "plain" already exists` {
			t.Errorf("message = %q", st.Message)
		}
	})

	t.Run("GetMissing", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		for _, client := range []kubernetes.Interface{c, jc} {
			_, err := client.CoreV1().ConfigMaps(ns).Get(bg(), "nope", metav1.GetOptions{})
			st := wantStatus(t, err, 404, metav1.StatusReasonNotFound)
			if st.Message != `configmaps "nope" not found` || st.Details == nil || st.Details.Name != "nope" || st.Details.Kind != "configmaps" {
				t.Errorf("status = %+v", st)
			}
			_, err = client.AppsV1().Deployments(ns).Get(bg(), "nope", metav1.GetOptions{})
			st = wantStatus(t, err, 404, metav1.StatusReasonNotFound)
			if st.Message != `deployments.apps "nope" not found` || st.Details.Group != "apps" {
				t.Errorf("status = %+v", st)
			}
		}
	})

	t.Run("UpdateConflictAndRetry", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		cm, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("cm", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		stale := cm.DeepCopy()
		cm.Data["k"] = "v2"
		cm, err = c.CoreV1().ConfigMaps(ns).Update(bg(), cm, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cm.Data["k"] != "v2" || cm.ResourceVersion == stale.ResourceVersion {
			t.Fatalf("update = %+v", cm)
		}
		stale.Data["k"] = "lost"
		for _, client := range []kubernetes.Interface{c, jc} {
			_, err = client.CoreV1().ConfigMaps(ns).Update(bg(), stale, metav1.UpdateOptions{})
			st := wantStatus(t, err, 409, metav1.StatusReasonConflict)
			want := `Operation cannot be fulfilled on configmaps "cm": the object has been modified; please apply your changes to the latest version and try again`
			if st.Message != want {
				t.Errorf("message = %q\nwant      %q", st.Message, want)
			}
		}
		got, _ := c.CoreV1().ConfigMaps(ns).Get(bg(), "cm", metav1.GetOptions{})
		if got.Data["k"] != "v2" {
			t.Errorf("a conflicting update wrote: %v", got.Data)
		}

		// An update without resourceVersion is unconditional.
		uncond := testConfigMap("cm", nil)
		uncond.Data["k"] = "v3"
		if _, err := c.CoreV1().ConfigMaps(ns).Update(bg(), uncond, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("unconditional update: %v", err)
		}

		// Ten writers racing through RetryOnConflict all land.
		var wg sync.WaitGroup
		errs := make(chan error, 10)
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				backoff := wait.Backoff{Steps: 100, Duration: 2 * time.Millisecond, Factor: 1.1, Jitter: 1}
				errs <- retry.RetryOnConflict(backoff, func() error {
					cur, err := c.CoreV1().ConfigMaps(ns).Get(bg(), "cm", metav1.GetOptions{})
					if err != nil {
						return err
					}
					cur.Data[fmt.Sprintf("w%d", i)] = "x"
					_, err = c.CoreV1().ConfigMaps(ns).Update(bg(), cur, metav1.UpdateOptions{})
					return err
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		got, _ = c.CoreV1().ConfigMaps(ns).Get(bg(), "cm", metav1.GetOptions{})
		if len(got.Data) != 11 {
			t.Errorf("after racing writers data = %v", got.Data)
		}

		// An update of something missing is 404 (configmaps do not create on update).
		_, err = c.CoreV1().ConfigMaps(ns).Update(bg(), testConfigMap("missing", nil), metav1.UpdateOptions{})
		wantStatus(t, err, 404, metav1.StatusReasonNotFound)
		// Name in the body must match the URL.
		r := rawDo(t, s.Config, "PUT", "/api/v1/namespaces/"+ns+"/configmaps/cm", "application/json",
			[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other"}}`))
		if r.code != 400 {
			t.Errorf("PUT with another name: %d %s", r.code, r.body)
		}
	})

	t.Run("Generation", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		d, err := c.AppsV1().Deployments(ns).Create(bg(), testDeployment("gen"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Labels and annotations: no bump.
		d.Labels = map[string]string{"x": "y"}
		d.Annotations = map[string]string{"a": "b"}
		if d, err = c.AppsV1().Deployments(ns).Update(bg(), d, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if d.Generation != 1 {
			t.Errorf("after label change generation = %d, want 1", d.Generation)
		}
		// Status: no bump.
		d.Status.ObservedGeneration = 1
		d.Status.Replicas = 2
		if d, err = c.AppsV1().Deployments(ns).UpdateStatus(bg(), d, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if d.Generation != 1 || d.Status.Replicas != 2 {
			t.Errorf("after status update generation = %d replicas = %d", d.Generation, d.Status.Replicas)
		}
		// Spec: bump.
		d.Spec.Template.Spec.Containers[0].Image = "nginx:1.28"
		if d, err = c.AppsV1().Deployments(ns).Update(bg(), d, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if d.Generation != 2 {
			t.Errorf("after spec change generation = %d, want 2", d.Generation)
		}
		// A patch of the spec bumps too; a patch of labels does not.
		d, err = c.AppsV1().Deployments(ns).Patch(bg(), "gen", types.MergePatchType, []byte(`{"spec":{"minReadySeconds":5}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Generation != 3 {
			t.Errorf("after spec patch generation = %d, want 3", d.Generation)
		}
		d, err = c.AppsV1().Deployments(ns).Patch(bg(), "gen", types.MergePatchType, []byte(`{"metadata":{"labels":{"z":"1"}}}`), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Generation != 3 {
			t.Errorf("after label patch generation = %d, want 3", d.Generation)
		}
		// Generation in the body is ignored.
		d.Generation = 42
		if d, err = c.AppsV1().Deployments(ns).Update(bg(), d, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if d.Generation != 3 {
			t.Errorf("generation from the body was taken: %d", d.Generation)
		}
	})

	t.Run("StatusSubresource", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		d, err := c.AppsV1().Deployments(ns).Create(bg(), testDeployment("st"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// Status on create is dropped.
		withStatus := testDeployment("st2")
		withStatus.Status.Replicas = 7
		d2, err := c.AppsV1().Deployments(ns).Create(bg(), withStatus, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d2.Status.Replicas != 0 {
			t.Errorf("create kept status: %+v", d2.Status)
		}
		// A status update ignores spec and metadata changes.
		d.Spec.Replicas = ptr(int32(9))
		d.Labels = map[string]string{"sneaky": "yes"}
		// Annotations do pass, as upstream's deploymentStatusStrategy (the
		// deployment controller writes its revision this way).
		d.Annotations = map[string]string{"deployment.kubernetes.io/revision": "1"}
		d.Status.Replicas = 3
		d.Status.ObservedGeneration = 1
		got, err := c.AppsV1().Deployments(ns).UpdateStatus(bg(), d, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *got.Spec.Replicas != 2 || got.Labels["sneaky"] != "" || got.Status.Replicas != 3 || got.Annotations["deployment.kubernetes.io/revision"] != "1" {
			t.Errorf("status update: replicas=%d labels=%v annotations=%v status=%+v", *got.Spec.Replicas, got.Labels, got.Annotations, got.Status)
		}
		// A main update ignores status changes.
		got.Status.Replicas = 100
		got.Spec.Replicas = ptr(int32(4))
		got, err = c.AppsV1().Deployments(ns).Update(bg(), got, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *got.Spec.Replicas != 4 || got.Status.Replicas != 3 {
			t.Errorf("main update: replicas=%d status=%+v", *got.Spec.Replicas, got.Status)
		}
		// Status patch.
		got, err = c.AppsV1().Deployments(ns).Patch(bg(), "st", types.MergePatchType,
			[]byte(`{"spec":{"replicas":1},"status":{"readyReplicas":2}}`), metav1.PatchOptions{}, "status")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.ReadyReplicas != 2 || *got.Spec.Replicas != 4 {
			t.Errorf("status patch: ready=%d replicas=%d", got.Status.ReadyReplicas, *got.Spec.Replicas)
		}
		// GET of /status returns the whole object.
		var viaStatus appsv1.Deployment
		if err := c.AppsV1().RESTClient().Get().Namespace(ns).Resource("deployments").Name("st").SubResource("status").Do(bg()).Into(&viaStatus); err != nil {
			t.Fatal(err)
		}
		if viaStatus.Name != "st" || viaStatus.Status.ReadyReplicas != 2 {
			t.Errorf("GET status = %+v", viaStatus)
		}
		// Pods: a status update keeps the spec.
		pod, err := c.CoreV1().Pods(ns).Create(bg(), testPod("p"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pod.Status.Phase = corev1.PodRunning
		pod.Status.PodIP = "10.42.0.7"
		pod.Status.PodIPs = []corev1.PodIP{{IP: "10.42.0.7"}}
		pod.Spec.ActiveDeadlineSeconds = ptr(int64(5))
		pod, err = c.CoreV1().Pods(ns).UpdateStatus(bg(), pod, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if pod.Status.Phase != corev1.PodRunning || pod.Spec.ActiveDeadlineSeconds != nil {
			t.Errorf("pod status update: phase %s, deadline %v", pod.Status.Phase, pod.Spec.ActiveDeadlineSeconds)
		}
	})

	t.Run("Scale", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		labels := map[string]string{"app": "s"}
		tmpl := testDeployment("s").Spec.Template
		if _, err := c.AppsV1().Deployments(ns).Create(bg(), testDeployment("s"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.AppsV1().ReplicaSets(ns).Create(bg(), &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "s"},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr(int32(2)), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.AppsV1().StatefulSets(ns).Create(bg(), &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "s"},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr(int32(2)), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: tmpl, ServiceName: "s"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		type scaler struct {
			kind   string
			get    func() (*autoscalingv1.Scale, error)
			update func(*autoscalingv1.Scale) (*autoscalingv1.Scale, error)
			patch  func([]byte) error
			spec   func() (int32, int64)
		}
		scalers := []scaler{
			{"deployments",
				func() (*autoscalingv1.Scale, error) {
					return c.AppsV1().Deployments(ns).GetScale(bg(), "s", metav1.GetOptions{})
				},
				func(sc *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
					return c.AppsV1().Deployments(ns).UpdateScale(bg(), "s", sc, metav1.UpdateOptions{})
				},
				func(p []byte) error {
					_, err := c.AppsV1().Deployments(ns).Patch(bg(), "s", types.MergePatchType, p, metav1.PatchOptions{}, "scale")
					return err
				},
				func() (int32, int64) {
					d, _ := c.AppsV1().Deployments(ns).Get(bg(), "s", metav1.GetOptions{})
					return *d.Spec.Replicas, d.Generation
				}},
			{"replicasets",
				func() (*autoscalingv1.Scale, error) {
					return c.AppsV1().ReplicaSets(ns).GetScale(bg(), "s", metav1.GetOptions{})
				},
				func(sc *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
					return c.AppsV1().ReplicaSets(ns).UpdateScale(bg(), "s", sc, metav1.UpdateOptions{})
				},
				func(p []byte) error {
					_, err := c.AppsV1().ReplicaSets(ns).Patch(bg(), "s", types.MergePatchType, p, metav1.PatchOptions{}, "scale")
					return err
				},
				func() (int32, int64) {
					d, _ := c.AppsV1().ReplicaSets(ns).Get(bg(), "s", metav1.GetOptions{})
					return *d.Spec.Replicas, d.Generation
				}},
			{"statefulsets",
				func() (*autoscalingv1.Scale, error) {
					return c.AppsV1().StatefulSets(ns).GetScale(bg(), "s", metav1.GetOptions{})
				},
				func(sc *autoscalingv1.Scale) (*autoscalingv1.Scale, error) {
					return c.AppsV1().StatefulSets(ns).UpdateScale(bg(), "s", sc, metav1.UpdateOptions{})
				},
				func(p []byte) error {
					_, err := c.AppsV1().StatefulSets(ns).Patch(bg(), "s", types.MergePatchType, p, metav1.PatchOptions{}, "scale")
					return err
				},
				func() (int32, int64) {
					d, _ := c.AppsV1().StatefulSets(ns).Get(bg(), "s", metav1.GetOptions{})
					return *d.Spec.Replicas, d.Generation
				}},
		}
		for _, sc := range scalers {
			got, err := sc.get()
			if err != nil {
				t.Fatalf("%s get scale: %v", sc.kind, err)
			}
			if got.Spec.Replicas != 2 || got.Status.Selector != "app=s" || got.Name != "s" || got.Namespace != ns || got.UID == "" {
				t.Errorf("%s scale = %+v", sc.kind, got)
			}
			stale := got.DeepCopy()
			got.Spec.Replicas = 5
			up, err := sc.update(got)
			if err != nil {
				t.Fatalf("%s update scale: %v", sc.kind, err)
			}
			if up.Spec.Replicas != 5 || up.ResourceVersion == stale.ResourceVersion {
				t.Errorf("%s update scale = %+v", sc.kind, up)
			}
			if n, gen := sc.spec(); n != 5 || gen != 2 {
				t.Errorf("%s after scale update replicas=%d generation=%d", sc.kind, n, gen)
			}
			// A stale Scale conflicts.
			stale.Spec.Replicas = 1
			_, err = sc.update(stale)
			wantStatus(t, err, 409, metav1.StatusReasonConflict)
			if err := sc.patch([]byte(`{"spec":{"replicas":3}}`)); err != nil {
				t.Fatalf("%s patch scale: %v", sc.kind, err)
			}
			if n, _ := sc.spec(); n != 3 {
				t.Errorf("%s after scale patch replicas=%d", sc.kind, n)
			}
			neg, _ := sc.get()
			neg.Spec.Replicas = -1
			_, err = sc.update(neg)
			wantStatus(t, err, 422, metav1.StatusReasonInvalid)
		}
		// Daemonsets have no scale.
		r := rawDo(t, s.Config, "GET", "/apis/apps/v1/namespaces/"+ns+"/daemonsets/x/scale", "", nil)
		if r.code != 404 {
			t.Errorf("daemonset scale: %d %s", r.code, r.body)
		}
	})

	t.Run("PatchTypes", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		d, err := c.AppsV1().Deployments(ns).Create(bg(), testDeployment("p"), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, client := range []kubernetes.Interface{c, jc} {
			// JSON patch.
			got, err := client.AppsV1().Deployments(ns).Patch(bg(), "p", types.JSONPatchType,
				[]byte(`[{"op":"add","path":"/metadata/labels","value":{"a":"1"}},{"op":"replace","path":"/spec/replicas","value":3}]`), metav1.PatchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Labels["a"] != "1" || *got.Spec.Replicas != 3 {
				t.Errorf("json patch: labels=%v replicas=%d", got.Labels, *got.Spec.Replicas)
			}
			// JSON patch test op failing: 422.
			_, err = client.AppsV1().Deployments(ns).Patch(bg(), "p", types.JSONPatchType,
				[]byte(`[{"op":"test","path":"/spec/replicas","value":99}]`), metav1.PatchOptions{})
			// Upstream's generic 422: reason Invalid, a fixed message.
			wantStatus(t, err, 422, metav1.StatusReasonInvalid)
			// Merge patch: a list is replaced whole.
			got, err = client.AppsV1().Deployments(ns).Patch(bg(), "p", types.MergePatchType,
				[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"other","image":"redis"}]}}}}`), metav1.PatchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if cs := got.Spec.Template.Spec.Containers; len(cs) != 1 || cs[0].Name != "other" || cs[0].ImagePullPolicy != corev1.PullAlways {
				t.Errorf("merge patch containers = %+v", cs)
			}
			// Strategic merge patch: containers merge by name.
			got, err = client.AppsV1().Deployments(ns).Patch(bg(), "p", types.StrategicMergePatchType,
				[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"side","image":"busybox:1"}]}}}}`), metav1.PatchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if cs := got.Spec.Template.Spec.Containers; len(cs) != 2 {
				t.Errorf("strategic merge patch containers = %+v", cs)
			}
			// $patch: delete in a strategic merge patch.
			got, err = client.AppsV1().Deployments(ns).Patch(bg(), "p", types.StrategicMergePatchType,
				[]byte(`{"spec":{"template":{"spec":{"containers":[{"name":"side","$patch":"delete"}]}}}}`), metav1.PatchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if cs := got.Spec.Template.Spec.Containers; len(cs) != 1 || cs[0].Name != "other" {
				t.Errorf("strategic delete containers = %+v", cs)
			}
		}
		// A patch pinning a stale resourceVersion conflicts.
		_, err = c.AppsV1().Deployments(ns).Patch(bg(), "p", types.MergePatchType,
			[]byte(fmt.Sprintf(`{"metadata":{"resourceVersion":%q},"spec":{"replicas":1}}`, d.ResourceVersion)), metav1.PatchOptions{})
		wantStatus(t, err, 409, metav1.StatusReasonConflict)
		// Patching something missing is 404.
		_, err = c.AppsV1().Deployments(ns).Patch(bg(), "missing", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{})
		wantStatus(t, err, 404, metav1.StatusReasonNotFound)
		// A patch that makes the object invalid is 422.
		_, err = c.AppsV1().Deployments(ns).Patch(bg(), "p", types.MergePatchType, []byte(`{"spec":{"replicas":-1}}`), metav1.PatchOptions{})
		st := wantStatus(t, err, 422, metav1.StatusReasonInvalid)
		if st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Field != "spec.replicas" {
			t.Errorf("causes = %+v", st.Details)
		}
		// Malformed patches are 400.
		for _, pt := range []types.PatchType{types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType} {
			_, err = c.AppsV1().Deployments(ns).Patch(bg(), "p", pt, []byte(`{not json`), metav1.PatchOptions{})
			wantStatus(t, err, 400, metav1.StatusReasonBadRequest)
		}
		// Unsupported patch content type: 415.
		r := rawDo(t, s.Config, "PATCH", "/apis/apps/v1/namespaces/"+ns+"/deployments/p", "text/plain", []byte(`{}`))
		if r.code != 415 {
			t.Errorf("text/plain patch: %d %s", r.code, r.body)
		}
		// A patch that changes the name is 400.
		_, err = c.AppsV1().Deployments(ns).Patch(bg(), "p", types.MergePatchType, []byte(`{"metadata":{"name":"q"}}`), metav1.PatchOptions{})
		wantStatus(t, err, 400, metav1.StatusReasonBadRequest)
	})

	t.Run("DeleteAndDeleteCollection", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		for i := 0; i < 6; i++ {
			labels := map[string]string{"group": "a"}
			if i >= 4 {
				labels["group"] = "b"
			}
			if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap(fmt.Sprintf("cm%d", i), labels), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.CoreV1().ConfigMaps(ns).Delete(bg(), "cm0", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		_, err := c.CoreV1().ConfigMaps(ns).Get(bg(), "cm0", metav1.GetOptions{})
		wantStatus(t, err, 404, metav1.StatusReasonNotFound)
		err = c.CoreV1().ConfigMaps(ns).Delete(bg(), "cm0", metav1.DeleteOptions{})
		wantStatus(t, err, 404, metav1.StatusReasonNotFound)

		// The answer to a delete that removed the object is upstream's
		// Status naming it (pods and services answer with the object).
		cm1, _ := c.CoreV1().ConfigMaps(ns).Get(bg(), "cm1", metav1.GetOptions{})
		r := rawDo(t, s.Config, "DELETE", "/api/v1/namespaces/"+ns+"/configmaps/cm1", "", nil)
		var gone metav1.Status
		if err := json.Unmarshal(r.body, &gone); err != nil {
			t.Fatal(err)
		}
		if r.code != 200 || gone.Kind != "Status" || gone.Status != metav1.StatusSuccess || gone.Details == nil ||
			gone.Details.Name != "cm1" || gone.Details.Kind != "configmaps" || gone.Details.UID != cm1.UID {
			t.Errorf("delete answered %d %s", r.code, r.body)
		}

		if err := jc.CoreV1().ConfigMaps(ns).DeleteCollection(bg(), metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "group=a"}); err != nil {
			t.Fatal(err)
		}
		l, err := c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, cm := range l.Items {
			names = append(names, cm.Name)
		}
		if strings.Join(names, ",") != "cm4,cm5" {
			t.Errorf("after deletecollection: %v", names)
		}
		if err := c.CoreV1().ConfigMaps(ns).DeleteCollection(bg(), metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		l, _ = c.CoreV1().ConfigMaps(ns).List(bg(), metav1.ListOptions{})
		if len(l.Items) != 0 {
			t.Errorf("after deletecollection of all: %d left", len(l.Items))
		}
	})

	t.Run("DryRun", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		dry := []string{metav1.DryRunAll}
		created, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("dry", nil), metav1.CreateOptions{DryRun: dry})
		if err != nil {
			t.Fatal(err)
		}
		if created.UID == "" || created.CreationTimestamp.IsZero() {
			t.Errorf("dry-run create = %+v", created)
		}
		if _, err := c.CoreV1().ConfigMaps(ns).Get(bg(), "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("dry-run create stored the object: %v", err)
		}
		// A dry-run create of an invalid object still fails.
		_, err = c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("Bad_Name", nil), metav1.CreateOptions{DryRun: dry})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid)

		cm, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("real", nil), metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm.Data["k"] = "changed"
		upd, err := c.CoreV1().ConfigMaps(ns).Update(bg(), cm, metav1.UpdateOptions{DryRun: dry})
		if err != nil {
			t.Fatal(err)
		}
		if upd.Data["k"] != "changed" {
			t.Errorf("dry-run update answer = %v", upd.Data)
		}
		if _, err := c.CoreV1().ConfigMaps(ns).Patch(bg(), "real", types.MergePatchType, []byte(`{"data":{"k":"patched"}}`), metav1.PatchOptions{DryRun: dry}); err != nil {
			t.Fatal(err)
		}
		if err := c.CoreV1().ConfigMaps(ns).Delete(bg(), "real", metav1.DeleteOptions{DryRun: dry}); err != nil {
			t.Fatal(err)
		}
		if err := c.CoreV1().ConfigMaps(ns).DeleteCollection(bg(), metav1.DeleteOptions{DryRun: dry}, metav1.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		got, err := c.CoreV1().ConfigMaps(ns).Get(bg(), "real", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("dry-run delete removed the object: %v", err)
		}
		if got.Data["k"] != "v" || got.ResourceVersion != cm.ResourceVersion {
			t.Errorf("dry-run writes changed the object: rv %s→%s data %v", cm.ResourceVersion, got.ResourceVersion, got.Data)
		}
		// A dry-run service create allocates nothing.
		svc, err := c.CoreV1().Services(ns).Create(bg(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "dry"},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}}}, metav1.CreateOptions{DryRun: dry})
		if err != nil {
			t.Fatal(err)
		}
		if svc.Spec.ClusterIP == "" || svc.Spec.Ports[0].NodePort == 0 {
			t.Errorf("dry-run service answer lacks allocations: %+v", svc.Spec)
		}
		// The same values are free for a real create.
		real := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "real"}, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort,
			ClusterIP: svc.Spec.ClusterIP, Ports: []corev1.ServicePort{{Port: 80, NodePort: svc.Spec.Ports[0].NodePort}}}}
		if _, err := c.CoreV1().Services(ns).Create(bg(), real, metav1.CreateOptions{}); err != nil {
			t.Errorf("values shown by a dry run were kept: %v", err)
		}
		// Bad dryRun values are 400.
		r := rawDo(t, s.Config, "POST", "/api/v1/namespaces/"+ns+"/configmaps?dryRun=Some", "application/json",
			[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`))
		if r.code != 400 {
			t.Errorf("dryRun=Some: %d %s", r.code, r.body)
		}
	})

	t.Run("FieldValidation", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		var mu sync.Mutex
		var warnings []string
		cfg := rest.CopyConfig(s.Config)
		cfg.WarningHandler = warningFunc(func(code int, agent, msg string) {
			mu.Lock()
			defer mu.Unlock()
			warnings = append(warnings, msg)
		})
		dc, err := dynamic.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		takeWarnings := func() []string {
			mu.Lock()
			defer mu.Unlock()
			w := warnings
			warnings = nil
			return w
		}
		obj := func(name string) *unstructured.Unstructured {
			d := testDeployment(name)
			m, err := runtimeToUnstructured(d)
			if err != nil {
				t.Fatal(err)
			}
			m.SetAPIVersion("apps/v1")
			m.SetKind("Deployment")
			if err := unstructured.SetNestedField(m.Object, int64(1), "spec", "foo"); err != nil {
				t.Fatal(err)
			}
			return m
		}
		deps := dc.Resource(deploymentsGVR).Namespace(ns)

		_, err = deps.Create(bg(), obj("strict"), metav1.CreateOptions{FieldValidation: "Strict"})
		st := wantStatus(t, err, 400, metav1.StatusReasonBadRequest)
		want := `Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.foo"`
		if st.Message != want {
			t.Errorf("strict message = %q\nwant             %q", st.Message, want)
		}
		if _, err := deps.Get(bg(), "strict", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("a strict failure stored the object: %v", err)
		}

		takeWarnings()
		if _, err := deps.Create(bg(), obj("warn"), metav1.CreateOptions{FieldValidation: "Warn"}); err != nil {
			t.Fatal(err)
		}
		if w := takeWarnings(); len(w) != 1 || w[0] != `unknown field "spec.foo"` {
			t.Errorf("warn warnings = %q", w)
		}
		// Warn is the default.
		if _, err := deps.Create(bg(), obj("default"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if w := takeWarnings(); len(w) != 1 || w[0] != `unknown field "spec.foo"` {
			t.Errorf("default warnings = %q", w)
		}
		if _, err := deps.Create(bg(), obj("ignore"), metav1.CreateOptions{FieldValidation: "Ignore"}); err != nil {
			t.Fatal(err)
		}
		if w := takeWarnings(); len(w) != 0 {
			t.Errorf("ignore warnings = %q", w)
		}
		// Update with Strict.
		cur, err := deps.Get(bg(), "ignore", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, found, _ := unstructured.NestedFieldNoCopy(cur.Object, "spec", "foo"); found {
			t.Errorf("unknown field was stored")
		}
		_ = unstructured.SetNestedField(cur.Object, "x", "spec", "bar")
		_, err = deps.Update(bg(), cur, metav1.UpdateOptions{FieldValidation: "Strict"})
		st = wantStatus(t, err, 400, metav1.StatusReasonBadRequest)
		if !strings.HasSuffix(st.Message, `strict decoding error: unknown field "spec.bar"`) {
			t.Errorf("strict update message = %q", st.Message)
		}
		// Patch with Strict: upstream answers 422 naming the patch.
		_, err = deps.Patch(bg(), "ignore", types.MergePatchType, []byte(`{"spec":{"baz":1}}`), metav1.PatchOptions{FieldValidation: "Strict"})
		st = wantStatus(t, err, 422, metav1.StatusReasonInvalid)
		if !strings.Contains(st.Message, `strict decoding error: unknown field "spec.baz"`) ||
			st.Details == nil || len(st.Details.Causes) != 1 || st.Details.Causes[0].Field != "patch" {
			t.Errorf("strict patch status = %+v", st)
		}
		takeWarnings()
		if _, err := deps.Patch(bg(), "ignore", types.MergePatchType, []byte(`{"spec":{"baz":1}}`), metav1.PatchOptions{FieldValidation: "Warn"}); err != nil {
			t.Fatal(err)
		}
		if w := takeWarnings(); len(w) != 1 || w[0] != `unknown field "spec.baz"` {
			t.Errorf("warn patch warnings = %q", w)
		}
		// Duplicate fields.
		r := rawDo(t, s.Config, "POST", "/api/v1/namespaces/"+ns+"/configmaps?fieldValidation=Strict", "application/json",
			[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dup","name":"dup"}}`))
		if r.code != 400 || !strings.Contains(string(r.body), `duplicate field \"metadata.name\"`) {
			t.Errorf("duplicate field: %d %s", r.code, r.body)
		}
		// An unknown directive is 400.
		r = rawDo(t, s.Config, "POST", "/api/v1/namespaces/"+ns+"/configmaps?fieldValidation=Loose", "application/json",
			[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`))
		if r.code != 400 {
			t.Errorf("fieldValidation=Loose: %d %s", r.code, r.body)
		}
	})

	t.Run("Dynamic", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		dc, err := dynamic.NewForConfig(s.Config)
		if err != nil {
			t.Fatal(err)
		}
		cms := dc.Resource(configMapsGVR).Namespace(ns)
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": "dyn", "labels": map[string]any{"a": "b"}}, "data": map[string]any{"x": "1"}}}
		got, err := cms.Create(bg(), u, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetUID() == "" || got.GetResourceVersion() == "" {
			t.Errorf("dynamic create = %v", got.Object)
		}
		l, err := cms.List(bg(), metav1.ListOptions{LabelSelector: "a=b"})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != 1 || l.GetKind() != "ConfigMapList" || l.GetAPIVersion() != "v1" {
			t.Errorf("dynamic list = %v %s %s", len(l.Items), l.GetKind(), l.GetAPIVersion())
		}
		if l.Items[0].GetKind() != "ConfigMap" {
			t.Errorf("list item kind = %q", l.Items[0].GetKind())
		}
		got, err = cms.Patch(bg(), "dyn", types.JSONPatchType, []byte(`[{"op":"add","path":"/data/y","value":"2"}]`), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if v, _, _ := unstructured.NestedString(got.Object, "data", "y"); v != "2" {
			t.Errorf("dynamic patch = %v", got.Object)
		}
		_ = unstructured.SetNestedField(got.Object, "3", "data", "z")
		if got, err = cms.Update(bg(), got, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := cms.Delete(bg(), "dyn", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		// Deployments with the dynamic client, including /scale.
		d, _ := runtimeToUnstructured(testDeployment("dd"))
		d.SetAPIVersion("apps/v1")
		d.SetKind("Deployment")
		deps := dc.Resource(deploymentsGVR).Namespace(ns)
		if _, err := deps.Create(bg(), d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		sc, err := deps.Get(bg(), "dd", metav1.GetOptions{}, "scale")
		if err != nil {
			t.Fatal(err)
		}
		if sc.GetKind() != "Scale" || sc.GetAPIVersion() != "autoscaling/v1" {
			t.Errorf("dynamic scale = %v", sc.Object)
		}
		_ = unstructured.SetNestedField(sc.Object, int64(6), "spec", "replicas")
		if _, err := deps.Update(bg(), sc, metav1.UpdateOptions{}, "scale"); err != nil {
			t.Fatal(err)
		}
		got, _ = deps.Get(bg(), "dd", metav1.GetOptions{})
		if n, _, _ := unstructured.NestedInt64(got.Object, "spec", "replicas"); n != 6 {
			t.Errorf("replicas after dynamic scale = %d", n)
		}
	})

	t.Run("CreateOnUpdate", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		// Leases and endpoints are created by a PUT, as upstream allows.
		lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "l", Namespace: ns},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr("me"), LeaseDurationSeconds: ptr(int32(15))}}
		result := c.CoordinationV1().RESTClient().Put().Namespace(ns).Resource("leases").Name("l").Body(lease).Do(bg())
		var code int
		result.StatusCode(&code)
		var got coordinationv1.Lease
		if err := result.Into(&got); err != nil {
			t.Fatal(err)
		}
		if code != 201 || got.UID == "" || *got.Spec.HolderIdentity != "me" {
			t.Errorf("PUT of a missing lease: %d %+v", code, got)
		}
		got.Spec.HolderIdentity = ptr("you")
		upd, err := c.CoordinationV1().Leases(ns).Update(bg(), &got, metav1.UpdateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *upd.Spec.HolderIdentity != "you" || upd.UID != got.UID {
			t.Errorf("lease update = %+v", upd)
		}
		ep := &corev1.Endpoints{ObjectMeta: metav1.ObjectMeta{Name: "e", Namespace: ns},
			Subsets: []corev1.EndpointSubset{{Addresses: []corev1.EndpointAddress{{IP: "10.42.0.9"}}, Ports: []corev1.EndpointPort{{Port: 80}}}}}
		if _, err := c.CoreV1().Endpoints(ns).Update(bg(), ep, metav1.UpdateOptions{}); err != nil {
			t.Errorf("PUT of missing endpoints: %v", err)
		}
		// A PUT of a missing object that carries a resourceVersion is a 404? upstream: NotFound.
		cmPut := testConfigMap("no-create", nil)
		cmPut.Namespace = ns
		_, err = c.CoreV1().ConfigMaps(ns).Update(bg(), cmPut, metav1.UpdateOptions{})
		wantStatus(t, err, 404, metav1.StatusReasonNotFound)
	})

	t.Run("Binding", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		if _, err := c.CoreV1().Pods(ns).Create(bg(), testPod("b"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		bind := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Target: corev1.ObjectReference{Kind: "Node", Name: "n1"}}
		if err := c.CoreV1().Pods(ns).Bind(bg(), bind, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		p, _ := c.CoreV1().Pods(ns).Get(bg(), "b", metav1.GetOptions{})
		if p.Spec.NodeName != "n1" {
			t.Errorf("nodeName after binding = %q", p.Spec.NodeName)
		}
		scheduled := false
		for _, cond := range p.Status.Conditions {
			scheduled = scheduled || (cond.Type == corev1.PodScheduled && cond.Status == corev1.ConditionTrue)
		}
		if !scheduled {
			t.Errorf("no PodScheduled=True condition: %+v", p.Status.Conditions)
		}
		// A second binding conflicts.
		bind.Target.Name = "n2"
		err := c.CoreV1().Pods(ns).Bind(bg(), bind, metav1.CreateOptions{})
		st := wantStatus(t, err, 409, metav1.StatusReasonConflict)
		if !strings.Contains(st.Message, `pod b is already assigned to node "n1"`) {
			t.Errorf("message = %q", st.Message)
		}
		// nodeName may not change through an update.
		p.Spec.NodeName = "n3"
		_, err = c.CoreV1().Pods(ns).Update(bg(), p, metav1.UpdateOptions{})
		wantStatus(t, err, 422, metav1.StatusReasonInvalid)
	})

	t.Run("RawFormats", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		path := "/api/v1/namespaces/" + ns + "/configmaps"
		r := rawDo(t, s.Config, "POST", path, "application/yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n"))
		if r.code != 201 || !strings.Contains(string(r.body), `"name":"from-yaml"`) {
			t.Fatalf("YAML create: %d %s", r.code, r.body)
		}
		hc, err := rest.HTTPClientFor(s.Config)
		if err != nil {
			t.Fatal(err)
		}
		for accept, want := range map[string]string{
			"application/yaml":                    "application/yaml",
			"application/vnd.kubernetes.protobuf": "application/vnd.kubernetes.protobuf",
			"application/json":                    "application/json",
			"*/*":                                 "application/json",
		} {
			req, _ := http.NewRequest("GET", s.Config.Host+path+"/from-yaml", nil)
			req.Header.Set("Accept", accept)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != want {
				t.Errorf("Accept %s: %d %s", accept, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		}
	})

	t.Run("OtherKinds", func(t *testing.T) {
		t.Parallel()
		ns := newNamespace(t, c)
		// A few more kinds round-trip through both encodings.
		for _, client := range []kubernetes.Interface{c, jc} {
			sec, err := client.CoreV1().Secrets(ns).Create(bg(), &corev1.Secret{ObjectMeta: metav1.ObjectMeta{GenerateName: "s-"},
				StringData: map[string]string{"a": "b"}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if string(sec.Data["a"]) != "b" || sec.Type != corev1.SecretTypeOpaque || len(sec.StringData) != 0 {
				t.Errorf("secret = %+v", sec)
			}
			svc, err := client.CoreV1().Services(ns).Create(bg(), &corev1.Service{ObjectMeta: metav1.ObjectMeta{GenerateName: "svc-"},
				Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80, TargetPort: intstr.FromString("http")}}}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.SessionAffinity != corev1.ServiceAffinityNone || svc.Spec.Ports[0].Protocol != corev1.ProtocolTCP {
				t.Errorf("service defaults = %+v", svc.Spec)
			}
		}
	})
}

type warningFunc func(code int, agent, msg string)

func (f warningFunc) HandleWarningHeader(code int, agent, msg string) { f(code, agent, msg) }

func runtimeToUnstructured(obj any) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}
