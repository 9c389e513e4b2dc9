package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// healthCheck is one named check of /healthz, /livez and /readyz.
type healthCheck struct {
	name  string
	check func(ctx context.Context) error
}

func (s *Server) healthChecks(readiness bool) []healthCheck {
	checks := []healthCheck{
		{"ping", func(context.Context) error { return nil }},
		{"etcd", func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			_, err := s.store.Revision(ctx)
			return err
		}},
	}
	if readiness {
		checks = append(checks, healthCheck{"bootstrap", func(context.Context) error {
			if !s.Ready() {
				return fmt.Errorf("not finished")
			}
			return nil
		}})
	}
	return checks
}

// Healthz runs the /readyz checks in process: nil when /readyz would
// answer ok, else the first failed check.
func (s *Server) Healthz(ctx context.Context) error {
	for _, c := range s.healthChecks(true) {
		if err := c.check(ctx); err != nil {
			return fmt.Errorf("%s check failed: %w", c.name, err)
		}
	}
	return nil
}

// serveHealth answers /healthz, /livez and /readyz (and /<path>/<check>)
// as upstream: "ok", or per-check lines with ?verbose.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	segs := splitPath(r.URL.Path)
	checks := s.healthChecks(segs[0] != "livez")
	if len(segs) == 2 {
		for _, c := range checks {
			if c.name == segs[1] {
				checks = []healthCheck{c}
				break
			}
		}
		if len(checks) != 1 || checks[0].name != segs[1] {
			http.NotFound(w, r)
			return
		}
	}
	_, verbose := r.URL.Query()["verbose"]
	exclude := map[string]bool{}
	for _, e := range r.URL.Query()["exclude"] {
		exclude[e] = true
	}
	var b strings.Builder
	failed := false
	for _, c := range checks {
		if exclude[c.name] {
			fmt.Fprintf(&b, "[+]%s excluded: ok\n", c.name)
			continue
		}
		if err := c.check(r.Context()); err != nil {
			failed = true
			fmt.Fprintf(&b, "[-]%s failed: reason withheld\n", c.name)
			s.cfg.Logger.Info("health check failed", "check", c.name, "err", err)
			continue
		}
		fmt.Fprintf(&b, "[+]%s ok\n", c.name)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if failed {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "%s%s check failed\n", b.String(), segs[0])
		return
	}
	if verbose {
		fmt.Fprintf(w, "%s%s check passed\n", b.String(), segs[0])
		return
	}
	fmt.Fprint(w, "ok")
}

func (s *Server) serveVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.cfg.Version)
}

// serveRootPaths lists the paths served, as upstream's "/" does.
func (s *Server) serveRootPaths(w http.ResponseWriter, r *http.Request) {
	paths := []string{"/api", "/api/v1", "/apis", "/healthz", "/livez", "/metrics", "/openapi/v2", "/openapi/v3", "/readyz", "/version"}
	for _, gv := range s.resources.groupVersions() {
		if gv.Group != "" {
			paths = append(paths, "/apis/"+gv.Group, "/apis/"+gv.String())
		}
	}
	sort.Strings(paths)
	writeJSON(w, http.StatusOK, &metav1.RootPaths{Paths: paths})
}
