package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// scaleOf reads the autoscaling/v1 Scale view of a workload.
func scaleOf(obj runtime.Object) (*autoscalingv1.Scale, error) {
	var replicas, current int32
	var selector *metav1.LabelSelector
	var om metav1.ObjectMeta
	switch o := obj.(type) {
	case *appsv1.Deployment:
		replicas, current, selector, om = deref(o.Spec.Replicas), o.Status.Replicas, o.Spec.Selector, o.ObjectMeta
	case *appsv1.ReplicaSet:
		replicas, current, selector, om = deref(o.Spec.Replicas), o.Status.Replicas, o.Spec.Selector, o.ObjectMeta
	case *appsv1.StatefulSet:
		replicas, current, selector, om = deref(o.Spec.Replicas), o.Status.Replicas, o.Spec.Selector, o.ObjectMeta
	default:
		return nil, fmt.Errorf("no scale subresource for %T", obj)
	}
	sel := ""
	if selector != nil {
		if s, err := metav1.LabelSelectorAsSelector(selector); err == nil {
			sel = s.String()
		}
	}
	return &autoscalingv1.Scale{
		TypeMeta: metav1.TypeMeta{Kind: "Scale", APIVersion: "autoscaling/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: om.Name, Namespace: om.Namespace, UID: om.UID,
			ResourceVersion: om.ResourceVersion, CreationTimestamp: om.CreationTimestamp},
		Spec:   autoscalingv1.ScaleSpec{Replicas: replicas},
		Status: autoscalingv1.ScaleStatus{Replicas: current, Selector: sel},
	}, nil
}

func deref(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

func setReplicas(obj runtime.Object, n int32) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		o.Spec.Replicas = &n
	case *appsv1.ReplicaSet:
		o.Spec.Replicas = &n
	case *appsv1.StatefulSet:
		o.Spec.Replicas = &n
	}
}

// serveScale answers get, update and patch of /scale: the Scale is a view,
// and writing it changes the workload's spec.replicas.
func (s *Server) serveScale(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) error {
	ctx := r.Context()
	if info.Verb == "get" {
		obj, _, err := s.getObject(ctx, res, info.Namespace, info.Name)
		if err != nil {
			return err
		}
		sc, err := scaleOf(obj)
		if err != nil {
			return err
		}
		out, _ := negotiate(r)
		return s.writeTyped(w, http.StatusOK, out, sc)
	}
	if info.Verb != "update" && info.Verb != "patch" {
		return methodNotSupported(res, r.Method)
	}
	opts, err := parseWriteOptions(r, "")
	if err != nil {
		return err
	}
	in, err := readBody(r)
	if err != nil {
		return err
	}
	pt := patchType(r)
	out, err := s.retryUpdate(ctx, res, info.Namespace, info.Name, opts, func(cur runtime.Object, rev int64) (runtime.Object, error) {
		sc, err := scaleOf(cur)
		if err != nil {
			return nil, err
		}
		b := in
		if info.Verb == "patch" {
			original, _ := json.Marshal(sc)
			patched, err := applyPatch(pt, original, in.data, &autoscalingv1.Scale{})
			if err != nil {
				return nil, err
			}
			b = body{data: patched}
		}
		var next autoscalingv1.Scale
		if _, _, err := s.wire.decodeInto(b, &next); err != nil {
			return nil, badRequestf("Scale in version \"v1\" cannot be handled as a Scale: %v", err)
		}
		if next.Spec.Replicas < 0 {
			return nil, apierrors.NewInvalid(autoscalingv1.SchemeGroupVersion.WithKind("Scale").GroupKind(), info.Name,
				field.ErrorList{field.Invalid(field.NewPath("spec", "replicas"), next.Spec.Replicas, "must be greater than or equal to 0")})
		}
		obj := cur.DeepCopyObject()
		setReplicas(obj, next.Spec.Replicas)
		if next.ResourceVersion != "" && next.ResourceVersion != sc.ResourceVersion {
			setResourceVersion(obj, next.ResourceVersion)
		} else {
			setResourceVersion(obj, "")
		}
		return obj, nil
	})
	if err != nil {
		return err
	}
	sc, err := scaleOf(out)
	if err != nil {
		return err
	}
	o, _ := negotiate(r)
	return s.writeTyped(w, http.StatusOK, o, sc)
}

// serveBinding assigns a pod to a node: the scheduler's one write.
func (s *Server) serveBinding(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) error {
	opts, err := parseWriteOptions(r, "binding")
	if err != nil {
		return err
	}
	data, err := readBody(r)
	if err != nil {
		return err
	}
	var b corev1.Binding
	if _, _, err := s.wire.decodeInto(data, &b); err != nil {
		return badRequestf("Binding in version \"v1\" cannot be handled as a Binding: %v", err)
	}
	if b.Name == "" {
		b.Name = info.Name
	}
	var errs field.ErrorList
	if b.Target.Kind != "" && b.Target.Kind != "Node" {
		errs = append(errs, field.NotSupported(field.NewPath("target", "kind"), b.Target.Kind, []string{"Node", "<empty>"}))
	}
	if b.Target.Name == "" {
		errs = append(errs, field.Required(field.NewPath("target", "name"), ""))
	}
	if len(errs) > 0 {
		return apierrors.NewInvalid(corev1.SchemeGroupVersion.WithKind("Binding").GroupKind(), b.Name, errs)
	}
	_, err = s.retryUpdate(r.Context(), res, info.Namespace, info.Name, opts, func(cur runtime.Object, rev int64) (runtime.Object, error) {
		pod := cur.(*corev1.Pod)
		if pod.DeletionTimestamp != nil {
			return nil, apierrors.NewConflict(res.GroupResource(), info.Name, fmt.Errorf("pod %s is being deleted, cannot be assigned to a host", info.Name))
		}
		if pod.Spec.NodeName != "" {
			return nil, apierrors.NewConflict(res.GroupResource(), info.Name, fmt.Errorf("pod %s is already assigned to node %q", info.Name, pod.Spec.NodeName))
		}
		if b.UID != "" && b.UID != pod.UID {
			return nil, apierrors.NewConflict(res.GroupResource(), info.Name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", b.UID, pod.UID))
		}
		pod.Spec.NodeName = b.Target.Name
		setPodCondition(pod, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(s.cfg.Clock.Now().Truncate(1e9))})
		setResourceVersion(pod, "")
		return pod, nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, successStatus(nil))
	return nil
}

func setPodCondition(pod *corev1.Pod, c corev1.PodCondition) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == c.Type {
			pod.Status.Conditions[i] = c
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}

// serveEviction deletes a pod on behalf of a drain. Disruption budgets are
// not served yet, so every eviction is allowed.
func (s *Server) serveEviction(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	var ev policyv1.Eviction
	if _, _, err := s.wire.decodeInto(data, &ev); err != nil {
		return badRequestf("Eviction in version \"v1\" cannot be handled as a Eviction: %v", err)
	}
	if ev.Name != "" && ev.Name != info.Name {
		return badRequestf("name in URL does not match name in Eviction object")
	}
	opts := deleteOptions{}
	if ev.DeleteOptions != nil {
		opts.grace = ev.DeleteOptions.GracePeriodSeconds
		opts.preconditions = ev.DeleteOptions.Preconditions
		for range ev.DeleteOptions.DryRun {
			opts.dryRun = true
		}
	}
	if _, _, err := s.deleteObject(r.Context(), res, info.Namespace, info.Name, opts); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, successStatus(nil))
	return nil
}
