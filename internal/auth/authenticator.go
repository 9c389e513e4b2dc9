package auth

import (
	"errors"
	"net/http"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
)

// Authenticator identifies the user behind a request.
//
// It returns (user, true, nil) when it recognised the request's credentials,
// (nil, false, nil) when the request carries no credentials of its kind (no
// opinion), and (nil, false, err) when it found credentials of its kind that
// are invalid. The returned User belongs to the caller.
type Authenticator interface {
	Authenticate(r *http.Request) (*User, bool, error)
}

// NewUnion returns an Authenticator that tries auths in order and returns the
// first success, like upstream's union authenticator combined with its
// authenticated-group adder: the successful user additionally gets the group
// system:authenticated, unless it is system:anonymous or already carries
// system:authenticated or system:unauthenticated. Errors of authenticators
// tried before a success are discarded; when none succeeds, every error is
// returned as one aggregate (nil if all had no opinion).
func NewUnion(auths ...Authenticator) Authenticator {
	return &union{auths: append([]Authenticator(nil), auths...)}
}

type union struct {
	auths []Authenticator
}

func (u *union) Authenticate(r *http.Request) (*User, bool, error) {
	var errs []error
	for _, a := range u.auths {
		user, ok, err := a.Authenticate(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ok {
			continue
		}
		if user == nil {
			errs = append(errs, errors.New("authenticator reported success without a user"))
			continue
		}
		return withAuthenticatedGroup(user), true, nil
	}
	return nil, false, utilerrors.NewAggregate(errs)
}

// withAuthenticatedGroup returns a copy of u with system:authenticated added
// where upstream adds it.
func withAuthenticatedGroup(u *User) *User {
	c := u.clone()
	if c.Name == UserAnonymous || c.InGroup(GroupAuthenticated) || c.InGroup(GroupUnauthenticated) {
		return c
	}
	c.Groups = append(c.Groups, GroupAuthenticated)
	return c
}
