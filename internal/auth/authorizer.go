package auth

import (
	"context"
	"fmt"
)

// Attributes describe the action a request asks to perform, as the API
// server derives them from the request. For resource requests
// (ResourceRequest true) APIGroup, APIVersion, Resource, Subresource,
// Namespace and Name identify the target; otherwise Path is the non-resource
// URL path. Verb is the Kubernetes verb (get, list, watch, create, update,
// patch, delete, deletecollection) or, for non-resource requests, the
// lower-case HTTP method.
type Attributes struct {
	User            *User
	Verb            string
	APIGroup        string
	APIVersion      string
	Resource        string
	Subresource     string
	Namespace       string
	Name            string
	Path            string
	ResourceRequest bool
}

// Decision is an authorizer's verdict. The values match upstream's.
type Decision int

const (
	// DecisionDeny means the request must be refused.
	DecisionDeny Decision = iota
	// DecisionAllow means the request may proceed.
	DecisionAllow
	// DecisionNoOpinion means the authorizer neither allows nor denies; when
	// every authorizer has no opinion the request is refused.
	DecisionNoOpinion
)

// String returns "Deny", "Allow" or "NoOpinion".
func (d Decision) String() string {
	switch d {
	case DecisionDeny:
		return "Deny"
	case DecisionAllow:
		return "Allow"
	case DecisionNoOpinion:
		return "NoOpinion"
	default:
		return fmt.Sprintf("Decision(%d)", int(d))
	}
}

// Authorizer decides whether a request may proceed. The reason explains the
// decision to the user (it is appended to the forbidden message) and may be
// empty. A non-nil error means the authorizer could not decide; the decision
// returned with it must then be treated as a denial.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (Decision, string, error)
}

// NewMastersAuthorizer returns an Authorizer that allows every request from a
// member of system:masters and has no opinion on all others (including
// requests without a user), giving a reason that names the missing group.
// Like upstream's privileged-group authorizer it never denies outright, so
// it can be put in front of finer-grained authorizers later.
func NewMastersAuthorizer() Authorizer {
	return mastersAuthorizer{}
}

type mastersAuthorizer struct{}

func (mastersAuthorizer) Authorize(_ context.Context, a Attributes) (Decision, string, error) {
	if a.User.InGroup(GroupMasters) {
		return DecisionAllow, "", nil
	}
	return DecisionNoOpinion, fmt.Sprintf("only members of group %q are authorized", GroupMasters), nil
}

// ForbiddenMessage renders the message of the 403 Forbidden status the API
// server returns when a request is not authorized, with upstream's wording:
//
//	pods "x" is forbidden: User "bob" cannot get resource "pods" in API group "" in the namespace "default"
//	deployments.apps is forbidden: User "bob" cannot list resource "deployments" in API group "apps" at the cluster scope
//	forbidden: User "bob" cannot get path "/healthz"
//
// The subresource is appended to the resource after a slash in the sentence
// ("pods/log") but not in the leading group-qualified resource. When an
// authorizer gave a reason, upstream appends it as ": <reason>"; that is left
// to the caller.
func ForbiddenMessage(a Attributes) string {
	username := ""
	if a.User != nil {
		username = a.User.Name
	}

	var detail string
	if !a.ResourceRequest {
		detail = fmt.Sprintf("User %q cannot %s path %q", username, a.Verb, a.Path)
	} else {
		resource := a.Resource
		if a.Subresource != "" {
			resource += "/" + a.Subresource
		}
		if a.Namespace != "" {
			detail = fmt.Sprintf("User %q cannot %s resource %q in API group %q in the namespace %q", username, a.Verb, resource, a.APIGroup, a.Namespace)
		} else {
			detail = fmt.Sprintf("User %q cannot %s resource %q in API group %q at the cluster scope", username, a.Verb, resource, a.APIGroup)
		}
	}

	// The prefix follows apimachinery's NewForbidden for the group-resource
	// and name of the request (empty for non-resource requests).
	var qualified string
	if a.ResourceRequest {
		qualified = a.Resource
		if a.APIGroup != "" {
			qualified += "." + a.APIGroup
		}
	}
	switch {
	case qualified == "":
		return "forbidden: " + detail
	case a.Name == "":
		return qualified + " is forbidden: " + detail
	default:
		return fmt.Sprintf("%s %q is forbidden: %s", qualified, a.Name, detail)
	}
}
