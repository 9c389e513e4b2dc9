package statefulset

// ControllerRevision history, as upstream's pkg/controller/history: the
// StatefulSet and DaemonSet controllers both snapshot their pod template
// into ControllerRevisions named <parent>-<hash>. Nothing here knows the
// StatefulSet type, so the file can move to a package of its own once a
// second controller needs it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
)

// RevisionHashLabel is the label of a ControllerRevision that holds its
// hash (upstream's ControllerRevisionHashLabel).
const RevisionHashLabel = "controller.kubernetes.io/hash"

// maxRevisionPrefix keeps <parent>-<hash> within a DNS subdomain, as
// upstream's ControllerRevisionName.
const maxRevisionPrefix = 223

// NewRevision is the ControllerRevision of parent (of kind parentKind)
// holding data as revision number revision: labelled with templateLabels
// and the hash, controlled by parent, named <parent>-<hash> where the
// hash covers data and collisionCount. The caller sets the namespace.
func NewRevision(parent metav1.Object, parentKind schema.GroupVersionKind, templateLabels map[string]string,
	data runtime.RawExtension, revision int64, collisionCount *int32) *appsv1.ControllerRevision {
	lbls := make(map[string]string, len(templateLabels)+1)
	for k, v := range templateLabels {
		lbls[k] = v
	}
	cr := &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Labels:          lbls,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(parent, parentKind)},
		},
		Data:     data,
		Revision: revision,
	}
	hash := HashRevision(cr, collisionCount)
	cr.Name = RevisionName(parent.GetName(), hash)
	cr.Labels[RevisionHashLabel] = hash
	return cr
}

// RevisionName is <prefix>-<hash>, the prefix cut to 223 characters.
func RevisionName(prefix, hash string) string {
	if len(prefix) > maxRevisionPrefix {
		prefix = prefix[:maxRevisionPrefix]
	}
	return prefix + "-" + hash
}

// HashRevision is the FNV-32 hash of a revision's raw data and, when
// probe is set, of the collision count, in the safe alphabet of
// generated names (upstream's HashControllerRevision).
func HashRevision(rev *appsv1.ControllerRevision, probe *int32) string {
	h := fnv.New32()
	if len(rev.Data.Raw) > 0 {
		h.Write(rev.Data.Raw)
	}
	if probe != nil {
		h.Write([]byte(strconv.FormatInt(int64(*probe), 10)))
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// EqualRevision reports whether two revisions hold the same data: equal
// bytes, or equal JSON once decoded (a server may re-encode the raw
// data). Nil equals only nil.
func EqualRevision(a, b *appsv1.ControllerRevision) bool {
	if a == nil || b == nil {
		return a == b
	}
	if bytes.Equal(a.Data.Raw, b.Data.Raw) {
		return true
	}
	var x, y any
	if json.Unmarshal(a.Data.Raw, &x) != nil || json.Unmarshal(b.Data.Raw, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// FindEqualRevisions returns the revisions equal to needle, in the
// order given.
func FindEqualRevisions(revisions []*appsv1.ControllerRevision, needle *appsv1.ControllerRevision) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, r := range revisions {
		if EqualRevision(r, needle) {
			out = append(out, r)
		}
	}
	return out
}

// SortRevisions orders revisions by revision number, then creation
// time, then name.
func SortRevisions(revisions []*appsv1.ControllerRevision) {
	sort.SliceStable(revisions, func(i, j int) bool {
		a, b := revisions[i], revisions[j]
		if a.Revision != b.Revision {
			return a.Revision < b.Revision
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}

// NextRevision is one more than the highest revision number, 1 for no
// revisions.
func NextRevision(revisions []*appsv1.ControllerRevision) int64 {
	var top int64
	for _, r := range revisions {
		top = max(top, r.Revision)
	}
	return top + 1
}

// RevisionsToPrune returns the oldest revisions beyond limit among those
// not named in live, the ones a parent deletes to keep
// revisionHistoryLimit. revisions must be sorted (SortRevisions).
func RevisionsToPrune(revisions []*appsv1.ControllerRevision, live map[string]bool, limit int) []*appsv1.ControllerRevision {
	var old []*appsv1.ControllerRevision
	for _, r := range revisions {
		if !live[r.Name] {
			old = append(old, r)
		}
	}
	if len(old) <= limit {
		return nil
	}
	return old[:len(old)-limit]
}

// CreateRevision creates rev in namespace ns. On a name collision with
// different data it bumps *collisionCount, rehashes and tries again;
// an existing revision with equal data is returned as is (upstream's
// CreateControllerRevision). rev's hash must already reflect
// *collisionCount.
func CreateRevision(ctx context.Context, client kubernetes.Interface, ns string, parentName string, rev *appsv1.ControllerRevision, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	if collisionCount == nil {
		return nil, fmt.Errorf("create revision for %s/%s: no collision count", ns, parentName)
	}
	for {
		clone := rev.DeepCopy()
		hash := HashRevision(clone, collisionCount)
		clone.Name = RevisionName(parentName, hash)
		clone.Namespace = ns
		clone.Labels[RevisionHashLabel] = hash
		created, err := client.AppsV1().ControllerRevisions(ns).Create(ctx, clone, metav1.CreateOptions{})
		if !apierrors.IsAlreadyExists(err) {
			return created, err
		}
		existing, err := client.AppsV1().ControllerRevisions(ns).Get(ctx, clone.Name, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		if EqualRevision(existing, clone) {
			return existing, nil
		}
		*collisionCount++
	}
}
