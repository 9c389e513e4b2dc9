package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// deleteOptions is a delete request's options, from the body and the query.
type deleteOptions struct {
	grace         *int64
	propagation   metav1.DeletionPropagation
	preconditions *metav1.Preconditions
	dryRun        bool
	// keepDependents is the deprecated orphanDependents=false; upstream
	// answers 202 to it (and only to it) when the object stays.
	keepDependents bool
}

func parseDeleteOptions(r *http.Request, wr *wire) (deleteOptions, error) {
	var o deleteOptions
	var body metav1.DeleteOptions
	b, err := readBody(r)
	if err != nil {
		return o, err
	}
	if len(b.data) > 0 {
		if _, _, err := wr.decodeInto(b, &body); err != nil {
			return o, badRequestf("DeleteOptions in version \"v1\" cannot be handled as a DeleteOptions: %v", err)
		}
	}
	q := r.URL.Query()
	if g := q.Get("gracePeriodSeconds"); g != "" {
		n, err := strconv.ParseInt(g, 10, 64)
		if err != nil {
			return o, badRequestf("invalid gracePeriodSeconds %q", g)
		}
		body.GracePeriodSeconds = &n
	}
	if p := q.Get("propagationPolicy"); p != "" {
		pp := metav1.DeletionPropagation(p)
		body.PropagationPolicy = &pp
	}
	if q.Get("orphanDependents") != "" {
		b := q.Get("orphanDependents") == "true"
		body.OrphanDependents = &b
	}
	for _, d := range append(q["dryRun"], body.DryRun...) {
		if d != "All" {
			return o, badRequestf("Invalid dry run value: %q (supported values: \"All\")", d)
		}
		o.dryRun = true
	}
	var errs field.ErrorList
	if body.GracePeriodSeconds != nil && *body.GracePeriodSeconds < 0 {
		// Upstream treats negative as "now".
		zero := int64(0)
		body.GracePeriodSeconds = &zero
	}
	if body.OrphanDependents != nil && body.PropagationPolicy != nil {
		errs = append(errs, field.Invalid(field.NewPath("propagationPolicy"), *body.PropagationPolicy, "orphanDependents and deletionPropagation cannot be both set"))
	}
	if body.PropagationPolicy != nil {
		switch *body.PropagationPolicy {
		case metav1.DeletePropagationOrphan, metav1.DeletePropagationBackground, metav1.DeletePropagationForeground:
		default:
			errs = append(errs, field.NotSupported(field.NewPath("propagationPolicy"), *body.PropagationPolicy,
				[]string{string(metav1.DeletePropagationForeground), string(metav1.DeletePropagationBackground), string(metav1.DeletePropagationOrphan), "nil"}))
		}
		o.propagation = *body.PropagationPolicy
	}
	if body.OrphanDependents != nil {
		if *body.OrphanDependents {
			o.propagation = metav1.DeletePropagationOrphan
		} else {
			o.propagation = metav1.DeletePropagationBackground
			o.keepDependents = true
		}
	}
	if len(errs) > 0 {
		return o, apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("DeleteOptions").GroupKind(), "", errs)
	}
	o.grace = body.GracePeriodSeconds
	o.preconditions = body.Preconditions
	return o, nil
}

func fieldForbidden(path, msg string) *field.Error {
	return field.Forbidden(field.NewPath(path), msg)
}

// graceFor is how long an object may take to go: pods get their grace
// period (none when unscheduled or finished), everything else none.
func graceFor(obj runtime.Object, requested *int64) int64 {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return 0
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0
	}
	if requested != nil {
		return *requested
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return corev1.DefaultTerminationGracePeriodSeconds
}

// deleteObject deletes one object the way upstream's registry does:
// preconditions first; then a pod with a grace period, or any object with
// finalizers, is only marked (deletionTimestamp) and stays until its
// kubelet or its finalizers let it go; anything else is removed. It
// reports whether the object is gone.
func (s *Server) deleteObject(ctx context.Context, res *resource, namespace, name string, opts deleteOptions) (runtime.Object, bool, error) {
	for attempt := 0; ; attempt++ {
		cur, rev, err := s.getObject(ctx, res, namespace, name)
		if err != nil {
			return nil, false, err
		}
		m, _ := meta.Accessor(cur)
		if p := opts.preconditions; p != nil {
			if p.UID != nil && *p.UID != m.GetUID() {
				return nil, false, apierrors.NewConflict(res.GroupResource(), name,
					fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID()))
			}
			if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
				return nil, false, apierrors.NewConflict(res.GroupResource(), name,
					fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, m.GetResourceVersion()))
			}
		}
		next := cur.DeepCopyObject()
		nm, _ := meta.Accessor(next)
		changed := markDeletion(res, next, opts, s.cfg.Clock.Now())
		if len(nm.GetFinalizers()) == 0 && zeroGrace(nm) && !namespaceHeld(next) {
			out, err := s.deleteStored(ctx, res, next, rev, opts.dryRun)
			if isRetryable(err) && attempt < 20 {
				continue
			}
			if err != nil {
				return nil, false, storageError(err, res.GroupResource(), name)
			}
			return out, true, nil
		}
		if !changed {
			return cur, false, nil
		}
		out, err := s.writeDeletionMark(ctx, res, next, rev, opts.dryRun)
		if isRetryable(err) && attempt < 20 {
			continue
		}
		if err != nil {
			return nil, false, storageError(err, res.GroupResource(), name)
		}
		return out, false, nil
	}
}

// namespaceHeld says a namespace still waits for its spec finalizers (the
// namespace controller empties them once its content is gone).
func namespaceHeld(obj runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && len(ns.Spec.Finalizers) > 0
}

// markDeletion sets the deletion marks on obj and reports whether it
// changed: deletionTimestamp and grace period, the finalizer the
// propagation policy asks for, a namespace's Terminating phase.
func markDeletion(res *resource, obj runtime.Object, opts deleteOptions, now interface{ Unix() int64 }) bool {
	m, _ := meta.Accessor(obj)
	changed := false
	grace := graceFor(obj, opts.grace)
	if m.GetDeletionTimestamp() == nil {
		t := metav1.Unix(now.Unix()+grace, 0)
		m.SetDeletionTimestamp(&t)
		m.SetDeletionGracePeriodSeconds(&grace)
		// Upstream bumps the generation of an object that has one when
		// its deletion starts.
		if m.GetGeneration() > 0 {
			m.SetGeneration(m.GetGeneration() + 1)
		}
		changed = true
	} else if g := m.GetDeletionGracePeriodSeconds(); g != nil && grace < *g {
		// A second delete may only shorten the grace period.
		t := metav1.Unix(now.Unix()+grace, 0)
		m.SetDeletionTimestamp(&t)
		m.SetDeletionGracePeriodSeconds(&grace)
		changed = true
	}
	if changed {
		switch opts.propagation {
		case metav1.DeletePropagationOrphan:
			changed = addFinalizer(m, metav1.FinalizerOrphanDependents) || changed
		case metav1.DeletePropagationForeground:
			changed = addFinalizer(m, metav1.FinalizerDeleteDependents) || changed
		}
	}
	if ns, ok := obj.(*corev1.Namespace); ok && ns.Status.Phase != corev1.NamespaceTerminating {
		ns.Status.Phase = corev1.NamespaceTerminating
		changed = true
	}
	return changed
}

func addFinalizer(m metav1.Object, f string) bool {
	for _, x := range m.GetFinalizers() {
		if x == f {
			return false
		}
	}
	m.SetFinalizers(append(m.GetFinalizers(), f))
	return true
}

// writeDeletionMark stores an object with its deletion marks, bypassing
// update validation (the marks are not user-writable fields).
func (s *Server) writeDeletionMark(ctx context.Context, res *resource, obj runtime.Object, rev int64, dryRun bool) (runtime.Object, error) {
	m, _ := meta.Accessor(obj)
	if dryRun {
		return obj, nil
	}
	data, err := encodeForStorage(res, obj)
	if err != nil {
		return nil, err
	}
	start := s.cfg.Clock.Now()
	newRev, err := s.store.Update(ctx, objectKey(res, m.GetNamespace(), m.GetName()), data, rev, nil, nil)
	s.metrics.observeEtcd("update", res.Plural, s.cfg.Clock.Since(start))
	if err != nil {
		return nil, err
	}
	m.SetResourceVersion(strconv.FormatInt(newRev, 10))
	return obj, nil
}

// copyFinalizers copies a namespace's spec.finalizers from src to dst.
func copyFinalizers(dst, src runtime.Object) {
	d, ok1 := dst.(*corev1.Namespace)
	sn, ok2 := src.(*corev1.Namespace)
	if ok1 && ok2 {
		d.Spec.Finalizers = sn.Spec.Finalizers
	}
}

func requiredName() field.ErrorList {
	return field.ErrorList{field.Required(field.NewPath("metadata", "name"), "name or generateName is required")}
}
