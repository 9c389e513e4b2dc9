package kubelet

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// requestUser is who a request to the kubelet API comes from: the
// subject of its verified client certificate (CN the user, O the groups).
type requestUser struct {
	Name   string
	Groups []string
}

// requestUserOf is the user of a request's verified client certificate,
// or nil when it presented none (the TLS layer already refused one the
// client CA did not sign).
func requestUserOf(r *http.Request) *requestUser {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return nil
	}
	c := r.TLS.VerifiedChains[0][0]
	if c.Subject.CommonName == "" {
		return nil
	}
	return &requestUser{Name: c.Subject.CommonName, Groups: c.Subject.Organization}
}

// mastersGroup may do everything, as on the API server.
const mastersGroup = "system:masters"

// authorizeRequest decides a request: 200, 401 Unauthorized without a
// user, or 403 with upstream's "Forbidden (user=…, verb=…, resource=nodes,
// subresource=…)" for a user outside system:masters. Until RBAC lands the
// kubelet, like the API server, lets only system:masters in.
func authorizeRequest(u *requestUser, method, path string) (int, string) {
	if u == nil {
		return http.StatusUnauthorized, "Unauthorized"
	}
	if slices.Contains(u.Groups, mastersGroup) {
		return http.StatusOK, ""
	}
	verb, subresource := requestAttributes(method, path)
	return http.StatusForbidden, fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=nodes, subresource=%s)", u.Name, verb, subresource)
}

// requestAttributes are the verb and nodes subresource a request would
// need, as upstream's nodeAuthorizerAttributesGetter (with the finer
// subresources of KubeletFineGrainedAuthz).
func requestAttributes(method, path string) (verb, subresource string) {
	switch method {
	case http.MethodPost:
		verb = "create"
	case http.MethodGet, http.MethodHead:
		verb = "get"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
	}
	subresource = "proxy"
	for prefix, sub := range map[string]string{"/stats": "stats", "/metrics": "metrics", "/logs": "log", "/pods": "pods", "/healthz": "healthz", "/configz": "configz"} {
		if path == prefix || strings.HasPrefix(path, prefix+"/") {
			subresource = sub
		}
	}
	return verb, subresource
}
