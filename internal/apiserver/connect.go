package apiserver

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/proxy"

	"github.com/skiff-sh/skiff/internal/auth"
)

// streamOptions are the streams an exec or attach asks for.
type streamOptions struct {
	Stdin, Stdout, Stderr, TTY bool
}

// kubeletQuery is the query upstream's streamParams sends the kubelet.
func (o streamOptions) kubeletQuery(command []string) url.Values {
	q := url.Values{}
	if o.Stdin {
		q.Set(corev1.ExecStdinParam, "1")
	}
	if o.Stdout {
		q.Set(corev1.ExecStdoutParam, "1")
	}
	if o.Stderr {
		q.Set(corev1.ExecStderrParam, "1")
	}
	if o.TTY {
		q.Set(corev1.ExecTTYParam, "1")
	}
	for _, c := range command {
		q.Add("command", c)
	}
	return q
}

func parseStreamOptions(q url.Values) streamOptions {
	return streamOptions{Stdin: queryBool(q, "stdin"), Stdout: queryBool(q, "stdout"), Stderr: queryBool(q, "stderr"), TTY: queryBool(q, "tty")}
}

// parsePorts reads a portforward request's ports; the kubelet gets them
// joined by commas.
func parsePorts(q url.Values) (string, error) {
	var ports []string
	for _, p := range q["ports"] {
		for _, one := range strings.Split(p, ",") {
			n, err := strconv.ParseInt(strings.TrimSpace(one), 10, 32)
			if err != nil {
				return "", badRequestf("%v", err)
			}
			ports = append(ports, strconv.FormatInt(n, 10))
		}
	}
	return strings.Join(ports, ","), nil
}

// proxyResponder writes a proxy's setup failures as Statuses.
type proxyResponder struct{}

func (proxyResponder) Error(w http.ResponseWriter, _ *http.Request, err error) {
	writeError(w, unknownError(err))
}

// stripCredentials keeps the caller's credentials from reaching the
// backend, as upstream's authentication filter does.
func stripCredentials(r *http.Request) {
	r.Header.Del("Authorization")
	for k := range r.Header {
		if strings.HasPrefix(strings.ToLower(k), "impersonate-") {
			r.Header.Del(k)
		}
	}
}

// authorizeCreate checks the create verb for a websocket (GET) exec,
// attach or portforward, as upstream's AuthorizePodWebsocketUpgradeCreatePermission:
// a policy that allows only get must not open a shell.
func (s *Server) authorizeCreate(r *http.Request, info *requestInfo) error {
	if info.Verb == "create" {
		return nil
	}
	attrs := auth.Attributes{User: userFrom(r.Context()), Verb: "create", APIGroup: info.APIGroup, APIVersion: info.APIVersion,
		Resource: info.Resource, Subresource: info.Subresource, Namespace: info.Namespace, Name: info.Name,
		Path: r.URL.Path, ResourceRequest: true}
	decision, reason, err := s.cfg.Authorizer.Authorize(r.Context(), attrs)
	if err != nil {
		return err
	}
	if decision != auth.DecisionAllow {
		return apierrors.NewForbidden(schema.GroupResource{Resource: info.Resource}, info.Name, errors.New(reason))
	}
	return nil
}

// servePodStream answers pods/exec, pods/attach and pods/portforward: it
// finds the pod's kubelet and proxies the upgraded connection to it, or,
// for kubectl's websocket protocols, translates them to the SPDY the
// kubelet speaks.
func (s *Server) servePodStream(w http.ResponseWriter, r *http.Request, info *requestInfo) error {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return apierrors.NewMethodNotSupported(schema.GroupResource{Resource: "pods/" + info.Subresource}, r.Method)
	}
	if err := s.authorizeCreate(r, info); err != nil {
		return err
	}
	q := r.URL.Query()
	pod, err := s.getPod(r.Context(), info.Namespace, info.Name)
	if err != nil {
		return err
	}
	var (
		path  string
		query url.Values
		opts  streamOptions
	)
	if info.Subresource == "portforward" {
		ports, err := parsePorts(q)
		if err != nil {
			return err
		}
		query = url.Values{}
		if ports != "" {
			query.Set(corev1.PortHeader, ports)
		}
		path = fmt.Sprintf("/portForward/%s/%s", pod.Namespace, pod.Name)
	} else {
		container, err := podContainer(pod, q.Get("container"))
		if err != nil {
			return err
		}
		opts = parseStreamOptions(q)
		var command []string
		if info.Subresource == "exec" {
			command = q["command"]
		}
		query = opts.kubeletQuery(command)
		path = fmt.Sprintf("/%s/%s/%s/%s", info.Subresource, pod.Namespace, pod.Name, container)
	}
	if pod.Spec.NodeName == "" {
		return badRequestf("pod %s does not have a host assigned", pod.Name)
	}
	loc, err := s.kubeletURL(r.Context(), pod.Spec.NodeName, path, query)
	if err != nil {
		return err
	}
	stripCredentials(r)
	switch {
	case info.Subresource != "portforward" && wsstream.IsWebSocketRequestWithStreamCloseProtocol(r):
		s.translateStream(w, r, loc, opts)
	case info.Subresource == "portforward" && wsstream.IsWebSocketRequestWithTunnelingProtocol(r):
		s.tunnelPortForward(w, r, loc)
	default:
		h := proxy.NewUpgradeAwareHandler(loc, s.kubelets.transport, false, true, proxyResponder{})
		h.ServeHTTP(w, r)
	}
	return nil
}

// serveNodeProxy proxies any request under nodes/{name}/proxy/ to the
// node's kubelet ({name}:{port} reaches another port of the node over
// plain HTTP, or over https with https:{name}:{port}).
func (s *Server) serveNodeProxy(w http.ResponseWriter, r *http.Request, info *requestInfo) error {
	scheme, name, port, valid := utilnet.SplitSchemeNamePort(info.Name)
	if !valid {
		return badRequestf("invalid node request %q", info.Name)
	}
	loc, err := s.kubeletURL(r.Context(), name, "", nil)
	if err != nil {
		return err
	}
	var transport http.RoundTripper = s.kubelets.transport
	if port != "" && port != loc.Port() {
		if scheme == "" {
			scheme = "http"
		}
		loc = &url.URL{Scheme: scheme, Host: strings.TrimSuffix(loc.Host, ":"+loc.Port()) + ":" + port}
		transport = s.kubelets.plain
	}
	s.proxyTo(w, r, loc, transport, info)
	return nil
}

// servePodProxy proxies any request under pods/{name}/proxy/ to the pod's
// IP ({name}:{port} picks the port; default the first declared one).
func (s *Server) servePodProxy(w http.ResponseWriter, r *http.Request, info *requestInfo) error {
	scheme, name, port, valid := utilnet.SplitSchemeNamePort(info.Name)
	if !valid {
		return badRequestf("invalid pod request %q", info.Name)
	}
	pod, err := s.getPod(r.Context(), info.Namespace, name)
	if err != nil {
		return err
	}
	if port == "" {
		for _, c := range pod.Spec.Containers {
			if len(c.Ports) > 0 {
				port = strconv.Itoa(int(c.Ports[0].ContainerPort))
				break
			}
		}
	}
	ip := ""
	if len(pod.Status.PodIPs) > 0 {
		ip = pod.Status.PodIPs[0].IP
	}
	if parsed := net.ParseIP(ip); parsed == nil || !parsed.IsGlobalUnicast() {
		return badRequestf("address not allowed")
	}
	if scheme == "" {
		scheme = "http"
	}
	host := ip
	if port != "" {
		host = net.JoinHostPort(ip, port)
	} else if strings.Contains(ip, ":") {
		host = "[" + ip + "]"
	}
	s.proxyTo(w, r, &url.URL{Scheme: scheme, Host: host}, s.kubelets.plain, info)
	return nil
}

// serveServiceProxy proxies any request under services/{name}/proxy/ to
// one of the service's ready endpoints ({scheme:}{name}{:port}, the port
// by name or number).
func (s *Server) serveServiceProxy(w http.ResponseWriter, r *http.Request, info *requestInfo) error {
	scheme, name, port, valid := utilnet.SplitSchemeNamePort(info.Name)
	if !valid {
		return badRequestf("invalid service request %q", info.Name)
	}
	obj, _, err := s.getObject(r.Context(), s.resources.lookup("", "v1", "services"), info.Namespace, name)
	if err != nil {
		return err
	}
	epsObj, _, err := s.getObject(r.Context(), s.resources.lookup("", "v1", "endpoints"), info.Namespace, name)
	if err != nil {
		return err
	}
	host, err := serviceEndpoint(obj.(*corev1.Service), epsObj.(*corev1.Endpoints), port)
	if err != nil {
		return err
	}
	if scheme == "" {
		scheme = "http"
	}
	s.proxyTo(w, r, &url.URL{Scheme: scheme, Host: host}, s.kubelets.plain, info)
	return nil
}

// serviceEndpoint picks the first ready address of the endpoints that
// serves the service port named (or numbered) port, as upstream's service
// ResourceLocation, which picks one at random.
func serviceEndpoint(svc *corev1.Service, eps *corev1.Endpoints, port string) (string, error) {
	if n, err := strconv.ParseInt(port, 10, 64); err == nil {
		found := false
		for _, p := range svc.Spec.Ports {
			if int64(p.Port) == n {
				port, found = p.Name, true
				break
			}
		}
		if !found {
			return "", apierrors.NewServiceUnavailable(fmt.Sprintf("no service port %d found for service %q", n, svc.Name))
		}
	}
	for _, ss := range eps.Subsets {
		if len(ss.Addresses) == 0 {
			continue
		}
		for _, p := range ss.Ports {
			if p.Name == port {
				return net.JoinHostPort(ss.Addresses[0].IP, strconv.Itoa(int(p.Port))), nil
			}
		}
	}
	return "", apierrors.NewServiceUnavailable(fmt.Sprintf("no endpoints available for service %q", svc.Name))
}

// proxyTo proxies r to base plus the path after .../proxy, keeping a
// trailing slash.
func (s *Server) proxyTo(w http.ResponseWriter, r *http.Request, base *url.URL, transport http.RoundTripper, info *requestInfo) {
	rest := ""
	if len(info.Parts) > 3 {
		rest = strings.Join(info.Parts[3:], "/")
	}
	loc := *base
	loc.Path = utilnet.JoinPreservingTrailingSlash("/", rest)
	if strings.HasSuffix(r.URL.Path, "/") && !strings.HasSuffix(loc.Path, "/") {
		loc.Path += "/"
	}
	stripCredentials(r)
	h := proxy.NewUpgradeAwareHandler(&loc, transport, true, false, proxyResponder{})
	h.ServeHTTP(w, r)
}
