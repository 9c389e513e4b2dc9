package apiserver

import (
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	apidiscoveryv2beta1 "k8s.io/api/apidiscovery/v2beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// subresource is one served subresource of a resource.
type subresource struct {
	Name  string
	Kind  schema.GroupVersionKind
	Verbs []string
}

// proxyVerbs are the verbs upstream lists for a proxy subresource.
var proxyVerbs = []string{"create", "delete", "get", "patch", "update"}

func (r *resource) subresources() []subresource {
	var out []subresource
	if r.Status {
		out = append(out, subresource{Name: "status", Kind: r.GVK, Verbs: []string{"get", "patch", "update"}})
	}
	if r.Scale {
		out = append(out, subresource{Name: "scale", Kind: gvk("autoscaling", "v1", "Scale"), Verbs: []string{"get", "patch", "update"}})
	}
	switch r.GroupResource() {
	case schema.GroupResource{Resource: "pods"}:
		out = append(out,
			subresource{Name: "attach", Kind: gvk("", "v1", "PodAttachOptions"), Verbs: []string{"create", "get"}},
			subresource{Name: "binding", Kind: gvk("", "v1", "Binding"), Verbs: []string{"create"}},
			subresource{Name: "eviction", Kind: gvk("policy", "v1", "Eviction"), Verbs: []string{"create"}},
			subresource{Name: "exec", Kind: gvk("", "v1", "PodExecOptions"), Verbs: []string{"create", "get"}},
			subresource{Name: "log", Kind: gvk("", "v1", "Pod"), Verbs: []string{"get"}},
			subresource{Name: "portforward", Kind: gvk("", "v1", "PodPortForwardOptions"), Verbs: []string{"create", "get"}},
			subresource{Name: "proxy", Kind: gvk("", "v1", "PodProxyOptions"), Verbs: proxyVerbs})
	case schema.GroupResource{Resource: "nodes"}:
		out = append(out, subresource{Name: "proxy", Kind: gvk("", "v1", "NodeProxyOptions"), Verbs: proxyVerbs})
	case schema.GroupResource{Resource: "services"}:
		out = append(out, subresource{Name: "proxy", Kind: gvk("", "v1", "ServiceProxyOptions"), Verbs: proxyVerbs})
	case schema.GroupResource{Resource: "namespaces"}:
		out = append(out, subresource{Name: "finalize", Kind: r.GVK, Verbs: []string{"update"}})
	}
	return out
}

func (s *Server) resourceList(gv schema.GroupVersion) *metav1.APIResourceList {
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	for _, r := range s.resources.all {
		if r.GroupVersion() != gv {
			continue
		}
		list.APIResources = append(list.APIResources, metav1.APIResource{
			Name: r.Plural, SingularName: r.Singular, Namespaced: r.Namespaced, Kind: r.GVK.Kind,
			Verbs: r.verbs(), ShortNames: r.ShortNames, Categories: r.Categories,
		})
		for _, sub := range r.subresources() {
			list.APIResources = append(list.APIResources, metav1.APIResource{
				Name: r.Plural + "/" + sub.Name, Namespaced: r.Namespaced, Group: sub.Kind.Group,
				Version: sub.Kind.Version, Kind: sub.Kind.Kind, Verbs: sub.Verbs,
			})
		}
	}
	return list
}

func (s *Server) apiGroup(group string) *metav1.APIGroup {
	var g *metav1.APIGroup
	for _, gv := range s.resources.groupVersions() {
		if gv.Group != group {
			continue
		}
		v := metav1.GroupVersionForDiscovery{GroupVersion: gv.String(), Version: gv.Version}
		if g == nil {
			g = &metav1.APIGroup{TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}, Name: group, PreferredVersion: v}
		}
		g.Versions = append(g.Versions, v)
	}
	return g
}

// discoveryVersion returns "v2" or "v2beta1" when the client accepts
// aggregated discovery, and "" when it wants the legacy documents.
func discoveryVersion(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || mt != "application/json" {
			continue
		}
		if params["g"] == "apidiscovery.k8s.io" && params["as"] == "APIGroupDiscoveryList" && (params["v"] == "v2" || params["v"] == "v2beta1") {
			return params["v"]
		}
		if params["as"] == "" {
			return ""
		}
	}
	return ""
}

// aggregated builds the aggregated discovery document of the core group
// (legacy=true) or of all named groups.
func (s *Server) aggregated(legacy bool) *apidiscoveryv2.APIGroupDiscoveryList {
	out := &apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
	index := map[string]int{}
	for _, gv := range s.resources.groupVersions() {
		if (gv.Group == "") != legacy {
			continue
		}
		i, ok := index[gv.Group]
		if !ok {
			i = len(out.Items)
			index[gv.Group] = i
			out.Items = append(out.Items, apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: gv.Group}})
		}
		v := apidiscoveryv2.APIVersionDiscovery{Version: gv.Version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}
		for _, r := range s.resources.all {
			if r.GroupVersion() != gv {
				continue
			}
			scope := apidiscoveryv2.ScopeCluster
			if r.Namespaced {
				scope = apidiscoveryv2.ScopeNamespace
			}
			rd := apidiscoveryv2.APIResourceDiscovery{
				Resource: r.Plural, SingularResource: r.Singular, Scope: scope, Verbs: r.verbs(),
				ShortNames: r.ShortNames, Categories: r.Categories,
				ResponseKind: &metav1.GroupVersionKind{Group: r.GVK.Group, Version: r.GVK.Version, Kind: r.GVK.Kind},
			}
			for _, sub := range r.subresources() {
				rd.Subresources = append(rd.Subresources, apidiscoveryv2.APISubresourceDiscovery{
					Subresource: sub.Name, Verbs: sub.Verbs,
					ResponseKind: &metav1.GroupVersionKind{Group: sub.Kind.Group, Version: sub.Kind.Version, Kind: sub.Kind.Kind},
				})
			}
			v.Resources = append(v.Resources, rd)
		}
		out.Items[i].Versions = append(out.Items[i].Versions, v)
	}
	return out
}

func writeAggregated(w http.ResponseWriter, version string, list *apidiscoveryv2.APIGroupDiscoveryList) {
	var body any = list
	if version == "v2beta1" {
		// The two versions have the same shape; only the apiVersion differs.
		data, _ := json.Marshal(list)
		var beta apidiscoveryv2beta1.APIGroupDiscoveryList
		_ = json.Unmarshal(data, &beta)
		beta.APIVersion = "apidiscovery.k8s.io/v2beta1"
		body = &beta
	}
	data, err := json.Marshal(body)
	if err != nil {
		writeError(w, err)
		return
	}
	writeRaw(w, http.StatusOK, "application/json;g=apidiscovery.k8s.io;v="+version+";as=APIGroupDiscoveryList", data)
}

// serveDiscovery answers /api, /apis and their group and version paths.
// It reports false when the path is not a discovery path.
func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request, info *requestInfo) bool {
	if info.ResourceRequest {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, apierrors.NewMethodNotSupported(schema.GroupResource{}, r.Method))
		return true
	}
	segs := splitPath(r.URL.Path)
	switch {
	case len(segs) == 1 && segs[0] == "api":
		if v := discoveryVersion(r); v != "" {
			writeAggregated(w, v, s.aggregated(true))
			return true
		}
		writeJSON(w, http.StatusOK, &metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: s.serverAddress(r)}},
		})
	case len(segs) == 1 && segs[0] == "apis":
		if v := discoveryVersion(r); v != "" {
			writeAggregated(w, v, s.aggregated(false))
			return true
		}
		list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}, Groups: []metav1.APIGroup{}}
		seen := map[string]bool{}
		for _, gv := range s.resources.groupVersions() {
			if gv.Group == "" || seen[gv.Group] {
				continue
			}
			seen[gv.Group] = true
			list.Groups = append(list.Groups, *s.apiGroup(gv.Group))
		}
		writeJSON(w, http.StatusOK, list)
	case len(segs) == 2 && segs[0] == "api" && segs[1] == "v1":
		writeJSON(w, http.StatusOK, s.resourceList(schema.GroupVersion{Version: "v1"}))
	case len(segs) == 2 && segs[0] == "apis":
		g := s.apiGroup(segs[1])
		if g == nil {
			writeError(w, apierrors.NewNotFound(schema.GroupResource{}, ""))
			return true
		}
		writeJSON(w, http.StatusOK, g)
	case len(segs) == 3 && segs[0] == "apis":
		gv := schema.GroupVersion{Group: segs[1], Version: segs[2]}
		list := s.resourceList(gv)
		if len(list.APIResources) == 0 {
			writeError(w, apierrors.NewNotFound(schema.GroupResource{}, ""))
			return true
		}
		writeJSON(w, http.StatusOK, list)
	default:
		writeError(w, apierrors.NewNotFound(schema.GroupResource{}, ""))
	}
	return true
}

func (s *Server) serverAddress(r *http.Request) string {
	if s.cfg.AdvertiseAddress != nil {
		return net.JoinHostPort(s.cfg.AdvertiseAddress.String(), itoa(int64(s.cfg.Port)))
	}
	return r.Host
}
