package apiserver

import (
	"net/http/httptest"
	"reflect"
	"testing"
)

func TestParseRequestInfo(t *testing.T) {
	tests := []struct {
		method, path string
		want         requestInfo
	}{
		{"GET", "/healthz", requestInfo{Path: "/healthz", Verb: "get"}},
		{"GET", "/api", requestInfo{Path: "/api", Verb: "get", APIPrefix: "api"}},
		{"GET", "/apis/apps", requestInfo{Path: "/apis/apps", Verb: "get", APIPrefix: "apis", APIGroup: "apps"}},
		{"GET", "/api/v1/pods", requestInfo{ResourceRequest: true, Path: "/api/v1/pods", Verb: "list", APIPrefix: "api", APIVersion: "v1", Resource: "pods", Parts: []string{"pods"}}},
		{"GET", "/api/v1/namespaces/ns1/pods/p1", requestInfo{ResourceRequest: true, Path: "/api/v1/namespaces/ns1/pods/p1", Verb: "get", APIPrefix: "api", APIVersion: "v1", Namespace: "ns1", Resource: "pods", Name: "p1", Parts: []string{"pods", "p1"}}},
		{"GET", "/api/v1/namespaces/ns1/pods?watch=true", requestInfo{ResourceRequest: true, Path: "/api/v1/namespaces/ns1/pods", Verb: "watch", APIPrefix: "api", APIVersion: "v1", Namespace: "ns1", Resource: "pods", Parts: []string{"pods"}}},
		{"POST", "/api/v1/namespaces/ns1/pods/p1/binding", requestInfo{ResourceRequest: true, Path: "/api/v1/namespaces/ns1/pods/p1/binding", Verb: "create", APIPrefix: "api", APIVersion: "v1", Namespace: "ns1", Resource: "pods", Name: "p1", Subresource: "binding", Parts: []string{"pods", "p1", "binding"}}},
		{"DELETE", "/apis/apps/v1/namespaces/ns1/deployments", requestInfo{ResourceRequest: true, Path: "/apis/apps/v1/namespaces/ns1/deployments", Verb: "deletecollection", APIPrefix: "apis", APIGroup: "apps", APIVersion: "v1", Namespace: "ns1", Resource: "deployments", Parts: []string{"deployments"}}},
		{"GET", "/api/v1/namespaces/ns1", requestInfo{ResourceRequest: true, Path: "/api/v1/namespaces/ns1", Verb: "get", APIPrefix: "api", APIVersion: "v1", Namespace: "ns1", Resource: "namespaces", Name: "ns1", Parts: []string{"namespaces", "ns1"}}},
		{"PUT", "/api/v1/namespaces/ns1/finalize", requestInfo{ResourceRequest: true, Path: "/api/v1/namespaces/ns1/finalize", Verb: "update", APIPrefix: "api", APIVersion: "v1", Namespace: "ns1", Resource: "namespaces", Name: "ns1", Subresource: "finalize", Parts: []string{"namespaces", "ns1", "finalize"}}},
		{"PATCH", "/api/v1/nodes/n1/status", requestInfo{ResourceRequest: true, Path: "/api/v1/nodes/n1/status", Verb: "patch", APIPrefix: "api", APIVersion: "v1", Resource: "nodes", Name: "n1", Subresource: "status", Parts: []string{"nodes", "n1", "status"}}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			got := parseRequestInfo(httptest.NewRequest(tt.method, tt.path, nil))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
