// Package auth authenticates and authorizes API server requests, following
// the semantics of upstream Kubernetes' apiserver authentication and
// authorization layers: client certificates and static token files identify
// users, a union of authenticators tries each in turn, and authorizers return
// allow, deny or no-opinion decisions with a human-readable reason.
//
// Everything here is safe for concurrent use once constructed.
package auth

import "slices"

// Well-known user and group names, as in upstream Kubernetes.
const (
	// UserAnonymous is the name given to unauthenticated requests.
	UserAnonymous = "system:anonymous"
	// GroupAuthenticated is added to every authenticated user by NewUnion.
	GroupAuthenticated = "system:authenticated"
	// GroupUnauthenticated is the group of the anonymous user.
	GroupUnauthenticated = "system:unauthenticated"
	// GroupMasters may do everything under NewMastersAuthorizer.
	GroupMasters = "system:masters"
)

// User is an authenticated identity.
type User struct {
	Name   string
	UID    string
	Groups []string
	Extra  map[string][]string
}

// AnonymousUser returns a new copy of the identity the API server assigns to
// requests no authenticator recognised, when it allows anonymous access:
// name system:anonymous, group system:unauthenticated. Whether anonymous
// requests are allowed at all is the API server's decision.
func AnonymousUser() *User {
	return &User{Name: UserAnonymous, Groups: []string{GroupUnauthenticated}}
}

// InGroup reports whether u is non-nil and a member of group.
func (u *User) InGroup(group string) bool {
	return u != nil && slices.Contains(u.Groups, group)
}

// clone returns a deep copy of u so callers can modify it freely.
func (u *User) clone() *User {
	c := &User{Name: u.Name, UID: u.UID, Groups: slices.Clone(u.Groups)}
	if u.Extra != nil {
		c.Extra = make(map[string][]string, len(u.Extra))
		for k, v := range u.Extra {
			c.Extra[k] = slices.Clone(v)
		}
	}
	return c
}
