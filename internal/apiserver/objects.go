package apiserver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"reflect"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/storage"
	"github.com/skiff-sh/skiff/internal/validation"
)

// objectKey is where one object lives in etcd.
func objectKey(res *resource, namespace, name string) string {
	if res.Namespaced {
		return res.storagePrefix() + namespace + "/" + name
	}
	return res.storagePrefix() + name
}

// writeOptions are the query options every write takes.
type writeOptions struct {
	dryRun     bool
	validation fieldValidation
	// subresource is "" for the main resource, else e.g. "status".
	subresource string
}

// getObject reads and decodes one object.
func (s *Server) getObject(ctx context.Context, res *resource, namespace, name string) (runtime.Object, int64, error) {
	start := s.cfg.Clock.Now()
	stored, err := s.store.Get(ctx, objectKey(res, namespace, name))
	s.metrics.observeEtcd("get", res.Plural, s.cfg.Clock.Since(start))
	if err != nil {
		return nil, 0, storageError(err, res.GroupResource(), name)
	}
	obj, err := decodeStored(res, stored.Value, stored.Revision)
	return obj, stored.Revision, err
}

// randomSuffix is upstream's generateName suffix: five characters from an
// alphabet without vowels or look-alikes.
func randomSuffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	for i := range b {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[n.Int64()]
	}
	return string(b)
}

// createObject runs the create pipeline: system metadata, defaults,
// resource hooks, validation, admission, then one etcd transaction.
// Nothing is written when any step fails or when dryRun is set.
func (s *Server) createObject(ctx context.Context, res *resource, obj runtime.Object, opts writeOptions) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	generated := m.GetName() == "" && m.GetGenerateName() != ""
	if generated {
		m.SetName(m.GetGenerateName() + randomSuffix())
	}
	now := metav1.NewTime(s.cfg.Clock.Now().Truncate(1e9))
	m.SetUID(uuid.NewUUID())
	m.SetCreationTimestamp(now)
	m.SetResourceVersion("")
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetSelfLink("")
	m.SetManagedFields(nil)
	if res.Generation {
		m.SetGeneration(1)
	} else {
		m.SetGeneration(0)
	}
	resetStatusOnCreate(res, obj)
	s.ext.defaultObject(obj)
	if res.Namespaced {
		// Upstream's NamespaceLifecycle admission comes first, and names
		// the object as it was sent.
		name := m.GetName()
		if generated {
			name = m.GetGenerateName()
		}
		if err := s.admitNamespace(ctx, res, name, m.GetNamespace()); err != nil {
			return nil, err
		}
	}
	if err := s.ext.beforeCreate(ctx, res, obj); err != nil {
		return nil, err
	}
	if errs := s.ext.validate(res, obj); len(errs) > 0 {
		return nil, invalid(res, m.GetName(), errs)
	}
	for attempt := 0; ; attempt++ {
		alloc, err := s.ext.allocate(ctx, res, obj, nil, opts.dryRun)
		if err != nil {
			return nil, err
		}
		if opts.dryRun {
			return obj, nil
		}
		data, err := encodeForStorage(res, obj)
		if err != nil {
			return nil, err
		}
		start := s.cfg.Clock.Now()
		rev, err := s.store.Create(ctx, objectKey(res, m.GetNamespace(), m.GetName()), data, alloc.take...)
		s.metrics.observeEtcd("create", res.Plural, s.cfg.Clock.Since(start))
		switch {
		case err == nil:
			m.SetResourceVersion(strconv.FormatInt(rev, 10))
			return obj, nil
		case errors.Is(err, storage.ErrClaimed) && attempt < 10:
			alloc.undo()
			continue
		case errors.Is(err, storage.ErrExists) && generated && attempt < 10:
			m.SetName(m.GetGenerateName() + randomSuffix())
			continue
		}
		return nil, storageError(err, res.GroupResource(), m.GetName())
	}
}

// admitNamespace refuses content in a namespace that is missing or going,
// in upstream's words: the 403 names the object being created, with a
// NamespaceTerminating cause.
func (s *Server) admitNamespace(ctx context.Context, res *resource, name, namespace string) error {
	obj, ok := s.namespaces.get(namespace)
	if !ok {
		// Not seen yet: it may have been created a moment ago.
		var err error
		if obj, _, err = s.getObject(ctx, s.resources.lookup("", "v1", "namespaces"), "", namespace); err != nil {
			return err
		}
	}
	if m, _ := meta.Accessor(obj); m.GetDeletionTimestamp() != nil {
		err := apierrors.NewForbidden(res.GroupResource(), name,
			fmt.Errorf("unable to create new content in namespace %s because it is being terminated", namespace))
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
			Type: corev1.NamespaceTerminatingCause, Message: fmt.Sprintf("namespace %s is being terminated", namespace), Field: "metadata.namespace"})
		return err
	}
	return nil
}

// fieldByName returns the addressable struct field name of obj, if any.
func fieldByName(obj runtime.Object, name string) (reflect.Value, bool) {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, false
	}
	f := v.Elem().FieldByName(name)
	return f, f.IsValid() && f.CanSet()
}

// copyField sets dst's field name to src's.
func copyField(dst, src runtime.Object, name string) {
	d, ok1 := fieldByName(dst, name)
	sv, ok2 := fieldByName(src, name)
	if ok1 && ok2 {
		d.Set(sv)
	}
}

func resetStatusOnCreate(res *resource, obj runtime.Object) {
	if !res.Status {
		return
	}
	// Namespaces and nodes keep what the creator says (upstream does too
	// for nodes; namespaces get their phase from defaulting).
	if res.GVK.Kind == "Node" || res.GVK.Kind == "Namespace" {
		return
	}
	if f, ok := fieldByName(obj, "Status"); ok {
		f.Set(reflect.Zero(f.Type()))
	}
}

// specChanged reports whether obj's spec differs from old's (objects
// without a spec never change generation).
func specChanged(obj, old runtime.Object) bool {
	a, ok1 := fieldByName(obj, "Spec")
	b, ok2 := fieldByName(old, "Spec")
	if !ok1 || !ok2 {
		return false
	}
	return !apiequality.Semantic.DeepEqual(a.Interface(), b.Interface())
}

// prepareUpdate carries over what a write of this kind may not change: the
// system metadata always, the status on main-resource writes, and the spec
// and ordinary metadata on status writes.
func prepareUpdate(res *resource, obj, old runtime.Object, sub string) {
	m, _ := meta.Accessor(obj)
	om, _ := meta.Accessor(old)
	if m.GetUID() == "" {
		m.SetUID(om.GetUID())
	}
	m.SetCreationTimestamp(om.GetCreationTimestamp())
	m.SetDeletionTimestamp(om.GetDeletionTimestamp())
	m.SetDeletionGracePeriodSeconds(om.GetDeletionGracePeriodSeconds())
	m.SetGeneration(om.GetGeneration())
	m.SetSelfLink("")
	if m.GetManagedFields() == nil {
		m.SetManagedFields(om.GetManagedFields())
	}
	switch sub {
	case "":
		if res.Status {
			copyField(obj, old, "Status")
		}
		copyFinalizers(obj, old)
		if res.Generation && specChanged(obj, old) {
			m.SetGeneration(om.GetGeneration() + 1)
		}
	case "status":
		copyField(obj, old, "Spec")
		m.SetLabels(om.GetLabels())
		if _, ok := obj.(*appsv1.Deployment); !ok {
			// Deployment status writes carry annotations, as upstream's
			// deploymentStatusStrategy: the deployment controller records
			// deployment.kubernetes.io/revision through them.
			m.SetAnnotations(om.GetAnnotations())
		}
		m.SetFinalizers(om.GetFinalizers())
		m.SetOwnerReferences(om.GetOwnerReferences())
	}
}

// updateObject writes obj over old (read at oldRev): it prepares,
// defaults, validates and stores it, or deletes it when an update empties
// the finalizers of an object being deleted. A lost race returns a
// storage.ErrConflict the caller may retry.
func (s *Server) updateObject(ctx context.Context, res *resource, obj, old runtime.Object, oldRev int64, opts writeOptions) (runtime.Object, error) {
	prepareUpdate(res, obj, old, opts.subresource)
	s.ext.beforeUpdate(obj, old)
	s.ext.defaultObject(obj)
	m, _ := meta.Accessor(obj)
	// An unconditional update writes over the version it read, as upstream.
	m.SetResourceVersion(strconv.FormatInt(oldRev, 10))
	var errs field.ErrorList
	switch opts.subresource {
	case "status":
		errs = s.ext.validateStatusUpdate(res, obj, old)
	case "binding":
		// The binding was validated; it writes only spec.nodeName and a
		// condition, which pod updates may not change.
	case "finalize":
		errs = validation.ValidateNamespaceFinalizeUpdate(obj.(*corev1.Namespace), old.(*corev1.Namespace))
	default:
		errs = s.ext.validateUpdate(res, obj, old)
	}
	if len(errs) > 0 {
		return nil, invalid(res, m.GetName(), errs)
	}
	if m.GetDeletionTimestamp() != nil && len(m.GetFinalizers()) == 0 && zeroGrace(m) && !namespaceHeld(obj) {
		return s.deleteStored(ctx, res, obj, oldRev, opts.dryRun)
	}
	alloc, err := s.ext.allocate(ctx, res, obj, old, opts.dryRun)
	if err != nil {
		return nil, err
	}
	if opts.dryRun {
		m.SetResourceVersion(strconv.FormatInt(oldRev, 10))
		return obj, nil
	}
	data, err := encodeForStorage(res, obj)
	if err != nil {
		return nil, err
	}
	oldData, err := encodeForStorage(res, old)
	if err == nil && string(oldData) == string(data) {
		// No change: no write, no new revision, as upstream.
		m.SetResourceVersion(strconv.FormatInt(oldRev, 10))
		return obj, nil
	}
	start := s.cfg.Clock.Now()
	rev, err := s.store.Update(ctx, objectKey(res, m.GetNamespace(), m.GetName()), data, oldRev, alloc.take, alloc.release)
	s.metrics.observeEtcd("update", res.Plural, s.cfg.Clock.Since(start))
	if err != nil {
		if errors.Is(err, storage.ErrClaimed) {
			// Someone took a value we picked: start over.
			return nil, storage.ErrConflict
		}
		return nil, err
	}
	m.SetResourceVersion(strconv.FormatInt(rev, 10))
	return obj, nil
}

func zeroGrace(m metav1.Object) bool {
	g := m.GetDeletionGracePeriodSeconds()
	return g == nil || *g == 0
}

// deleteStored removes an object read at rev, releasing what it holds.
func (s *Server) deleteStored(ctx context.Context, res *resource, obj runtime.Object, rev int64, dryRun bool) (runtime.Object, error) {
	m, _ := meta.Accessor(obj)
	if dryRun {
		return obj, nil
	}
	alloc, err := s.ext.allocate(ctx, res, nil, obj, false)
	if err != nil {
		return nil, err
	}
	start := s.cfg.Clock.Now()
	delRev, err := s.store.Delete(ctx, objectKey(res, m.GetNamespace(), m.GetName()), rev, alloc.release...)
	s.metrics.observeEtcd("delete", res.Plural, s.cfg.Clock.Since(start))
	if err != nil {
		return nil, err
	}
	m.SetResourceVersion(strconv.FormatInt(delRev, 10))
	return obj, nil
}

// retryUpdate reads an object, applies mutate and writes it, retrying on
// lost races unless the caller pinned a resourceVersion (then a lost race
// is a 409 Conflict). mutate gets a fresh decoded copy each try.
func (s *Server) retryUpdate(ctx context.Context, res *resource, namespace, name string, opts writeOptions,
	mutate func(cur runtime.Object, rev int64) (runtime.Object, error)) (runtime.Object, error) {
	for attempt := 0; ; attempt++ {
		cur, rev, err := s.getObject(ctx, res, namespace, name)
		if err != nil {
			return nil, err
		}
		old := cur.DeepCopyObject()
		next, err := mutate(cur, rev)
		if err != nil {
			return nil, err
		}
		nm, err := meta.Accessor(next)
		if err != nil {
			return nil, err
		}
		pinned := nm.GetResourceVersion()
		if pinned != "" && pinned != strconv.FormatInt(rev, 10) {
			return nil, apierrors.NewConflict(res.GroupResource(), name, errors.New(conflictMessage))
		}
		out, err := s.updateObject(ctx, res, next, old, rev, opts)
		if errors.Is(err, storage.ErrConflict) || errors.Is(err, storage.ErrNotFound) {
			if pinned != "" || attempt >= 20 {
				return nil, storageError(err, res.GroupResource(), name)
			}
			continue
		}
		return out, err
	}
}

func uidOf(obj runtime.Object) types.UID {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetUID()
}

// isRetryable says a write lost a race and may be tried again.
func isRetryable(err error) bool {
	return errors.Is(err, storage.ErrConflict)
}
