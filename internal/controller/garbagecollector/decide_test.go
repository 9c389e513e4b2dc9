package garbagecollector

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func obj(owners []types.UID, finalizers ...string) *metav1.ObjectMeta {
	m := &metav1.ObjectMeta{Name: "x", Finalizers: finalizers}
	for _, u := range owners {
		m.OwnerReferences = append(m.OwnerReferences, metav1.OwnerReference{UID: u, Name: string(u), BlockOwnerDeletion: ptr.To(u == "blocker")})
	}
	return m
}

func TestDecide(t *testing.T) {
	deleting := obj([]types.UID{"a"})
	deleting.DeletionTimestamp = ptr.To(metav1.Now())
	tests := []struct {
		name          string
		obj           *metav1.ObjectMeta
		states        map[types.UID]OwnerState
		hasDependents bool
		want          Verdict
	}{
		{"no owners: nothing", obj(nil), nil, false, Verdict{}},
		{"already being deleted: nothing", deleting, map[types.UID]OwnerState{"a": Dangling}, false, Verdict{}},
		{"solid owner: stays", obj([]types.UID{"a"}), map[types.UID]OwnerState{"a": Solid}, false, Verdict{}},
		{"solid and dangling: the dangling reference goes", obj([]types.UID{"a", "b"}), map[types.UID]OwnerState{"a": Solid, "b": Dangling}, false,
			Verdict{RemoveOwners: []types.UID{"b"}}},
		{"solid and waiting: the waiting reference goes", obj([]types.UID{"a", "b"}), map[types.UID]OwnerState{"a": Solid, "b": Waiting}, false,
			Verdict{RemoveOwners: []types.UID{"b"}}},
		{"owner gone: background", obj([]types.UID{"a"}), map[types.UID]OwnerState{"a": Dangling}, false,
			Verdict{Delete: true, Policy: metav1.DeletePropagationBackground}},
		{"owner gone, orphan finalizer: orphan", obj([]types.UID{"a"}, metav1.FinalizerOrphanDependents), map[types.UID]OwnerState{"a": Dangling}, false,
			Verdict{Delete: true, Policy: metav1.DeletePropagationOrphan}},
		{"owner waits, no dependents: background", obj([]types.UID{"a"}), map[types.UID]OwnerState{"a": Waiting}, false,
			Verdict{Delete: true, Policy: metav1.DeletePropagationBackground}},
		{"owner waits, dependents below: foreground", obj([]types.UID{"a"}), map[types.UID]OwnerState{"a": Waiting}, true,
			Verdict{Delete: true, Policy: metav1.DeletePropagationForeground}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(tt.obj, tt.states, tt.hasDependents); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestBlockingAndWithoutOwners(t *testing.T) {
	blocked := obj([]types.UID{"blocker"})
	blocked.OwnerReferences[0].UID = "o"
	free := obj([]types.UID{"o"})
	if got := Blocking("o", []metav1.Object{blocked, free}); len(got) != 1 || got[0] != blocked {
		t.Errorf("Blocking = %v", got)
	}
	refs := obj([]types.UID{"a", "b", "c"}).OwnerReferences
	if got := WithoutOwners(refs, "a", "c"); len(got) != 1 || got[0].UID != "b" {
		t.Errorf("WithoutOwners = %v", got)
	}
	if got := WithoutOwners(refs[:1], "a"); got == nil || len(got) != 0 {
		t.Error("an emptied list must be empty, not nil (a merge patch would not clear it)")
	}
}

func TestKeys(t *testing.T) {
	r := ref{namespace: "ns", name: "web", uid: "u1"}
	r.gvr.Group, r.gvr.Version, r.gvr.Resource = "apps", "v1", "replicasets"
	action, got, err := parseKey(r.key(actOrphan))
	if err != nil || action != actOrphan || got != r {
		t.Errorf("parseKey(key) = %q %+v %v", action, got, err)
	}
	core := ref{name: "n1", uid: "u2"}
	core.gvr.Version, core.gvr.Resource = "v1", "nodes"
	if _, got, err := parseKey(core.key(actDelete)); err != nil || got != core {
		t.Errorf("core round trip: %+v %v", got, err)
	}
}
