package apiserver

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/skiff-sh/skiff/internal/auth"
)

type ctxKey int

const (
	userKey ctxKey = iota
	infoKey
)

func userFrom(ctx context.Context) *auth.User {
	u, _ := ctx.Value(userKey).(*auth.User)
	return u
}

func schemaGroupResource(resource string) schema.GroupResource {
	return schema.GroupResource{Resource: resource}
}

// publicPaths are served to anonymous callers, as upstream's
// system:public-info-viewer role allows.
func publicPath(p string) bool {
	for _, pub := range []string{"/healthz", "/livez", "/readyz", "/version"} {
		if p == pub || strings.HasPrefix(p, pub+"/") {
			return true
		}
	}
	return false
}

// withAuth authenticates, then authorizes, every request.
func (s *Server) withAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := parseRequestInfo(r)
		var user *auth.User
		if s.cfg.Authenticator != nil {
			u, ok, err := s.cfg.Authenticator.Authenticate(r)
			if err != nil {
				s.cfg.Logger.Debug("authentication failed", "err", err)
			}
			if ok {
				user = u
			}
		}
		if user == nil {
			if !publicPath(r.URL.Path) {
				writeError(w, apierrors.NewUnauthorized("Unauthorized"))
				return
			}
			user = auth.AnonymousUser()
		}
		ctx := context.WithValue(r.Context(), userKey, user)
		ctx = context.WithValue(ctx, infoKey, &info)
		if !publicPath(r.URL.Path) {
			attrs := auth.Attributes{
				User: user, Verb: info.Verb, APIGroup: info.APIGroup, APIVersion: info.APIVersion,
				Resource: info.Resource, Subresource: info.Subresource, Namespace: info.Namespace,
				Name: info.Name, Path: r.URL.Path, ResourceRequest: info.ResourceRequest,
			}
			decision, reason, err := s.cfg.Authorizer.Authorize(ctx, attrs)
			if err != nil || decision != auth.DecisionAllow {
				// Upstream's RBAC gives no reason, so its message has none;
				// the reason goes to the log instead.
				msg := auth.ForbiddenMessage(attrs)
				s.cfg.Logger.Debug("forbidden", "user", user.Name, "verb", info.Verb, "resource", info.Resource, "reason", reason)
				gr := schema.GroupResource{Group: info.APIGroup, Resource: info.Resource}
				st := apierrors.NewForbidden(gr, info.Name, fmt.Errorf("%s", reason))
				st.ErrStatus.Message = msg
				writeError(w, st)
				return
			}
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// statusRecorder remembers the response code for logs and metrics.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Hijack hands the connection to an upgrade (exec, attach, port-forward,
// proxied websockets), which then owns it: it is logged as 101.
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil && r.code == 0 {
		r.code = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}

// withObservability counts, times and (optionally) logs each request.
func (s *Server) withObservability(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.cfg.Clock.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		info := parseRequestInfo(r)
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		elapsed := s.cfg.Clock.Since(start)
		resource := info.Resource
		if info.Subresource != "" {
			resource += "/" + info.Subresource
		}
		s.metrics.observeRequest(info.Verb, info.APIGroup, resource, code, elapsed)
		if s.cfg.LogRequests {
			user := ""
			if u := userFrom(r.Context()); u != nil {
				user = u.Name
			}
			s.cfg.Logger.Info("request", "verb", info.Verb, "path", r.URL.Path, "resource", resource,
				"namespace", info.Namespace, "name", info.Name, "user", user, "code", code,
				"latency", elapsed.Round(time.Microsecond).String())
		}
	})
}

// withRecovery turns a handler panic into a 500 instead of a dead connection.
func (s *Server) withRecovery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.cfg.Logger.Error("panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(v))
				writeError(w, apierrors.NewInternalError(fmt.Errorf("%v", v)))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
