package controller

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

var podsResource = schema.GroupResource{Resource: "pods"}

func claimPod(name string, lbls map[string]string, controller types.UID, deleting bool) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name), Labels: lbls}}
	if controller != "" {
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "o", UID: controller, Controller: ptr.To(true)}}
	}
	if deleting {
		p.DeletionTimestamp = &metav1.Time{}
	}
	return p
}

func podNames(pods []*v1.Pod) string {
	s := make([]string, len(pods))
	for i, p := range pods {
		s[i] = p.Name
	}
	return strings.Join(s, ",")
}

func TestSplitClaims(t *testing.T) {
	web := map[string]string{"app": "web"}
	db := map[string]string{"app": "db"}
	cands := []*v1.Pod{
		claimPod("mine", web, "owner", false),
		claimPod("mine-relabelled", db, "owner", false),
		claimPod("theirs", web, "other", false),
		claimPod("orphan", web, "", false),
		claimPod("orphan-deleting", web, "", true),
		claimPod("orphan-other", db, "", false),
		claimPod("mine-deleting", web, "owner", true),
	}
	sel := labels.SelectorFromSet(web)
	for _, tc := range []struct {
		name                  string
		ownerDeleting         bool
		owned, adopt, release string
	}{
		{"owner live", false, "mine,orphan,mine-deleting", "orphan", "mine-relabelled"},
		// An owner being deleted neither adopts nor releases.
		{"owner deleting", true, "mine,mine-deleting", "", ""},
	} {
		owner := &metav1.ObjectMeta{Name: "o", Namespace: "ns", UID: "owner"}
		if tc.ownerDeleting {
			owner.DeletionTimestamp = &metav1.Time{}
		}
		c := SplitClaims(owner, cands, func(p *v1.Pod) bool { return sel.Matches(labels.Set(p.Labels)) })
		got := []string{podNames(c.Owned), podNames(c.Adopt), podNames(c.Release)}
		if want := []string{tc.owned, tc.adopt, tc.release}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: owned, adopt, release = %q, want %q", tc.name, got, want)
		}
	}
}

func TestClaimWrite(t *testing.T) {
	notFound := apierrors.NewNotFound(podsResource, "x")
	invalid := apierrors.NewInvalid(schema.GroupKind{Kind: "Pod"}, "x", nil)
	boom := errors.New("boom")
	base := Claims[*v1.Pod]{
		Owned:   []*v1.Pod{claimPod("a", nil, "owner", false), claimPod("b", nil, "", false)},
		Adopt:   []*v1.Pod{claimPod("b", nil, "", false)},
		Release: []*v1.Pod{claimPod("c", nil, "owner", false)},
	}
	for _, tc := range []struct {
		name                     string
		c                        Claims[*v1.Pod]
		recheck, adopt, release  error
		wantOwned, wantErr       string
		wantRechecks, wantWrites int
	}{
		{name: "adopt and release", c: base, wantOwned: "a,b+", wantRechecks: 1, wantWrites: 2},
		{name: "adoptee gone", c: base, adopt: notFound, wantOwned: "a", wantRechecks: 1, wantWrites: 2},
		{name: "released one gone", c: base, release: notFound, wantOwned: "a,b+", wantRechecks: 1, wantWrites: 2},
		{name: "released one not ours any more", c: base, release: invalid, wantOwned: "a,b+", wantRechecks: 1, wantWrites: 2},
		{name: "owner being deleted", c: base, recheck: boom, wantErr: "boom", wantRechecks: 1},
		{name: "adoption fails", c: base, adopt: boom, wantErr: "adopt ns/b: boom", wantRechecks: 1, wantWrites: 1},
		{name: "release fails", c: base, release: boom, wantErr: "release ns/c: boom", wantRechecks: 1, wantWrites: 2},
		{name: "nothing to adopt: no recheck", c: Claims[*v1.Pod]{Owned: base.Owned[:1]}, wantOwned: "a"},
	} {
		var rechecks, writes int
		owned, err := tc.c.Write(context.Background(), ClaimWrites[*v1.Pod]{
			Recheck: func(context.Context) error { rechecks++; return tc.recheck },
			Adopt: func(_ context.Context, p *v1.Pod) (*v1.Pod, error) {
				writes++
				out := p.DeepCopy()
				out.Name += "+" // as written
				return out, tc.adopt
			},
			Release: func(context.Context, *v1.Pod) error { writes++; return tc.release },
		})
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if podNames(owned) != tc.wantOwned || gotErr != tc.wantErr || rechecks != tc.wantRechecks || writes != tc.wantWrites {
			t.Errorf("%s: owned %q err %q rechecks %d writes %d", tc.name, podNames(owned), gotErr, rechecks, writes)
		}
	}
}

func TestClaimObjectsThroughTheClient(t *testing.T) {
	owner := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "owner", Namespace: "ns", UID: "owner"}}
	orphan := claimPod("orphan", map[string]string{"app": "web", "n": "1"}, "", false)
	filtered := claimPod("filtered", map[string]string{"app": "web", "n": "2"}, "", false)
	stray := claimPod("stray", map[string]string{"app": "db"}, "owner", false)
	client := fake.NewClientset(owner, orphan, filtered, stray)
	pods := client.CoreV1().Pods("ns")
	ref := metav1.NewControllerRef(owner, v1.SchemeGroupVersion.WithKind("Pod"))
	owned, err := ClaimObjects(context.Background(), owner, labels.SelectorFromSet(labels.Set{"app": "web"}),
		func(p *v1.Pod) bool { return p.Labels["n"] == "1" }, []*v1.Pod{orphan, filtered, stray},
		PatchClaims(ref, pods.Patch, RecheckDeletion(owner, "pod", pods.Get)))
	if err != nil || podNames(owned) != "orphan" {
		t.Fatalf("owned %q, %v", podNames(owned), err)
	}
	if metav1.GetControllerOf(owned[0]) == nil {
		t.Error("the adoptee returned is not the one written")
	}
	for name, want := range map[string]bool{"orphan": true, "filtered": false, "stray": false} {
		p, _ := pods.Get(context.Background(), name, metav1.GetOptions{})
		if got := metav1.GetControllerOf(p) != nil; got != want {
			t.Errorf("%s controlled: %v", name, got)
		}
	}
	// A replaced owner (another UID) does not adopt.
	gone := owner.DeepCopy()
	gone.UID = "old"
	err = RecheckDeletion(gone, "pod", pods.Get)(context.Background())
	if err == nil || err.Error() != "pod ns/owner is gone or being deleted: not adopting" {
		t.Errorf("recheck of a replaced owner: %v", err)
	}
}
