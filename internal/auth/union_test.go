package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type fakeAuth struct {
	user  *User
	ok    bool
	err   error
	calls *int
}

func (f fakeAuth) Authenticate(*http.Request) (*User, bool, error) {
	if f.calls != nil {
		*f.calls++
	}
	return f.user, f.ok, f.err
}

func TestUnion(t *testing.T) {
	errA := errors.New("bad cert")
	errB := errors.New("invalid bearer token")
	alice := &User{Name: "alice", Groups: []string{"dev"}, Extra: map[string][]string{"scopes": {"x"}}}

	tests := []struct {
		name        string
		auths       []Authenticator
		wantUser    *User
		wantOK      bool
		wantErrs    []error
		wantCalls   []int // calls per authenticator; -1 = not checked
		wantNoError bool
	}{
		{name: "no authenticators", wantNoError: true},
		{name: "all no opinion", auths: []Authenticator{fakeAuth{}, fakeAuth{}}, wantNoError: true},
		{
			name:     "first success wins, authenticated group added",
			auths:    []Authenticator{fakeAuth{user: alice, ok: true}, fakeAuth{user: &User{Name: "bob"}, ok: true}},
			wantUser: &User{Name: "alice", Groups: []string{"dev", GroupAuthenticated}, Extra: map[string][]string{"scopes": {"x"}}},
			wantOK:   true,
		},
		{
			name:     "errors before a success are dropped",
			auths:    []Authenticator{fakeAuth{err: errA}, fakeAuth{}, fakeAuth{user: &User{Name: "bob"}, ok: true}},
			wantUser: &User{Name: "bob", Groups: []string{GroupAuthenticated}},
			wantOK:   true,
		},
		{
			name:     "errors aggregated when nothing succeeds",
			auths:    []Authenticator{fakeAuth{err: errA}, fakeAuth{}, fakeAuth{err: errB}},
			wantErrs: []error{errA, errB},
		},
		{
			name:     "already authenticated group not duplicated",
			auths:    []Authenticator{fakeAuth{user: &User{Name: "c", Groups: []string{GroupAuthenticated}}, ok: true}},
			wantUser: &User{Name: "c", Groups: []string{GroupAuthenticated}},
			wantOK:   true,
		},
		{
			name:     "unauthenticated group left alone",
			auths:    []Authenticator{fakeAuth{user: &User{Name: "d", Groups: []string{GroupUnauthenticated}}, ok: true}},
			wantUser: &User{Name: "d", Groups: []string{GroupUnauthenticated}},
			wantOK:   true,
		},
		{
			name:     "anonymous left alone",
			auths:    []Authenticator{fakeAuth{user: AnonymousUser(), ok: true}},
			wantUser: AnonymousUser(),
			wantOK:   true,
		},
		{
			name:     "success without user is an error",
			auths:    []Authenticator{fakeAuth{ok: true}},
			wantErrs: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user, ok, err := NewUnion(tc.auths...).Authenticate(httptest.NewRequest("GET", "/", nil))
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v (err %v)", ok, tc.wantOK, err)
			}
			if !equalUser(user, tc.wantUser) {
				t.Errorf("user = %+v, want %+v", user, tc.wantUser)
			}
			switch {
			case tc.wantOK || tc.wantNoError:
				if err != nil {
					t.Errorf("unexpected error %v", err)
				}
			case len(tc.wantErrs) == 0:
				if err == nil {
					t.Error("expected an error")
				}
			default:
				for _, want := range tc.wantErrs {
					if !errors.Is(err, want) || !strings.Contains(err.Error(), want.Error()) {
						t.Errorf("err = %v, want it to include %v", err, want)
					}
				}
			}
		})
	}
}

func TestUnionStopsAtFirstSuccessAndCopiesUser(t *testing.T) {
	var first, second int
	stored := &User{Name: "alice", Groups: []string{"dev"}}
	u := NewUnion(fakeAuth{user: stored, ok: true, calls: &first}, fakeAuth{calls: &second})
	got, ok, err := u.Authenticate(httptest.NewRequest("GET", "/", nil))
	if !ok || err != nil {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	if first != 1 || second != 0 {
		t.Errorf("calls = %d, %d; want 1, 0", first, second)
	}
	if len(stored.Groups) != 1 {
		t.Errorf("union modified the authenticator's user: %v", stored.Groups)
	}
	got.Groups[0] = "changed"
	if stored.Groups[0] != "dev" {
		t.Error("returned user shares memory with the authenticator's user")
	}
}

func TestAnonymousUserIsFresh(t *testing.T) {
	a := AnonymousUser()
	a.Groups[0] = "system:masters"
	if b := AnonymousUser(); b.Name != UserAnonymous || len(b.Groups) != 1 || b.Groups[0] != GroupUnauthenticated {
		t.Errorf("AnonymousUser() = %+v", b)
	}
}
