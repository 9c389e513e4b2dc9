package serviceaccount

import (
	"context"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller/controllertest"
)

func TestNeedsDefault(t *testing.T) {
	active := &v1.Namespace{Status: v1.NamespaceStatus{Phase: v1.NamespaceActive}}
	terminating := &v1.Namespace{Status: v1.NamespaceStatus{Phase: v1.NamespaceTerminating}}
	deleted := &v1.Namespace{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: ptr.To(metav1.Now())}}
	sa := &v1.ServiceAccount{}
	tests := []struct {
		name string
		ns   *v1.Namespace
		sa   *v1.ServiceAccount
		want bool
	}{
		{"active without one", active, nil, true},
		{"active with one", active, sa, false},
		{"terminating", terminating, nil, false},
		{"deleted, phase not yet written", deleted, nil, false},
	}
	for _, tt := range tests {
		if got := NeedsDefault(tt.ns, tt.sa); got != tt.want {
			t.Errorf("%s: NeedsDefault = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSync(t *testing.T) {
	objs := []runtime.Object{
		&v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bare"}},
		&v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "done"}},
		&v1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: DefaultName, Namespace: "done"}},
	}
	f, c := controllertest.Build(t, time.Now(), newController, objs...)
	client := f.Client
	for _, key := range []string{"bare", "done", "gone"} {
		if err := c.sync(context.Background(), key); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	if len(client.Actions()) != 1 || client.Actions()[0].GetVerb() != "create" || client.Actions()[0].GetNamespace() != "bare" {
		t.Errorf("actions = %v; want one create in bare", client.Actions())
	}
}
