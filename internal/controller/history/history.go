// Package history is the ControllerRevision history the StatefulSet and
// DaemonSet controllers share, as upstream's pkg/controller/history: a
// parent snapshots its pod template into ControllerRevisions named
// <parent>-<hash>, finds the one equal to its template, renumbers it on
// a rollback, and prunes the oldest beyond its revisionHistoryLimit.
// Nothing here knows the parent's type.
package history

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
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
)

// HashLabel is the label of a ControllerRevision that holds its hash
// (upstream's ControllerRevisionHashLabel).
const HashLabel = "controller.kubernetes.io/hash"

// maxPrefix keeps <parent>-<hash> within a DNS subdomain, as upstream's
// ControllerRevisionName.
const maxPrefix = 223

// New is the ControllerRevision of parent (of kind parentKind) holding
// data as revision number revision: labelled with templateLabels and the
// hash, controlled by parent, named <parent>-<hash> where the hash
// covers data and collisionCount. The caller sets the namespace.
func New(parent metav1.Object, parentKind schema.GroupVersionKind, templateLabels map[string]string,
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
	hash := Hash(cr, collisionCount)
	cr.Name = Name(parent.GetName(), hash)
	cr.Labels[HashLabel] = hash
	return cr
}

// Name is <prefix>-<hash>, the prefix cut to 223 characters.
func Name(prefix, hash string) string {
	if len(prefix) > maxPrefix {
		prefix = prefix[:maxPrefix]
	}
	return prefix + "-" + hash
}

// Hash is the FNV-32 hash of a revision's raw data and, when probe is
// set, of the collision count, in the safe alphabet of generated names
// (upstream's HashControllerRevision).
func Hash(rev *appsv1.ControllerRevision, probe *int32) string {
	h := fnv.New32()
	if len(rev.Data.Raw) > 0 {
		h.Write(rev.Data.Raw)
	}
	if probe != nil {
		h.Write([]byte(strconv.FormatInt(int64(*probe), 10)))
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// TemplatePatch is what a revision of a pod template stores: a strategic
// merge patch that replaces spec.template, the bytes `kubectl rollout
// undo` applies (keys sorted).
func TemplatePatch(template *v1.PodTemplateSpec) ([]byte, error) {
	raw, err := json.Marshal(template)
	if err != nil {
		return nil, err
	}
	var tmpl map[string]any
	if err := json.Unmarshal(raw, &tmpl); err != nil {
		return nil, err
	}
	tmpl["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": tmpl}})
}

// Equal reports whether two revisions hold the same data: equal bytes,
// or equal JSON once decoded (a server may re-encode the raw data). Nil
// equals only nil.
func Equal(a, b *appsv1.ControllerRevision) bool {
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

// FindEqual returns the revisions equal to needle, in the order given.
func FindEqual(revisions []*appsv1.ControllerRevision, needle *appsv1.ControllerRevision) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, r := range revisions {
		if Equal(r, needle) {
			out = append(out, r)
		}
	}
	return out
}

// Sort orders revisions by revision number, then creation time, then
// name.
func Sort(revisions []*appsv1.ControllerRevision) {
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

// Next is one more than the highest revision number, 1 for no
// revisions.
func Next(revisions []*appsv1.ControllerRevision) int64 {
	var top int64
	for _, r := range revisions {
		top = max(top, r.Revision)
	}
	return top + 1
}

// OldestUnused returns the first n revisions (at most) not named in
// live, the ones a parent deletes to keep its revisionHistoryLimit.
// revisions must be sorted (Sort).
func OldestUnused(revisions []*appsv1.ControllerRevision, live map[string]bool, n int) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, r := range revisions {
		if len(out) >= n {
			break
		}
		if !live[r.Name] {
			out = append(out, r)
		}
	}
	return out
}

// ToPrune returns the oldest revisions beyond limit among those not
// named in live (upstream's StatefulSet truncateHistory: the live ones do
// not count toward the limit). revisions must be sorted (Sort).
func ToPrune(revisions []*appsv1.ControllerRevision, live map[string]bool, limit int) []*appsv1.ControllerRevision {
	unused := 0
	for _, r := range revisions {
		if !live[r.Name] {
			unused++
		}
	}
	return OldestUnused(revisions, live, unused-limit)
}

// CreateOrFind creates rev. When its name is taken by a revision with
// equal data, that one is returned; when by one with other data,
// collided is set (a hash collision: the caller bumps its collision
// count).
func CreateOrFind(ctx context.Context, client kubernetes.Interface, rev *appsv1.ControllerRevision) (out *appsv1.ControllerRevision, collided bool, err error) {
	revs := client.AppsV1().ControllerRevisions(rev.Namespace)
	created, err := revs.Create(ctx, rev, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return created, false, err
	}
	existing, err := revs.Get(ctx, rev.Name, metav1.GetOptions{})
	if err != nil {
		return nil, false, err
	}
	if Equal(existing, rev) {
		return existing, false, nil
	}
	return nil, true, nil
}

// Create creates rev in namespace ns. On a name collision with different
// data it bumps *collisionCount, rehashes and tries again; an existing
// revision with equal data is returned as is (upstream's
// CreateControllerRevision). rev's hash must already reflect
// *collisionCount.
func Create(ctx context.Context, client kubernetes.Interface, ns string, parentName string, rev *appsv1.ControllerRevision, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	if collisionCount == nil {
		return nil, fmt.Errorf("create revision for %s/%s: no collision count", ns, parentName)
	}
	for {
		clone := rev.DeepCopy()
		hash := Hash(clone, collisionCount)
		clone.Name = Name(parentName, hash)
		clone.Namespace = ns
		clone.Labels[HashLabel] = hash
		out, collided, err := CreateOrFind(ctx, client, clone)
		if !collided {
			return out, err
		}
		*collisionCount++
	}
}

// Renumber makes rev revision number n (upstream's
// UpdateControllerRevision); a revision already numbered n is returned
// as is.
func Renumber(ctx context.Context, client kubernetes.Interface, rev *appsv1.ControllerRevision, n int64) (*appsv1.ControllerRevision, error) {
	if rev.Revision == n {
		return rev, nil
	}
	next := rev.DeepCopy()
	next.Revision = n
	out, err := client.AppsV1().ControllerRevisions(rev.Namespace).Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("renumber revision %s/%s: %w", rev.Namespace, rev.Name, err)
	}
	return out, nil
}
