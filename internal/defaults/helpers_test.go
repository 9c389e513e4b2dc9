package defaults

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// newObject returns an empty object of the given apiVersion and kind, or
// nil when the test does not know the kind.
func newObject(apiVersion, kind string) runtime.Object {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}
	case "v1/Node":
		return &corev1.Node{}
	case "v1/Pod":
		return &corev1.Pod{}
	case "v1/PodList":
		return &corev1.PodList{}
	case "v1/PodTemplate":
		return &corev1.PodTemplate{}
	case "v1/ReplicationController":
		return &corev1.ReplicationController{}
	case "v1/Service":
		return &corev1.Service{}
	case "v1/Endpoints":
		return &corev1.Endpoints{}
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}
	case "v1/Secret":
		return &corev1.Secret{}
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}
	case "v1/Event":
		return &corev1.Event{}
	case "v1/ResourceQuota":
		return &corev1.ResourceQuota{}
	case "v1/LimitRange":
		return &corev1.LimitRange{}
	case "v1/PersistentVolume":
		return &corev1.PersistentVolume{}
	case "v1/PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}
	case "apps/v1/DeploymentList":
		return &appsv1.DeploymentList{}
	case "apps/v1/ReplicaSet":
		return &appsv1.ReplicaSet{}
	case "apps/v1/DaemonSet":
		return &appsv1.DaemonSet{}
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}
	case "batch/v1/Job":
		return &batchv1.Job{}
	case "batch/v1/CronJob":
		return &batchv1.CronJob{}
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}
	case "networking.k8s.io/v1/NetworkPolicyList":
		return &networkingv1.NetworkPolicyList{}
	case "scheduling.k8s.io/v1/PriorityClass":
		return &schedulingv1.PriorityClass{}
	case "coordination.k8s.io/v1/Lease":
		return &coordinationv1.Lease{}
	case "discovery.k8s.io/v1/EndpointSlice":
		return &discoveryv1.EndpointSlice{}
	case "events.k8s.io/v1/Event":
		return &eventsv1.Event{}
	}
	return nil
}

// decode strictly decodes a YAML manifest into the typed object its
// apiVersion and kind name, failing the test on any unknown field.
func decode(t *testing.T, doc string) runtime.Object {
	t.Helper()
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
		t.Fatalf("reading apiVersion/kind: %v\n%s", err, doc)
	}
	obj := newObject(tm.APIVersion, tm.Kind)
	if obj == nil {
		t.Fatalf("test does not know %s %s", tm.APIVersion, tm.Kind)
	}
	if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
		t.Fatalf("decoding %s: %v\n%s", tm.Kind, err, doc)
	}
	return obj
}

// decodeInto strictly decodes a YAML document into out.
func decodeInto(t *testing.T, doc string, out any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), out); err != nil {
		t.Fatalf("decoding %T: %v\n%s", out, err, doc)
	}
}

// diff returns a readable difference between want and got ("" if none),
// comparing quantities by value and canonical form and times by instant,
// so that objects can be compared whole.
func diff(want, got any) string {
	return cmp.Diff(want, got,
		cmp.Comparer(func(a, b resource.Quantity) bool {
			return a.Cmp(b) == 0 && a.String() == b.String()
		}),
		cmp.Comparer(func(a, b metav1.Time) bool { return a.Equal(&b) }),
	)
}

// toYAML renders obj for failure messages.
func toYAML(obj any) string {
	b, err := yaml.Marshal(obj)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
