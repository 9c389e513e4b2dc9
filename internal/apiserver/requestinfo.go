package apiserver

import (
	"net/http"
	"strings"
)

// requestInfo is what a request's method and path say about it.
type requestInfo struct {
	// ResourceRequest is false for non-resource paths such as /healthz.
	ResourceRequest bool
	Path            string
	// Verb is get, list, watch, create, update, patch, delete or
	// deletecollection for resource requests; the lowercased HTTP method
	// otherwise.
	Verb        string
	APIPrefix   string // "api" or "apis"
	APIGroup    string
	APIVersion  string
	Namespace   string
	Resource    string
	Subresource string
	Name        string
	// Parts are the path segments after the group version.
	Parts []string
}

// parseRequestInfo reads a request as upstream does:
//
//	/api/v1/namespaces/{ns}/{resource}/{name}/{subresource}
//	/apis/{group}/{version}/{resource}/{name}/{subresource}
//
// Anything else is a non-resource request.
func parseRequestInfo(r *http.Request) requestInfo {
	info := requestInfo{Path: r.URL.Path, Verb: strings.ToLower(r.Method)}
	segs := splitPath(r.URL.Path)
	if len(segs) < 1 || (segs[0] != "api" && segs[0] != "apis") {
		return info
	}
	info.APIPrefix = segs[0]
	segs = segs[1:]
	if info.APIPrefix == "api" {
		if len(segs) < 1 {
			return info
		}
		info.APIVersion, segs = segs[0], segs[1:]
	} else {
		if len(segs) < 2 {
			if len(segs) == 1 {
				info.APIGroup = segs[0]
			}
			return info
		}
		info.APIGroup, info.APIVersion, segs = segs[0], segs[1], segs[2:]
	}
	if len(segs) == 0 {
		return info
	}
	info.ResourceRequest = true
	// A namespace-scoped path, unless it addresses namespaces themselves
	// (/namespaces/{name}/status is the namespace's own subresource).
	if segs[0] == "namespaces" && len(segs) >= 2 {
		info.Namespace = segs[1]
		if len(segs) >= 3 && segs[2] != "status" && segs[2] != "finalize" {
			segs = segs[2:]
		}
	}
	info.Parts = segs
	info.Resource = segs[0]
	if len(segs) >= 2 {
		info.Name = segs[1]
	}
	if len(segs) >= 3 {
		info.Subresource = segs[2]
	}
	switch r.Method {
	case http.MethodPost:
		info.Verb = "create"
	case http.MethodGet, http.MethodHead:
		info.Verb = "get"
	case http.MethodPut:
		info.Verb = "update"
	case http.MethodPatch:
		info.Verb = "patch"
	case http.MethodDelete:
		info.Verb = "delete"
	}
	if info.Name == "" {
		switch info.Verb {
		case "get":
			info.Verb = "list"
		case "delete":
			info.Verb = "deletecollection"
		}
	}
	if info.Verb == "list" || info.Verb == "get" {
		if w := r.URL.Query().Get("watch"); w == "true" || w == "1" {
			info.Verb = "watch"
		}
	}
	return info
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}
