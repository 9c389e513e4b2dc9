package auth

import (
	"context"
	"testing"
)

func TestMastersAuthorizer(t *testing.T) {
	tests := []struct {
		name       string
		user       *User
		want       Decision
		wantReason bool
	}{
		{name: "master", user: &User{Name: "admin", Groups: []string{"system:masters", GroupAuthenticated}}, want: DecisionAllow},
		{name: "ordinary user", user: &User{Name: "bob", Groups: []string{GroupAuthenticated}}, want: DecisionNoOpinion, wantReason: true},
		{name: "anonymous", user: AnonymousUser(), want: DecisionNoOpinion, wantReason: true},
		{name: "no user", want: DecisionNoOpinion, wantReason: true},
		{name: "name is not a group", user: &User{Name: "system:masters"}, want: DecisionNoOpinion, wantReason: true},
	}
	az := NewMastersAuthorizer()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, reason, err := az.Authorize(context.Background(), Attributes{User: tc.user, Verb: "delete", Resource: "nodes", ResourceRequest: true})
			if err != nil {
				t.Fatal(err)
			}
			if d != tc.want {
				t.Errorf("decision = %v, want %v", d, tc.want)
			}
			if (reason != "") != tc.wantReason {
				t.Errorf("reason = %q, want reason %v", reason, tc.wantReason)
			}
		})
	}
}

func TestDecisionString(t *testing.T) {
	for d, want := range map[Decision]string{DecisionDeny: "Deny", DecisionAllow: "Allow", DecisionNoOpinion: "NoOpinion", Decision(7): "Decision(7)"} {
		if got := d.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(d), got, want)
		}
	}
}

func TestForbiddenMessage(t *testing.T) {
	bob := &User{Name: "bob", Groups: []string{"dev"}}
	tests := []struct {
		name  string
		attrs Attributes
		want  string
	}{
		{
			name:  "namespaced named core resource",
			attrs: Attributes{User: bob, Verb: "get", APIVersion: "v1", Resource: "pods", Namespace: "default", Name: "x", ResourceRequest: true},
			want:  `pods "x" is forbidden: User "bob" cannot get resource "pods" in API group "" in the namespace "default"`,
		},
		{
			name:  "namespaced collection",
			attrs: Attributes{User: bob, Verb: "list", Resource: "pods", Namespace: "kube-system", ResourceRequest: true},
			want:  `pods is forbidden: User "bob" cannot list resource "pods" in API group "" in the namespace "kube-system"`,
		},
		{
			name:  "cluster-scoped grouped resource",
			attrs: Attributes{User: bob, Verb: "list", APIGroup: "apps", APIVersion: "v1", Resource: "deployments", ResourceRequest: true},
			want:  `deployments.apps is forbidden: User "bob" cannot list resource "deployments" in API group "apps" at the cluster scope`,
		},
		{
			name:  "cluster-scoped named resource",
			attrs: Attributes{User: bob, Verb: "delete", Resource: "nodes", Name: "n1", ResourceRequest: true},
			want:  `nodes "n1" is forbidden: User "bob" cannot delete resource "nodes" in API group "" at the cluster scope`,
		},
		{
			name:  "subresource",
			attrs: Attributes{User: bob, Verb: "get", Resource: "pods", Subresource: "log", Namespace: "default", Name: "x", ResourceRequest: true},
			want:  `pods "x" is forbidden: User "bob" cannot get resource "pods/log" in API group "" in the namespace "default"`,
		},
		{
			name:  "grouped subresource",
			attrs: Attributes{User: bob, Verb: "update", APIGroup: "apps", Resource: "deployments", Subresource: "scale", Namespace: "ns", Name: "web", ResourceRequest: true},
			want:  `deployments.apps "web" is forbidden: User "bob" cannot update resource "deployments/scale" in API group "apps" in the namespace "ns"`,
		},
		{
			name:  "non-resource URL",
			attrs: Attributes{User: bob, Verb: "get", Path: "/healthz"},
			want:  `forbidden: User "bob" cannot get path "/healthz"`,
		},
		{
			name:  "anonymous",
			attrs: Attributes{User: AnonymousUser(), Verb: "get", Path: "/"},
			want:  `forbidden: User "system:anonymous" cannot get path "/"`,
		},
		{
			name:  "no user",
			attrs: Attributes{Verb: "watch", Resource: "secrets", Namespace: "a", ResourceRequest: true},
			want:  `secrets is forbidden: User "" cannot watch resource "secrets" in API group "" in the namespace "a"`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ForbiddenMessage(tc.attrs); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
