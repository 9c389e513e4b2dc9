package apiserver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestIntegrationBadInput sends malformed and invalid requests and checks
// both the answer and that nothing was written: its subtests run one at a
// time on a server of their own, so the store's revision must not move.
func TestIntegrationBadInput(t *testing.T) {
	t.Parallel()
	s := testserver.Start(t, testserver.Options{})
	c := s.Client(t)
	ns := newNamespace(t, c)
	if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("existing", nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AppsV1().Deployments(ns).Create(bg(), testDeployment("dep"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := c.CoreV1().Services(ns).Create(bg(), nodePortService("svc", 80), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	// noWrite runs f and fails if the store's revision moved.
	noWrite := func(t *testing.T, f func()) {
		t.Helper()
		before := revision(t, c)
		f()
		if after := revision(t, c); after != before {
			t.Errorf("an error path wrote: revision %d → %d", before, after)
		}
	}
	// raw sends a request and checks the Status it gets.
	raw := func(t *testing.T, method, path, ct string, body []byte, code int32, reason metav1.StatusReason) metav1.Status {
		t.Helper()
		var st metav1.Status
		noWrite(t, func() {
			r := rawDo(t, s.Config, method, path, ct, body)
			if err := json.Unmarshal(r.body, &st); err != nil {
				t.Fatalf("%s %s: %d, body not a Status: %q", method, path, r.code, r.body)
			}
			if int32(r.code) != code || st.Code != code || st.Reason != reason || st.Kind != "Status" || st.Status != metav1.StatusFailure {
				t.Errorf("%s %s: %d %s (%q), want %d %s", method, path, r.code, st.Reason, st.Message, code, reason)
			}
		})
		return st
	}
	cmPath := "/api/v1/namespaces/" + ns + "/configmaps"
	podPath := "/api/v1/namespaces/" + ns + "/pods"

	t.Run("MalformedJSON", func(t *testing.T) {
		raw(t, "POST", cmPath, "application/json", []byte(`{not json`), 400, metav1.StatusReasonBadRequest)
		raw(t, "POST", cmPath, "application/json", []byte(``), 400, metav1.StatusReasonBadRequest)
		raw(t, "PUT", cmPath+"/existing", "application/json", []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":`), 400, metav1.StatusReasonBadRequest)
		raw(t, "POST", cmPath, "application/json", []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"a":1}}`), 400, metav1.StatusReasonBadRequest)
		raw(t, "POST", cmPath, "application/yaml", []byte("a: [b"), 400, metav1.StatusReasonBadRequest)
		raw(t, "POST", cmPath, "application/vnd.kubernetes.protobuf", []byte("garbage"), 400, metav1.StatusReasonBadRequest)
		raw(t, "PATCH", cmPath+"/existing", "application/merge-patch+json", []byte(`{not json`), 400, metav1.StatusReasonBadRequest)
		raw(t, "PATCH", cmPath+"/existing", "application/json-patch+json", []byte(`{"op":"add"}`), 400, metav1.StatusReasonBadRequest)
		raw(t, "PATCH", cmPath+"/existing", "application/strategic-merge-patch+json", []byte(`[1,2]`), 400, metav1.StatusReasonBadRequest)
		// The JSON patch library panics on a test op without a value (found by FuzzApplyPatch).
		raw(t, "PATCH", cmPath+"/existing", "application/json-patch+json", []byte(`[{"op":"test","path":""}]`), 400, metav1.StatusReasonBadRequest)
		raw(t, "DELETE", cmPath+"/existing", "application/json", []byte(`{not json`), 400, metav1.StatusReasonBadRequest)
	})

	t.Run("UnknownResource", func(t *testing.T) {
		for _, p := range []string{
			"/api/v1/namespaces/" + ns + "/foos",
			"/api/v1/foos",
			"/apis/nope.example.com/v1/things",
			"/apis/apps/v2/deployments",
			"/api/v1/namespaces/" + ns + "/configmaps/existing/nosuchsub",
			"/api/v1/namespaces/" + ns + "/nodes",
			"/nothing/here",
		} {
			st := raw(t, "GET", p, "", nil, 404, metav1.StatusReasonNotFound)
			if st.Message != "the server could not find the requested resource" {
				t.Errorf("GET %s message = %q", p, st.Message)
			}
		}
		raw(t, "POST", "/api/v1/namespaces/"+ns+"/foos", "application/json", []byte(`{}`), 404, metav1.StatusReasonNotFound)
	})

	t.Run("KindMismatch", func(t *testing.T) {
		raw(t, "POST", cmPath, "application/json", []byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}`), 400, metav1.StatusReasonBadRequest)
		raw(t, "POST", cmPath, "application/json", []byte(`{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"x"}}`), 400, metav1.StatusReasonBadRequest)
		raw(t, "POST", "/apis/apps/v1/namespaces/"+ns+"/deployments", "application/json",
			[]byte(`{"apiVersion":"apps/v1beta1","kind":"Deployment","metadata":{"name":"x"}}`), 400, metav1.StatusReasonBadRequest)
		raw(t, "PUT", cmPath+"/existing", "application/json", []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"existing"}}`), 400, metav1.StatusReasonBadRequest)
		// Namespace in the body differs from the URL's.
		st := raw(t, "POST", cmPath, "application/json", []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"other"}}`), 400, metav1.StatusReasonBadRequest)
		if st.Message != "the namespace of the provided object does not match the namespace sent on the request" {
			t.Errorf("namespace mismatch message = %q", st.Message)
		}
		// Name in the body differs from the URL's.
		raw(t, "PUT", cmPath+"/existing", "application/json", []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other"}}`), 400, metav1.StatusReasonBadRequest)
	})

	t.Run("TooLarge", func(t *testing.T) {
		big := bytes.Repeat([]byte("x"), 3*1024*1024+1)
		body := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"` + string(big) + `"}}`)
		st := raw(t, "POST", cmPath, "application/json", body, 413, metav1.StatusReasonRequestEntityTooLarge)
		if st.Message != "Request entity too large: limit is 3145728" {
			t.Errorf("413 message = %q", st.Message)
		}
		raw(t, "PUT", cmPath+"/existing", "application/json", body, 413, metav1.StatusReasonRequestEntityTooLarge)
		raw(t, "PATCH", cmPath+"/existing", "application/merge-patch+json", body, 413, metav1.StatusReasonRequestEntityTooLarge)
		// Just under the limit is fine as a body, but a ConfigMap over 1 MiB is invalid.
		under := []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"` + string(bytes.Repeat([]byte("x"), 2*1024*1024)) + `"}}`)
		raw(t, "POST", cmPath, "application/json", under, 422, metav1.StatusReasonInvalid)
	})

	t.Run("Invalid", func(t *testing.T) {
		pod := `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"Bad_Name","labels":{"bad key!":"v"}},
			"spec":{"restartPolicy":"Sometimes","containers":[{"name":"c"},{"name":"c","image":"x"}]}}`
		st := raw(t, "POST", podPath, "application/json", []byte(pod), 422, metav1.StatusReasonInvalid)
		if st.Details == nil || st.Details.Kind != "Pod" || st.Details.Name != "Bad_Name" {
			t.Fatalf("details = %+v", st.Details)
		}
		fields := map[string]bool{}
		for _, cause := range st.Details.Causes {
			fields[cause.Field] = true
		}
		for _, f := range []string{"metadata.name", "metadata.labels", "spec.restartPolicy", "spec.containers[0].image", "spec.containers[1].name"} {
			if !fields[f] {
				t.Errorf("no cause for %s in %+v", f, st.Details.Causes)
			}
		}
		if !strings.HasPrefix(st.Message, `Pod "Bad_Name" is invalid: [`) {
			t.Errorf("message = %q", st.Message)
		}
		// Missing name.
		st = raw(t, "POST", cmPath, "application/json", []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{}}`), 422, metav1.StatusReasonInvalid)
		if len(st.Details.Causes) != 1 || st.Details.Causes[0].Field != "metadata.name" || st.Details.Causes[0].Type != metav1.CauseTypeFieldValueRequired {
			t.Errorf("missing name causes = %+v", st.Details.Causes)
		}
		// Through the typed client: invalid update and patch.
		noWrite(t, func() {
			d, err := c.AppsV1().Deployments(ns).Get(bg(), "dep", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			d.Spec.Selector.MatchLabels = map[string]string{"app": "changed"}
			_, err = c.AppsV1().Deployments(ns).Update(bg(), d, metav1.UpdateOptions{})
			st := wantStatus(t, err, 422, metav1.StatusReasonInvalid)
			if st.Details == nil || st.Details.Group != "apps" || st.Details.Kind != "Deployment" {
				t.Errorf("details = %+v", st.Details)
			}
			_, err = c.AppsV1().Deployments(ns).Patch(bg(), "dep", types.JSONPatchType, []byte(`[{"op":"replace","path":"/spec/template/spec/containers","value":[]}]`), metav1.PatchOptions{})
			wantStatus(t, err, 422, metav1.StatusReasonInvalid)
			_, err = c.CoreV1().Pods(ns).Create(bg(), &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}}, metav1.CreateOptions{})
			wantStatus(t, err, 422, metav1.StatusReasonInvalid)
		})
	})

	t.Run("ConflictsAndMissing", func(t *testing.T) {
		noWrite(t, func() {
			cm, _ := c.CoreV1().ConfigMaps(ns).Get(bg(), "existing", metav1.GetOptions{})
			stale := cm.DeepCopy()
			stale.ResourceVersion = "1"
			_, err := c.CoreV1().ConfigMaps(ns).Update(bg(), stale, metav1.UpdateOptions{})
			wantStatus(t, err, 409, metav1.StatusReasonConflict)
			_, err = c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap("existing", nil), metav1.CreateOptions{})
			wantStatus(t, err, 409, metav1.StatusReasonAlreadyExists)
			_, err = c.CoreV1().ConfigMaps("missing-ns").Create(bg(), testConfigMap("x", nil), metav1.CreateOptions{})
			wantStatus(t, err, 404, metav1.StatusReasonNotFound)
			err = c.CoreV1().ConfigMaps(ns).Delete(bg(), "missing", metav1.DeleteOptions{})
			wantStatus(t, err, 404, metav1.StatusReasonNotFound)
			uid := types.UID("nope")
			err = c.CoreV1().ConfigMaps(ns).Delete(bg(), "existing", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}})
			wantStatus(t, err, 409, metav1.StatusReasonConflict)
			_, err = c.CoreV1().ConfigMaps(ns).Patch(bg(), "missing", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{})
			wantStatus(t, err, 404, metav1.StatusReasonNotFound)
			// A taken node port, a taken address.
			taken := nodePortService("taken", 80)
			taken.Spec.Ports[0].NodePort = svc.Spec.Ports[0].NodePort
			_, err = c.CoreV1().Services(ns).Create(bg(), taken, metav1.CreateOptions{})
			wantStatus(t, err, 422, metav1.StatusReasonInvalid)
			taken = nodePortService("taken", 80)
			taken.Spec.ClusterIP = svc.Spec.ClusterIP
			_, err = c.CoreV1().Services(ns).Create(bg(), taken, metav1.CreateOptions{})
			wantStatus(t, err, 422, metav1.StatusReasonInvalid)
			// A valid service with one bad port and one free one takes nothing.
			mixed := nodePortService("mixed", 80, 81)
			mixed.Spec.Ports[0].NodePort = 31999
			mixed.Spec.Ports[1].NodePort = svc.Spec.Ports[0].NodePort
			_, err = c.CoreV1().Services(ns).Create(bg(), mixed, metav1.CreateOptions{})
			wantStatus(t, err, 422, metav1.StatusReasonInvalid)
		})
		// 31999 is still free.
		free := nodePortService("free", 80)
		free.Spec.Ports[0].NodePort = 31999
		if _, err := c.CoreV1().Services(ns).Create(bg(), free, metav1.CreateOptions{}); err != nil {
			t.Errorf("a failed create kept a port: %v", err)
		}
	})

	t.Run("BadParameters", func(t *testing.T) {
		raw(t, "GET", cmPath+"?labelSelector=a%3D%28", "", nil, 400, metav1.StatusReasonBadRequest)
		raw(t, "GET", cmPath+"?limit=-1", "", nil, 400, metav1.StatusReasonBadRequest)
		// ListOptions that upstream's validation refuses: 422 on ListOptions.
		for _, q := range []string{
			"resourceVersionMatch=Sometime&resourceVersion=1",
			"resourceVersionMatch=Exact",
			"resourceVersionMatch=Exact&resourceVersion=0",
			"sendInitialEvents=true&resourceVersionMatch=NotOlderThan&resourceVersion=1",
			"watch=true&resourceVersionMatch=NotOlderThan&resourceVersion=1",
			"watch=true&sendInitialEvents=true",
			"watch=true&sendInitialEvents=true&resourceVersionMatch=Exact&resourceVersion=1",
			"watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&limit=5",
		} {
			st := raw(t, "GET", cmPath+"?"+q, "", nil, 422, metav1.StatusReasonInvalid)
			if st.Details == nil || st.Details.Kind != "ListOptions" || st.Details.Group != "meta.k8s.io" {
				t.Errorf("%s: details %+v", q, st.Details)
			}
		}
		raw(t, "GET", cmPath+"?resourceVersion=abc", "", nil, 400, metav1.StatusReasonBadRequest)
		raw(t, "POST", cmPath+"?dryRun=Partly", "application/json", []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}`), 400, metav1.StatusReasonBadRequest)
		raw(t, "DELETE", cmPath+"/existing?gracePeriodSeconds=soon", "", nil, 400, metav1.StatusReasonBadRequest)
		raw(t, "DELETE", cmPath+"/existing?propagationPolicy=Sideways", "", nil, 422, metav1.StatusReasonInvalid)
	})

	t.Run("MethodNotAllowed", func(t *testing.T) {
		raw(t, "POST", cmPath+"/existing", "application/json", []byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"existing"}}`), 405, metav1.StatusReasonMethodNotAllowed)
		raw(t, "DELETE", "/api/v1/namespaces", "", nil, 405, metav1.StatusReasonMethodNotAllowed)
		raw(t, "PUT", cmPath, "application/json", []byte(`{}`), 405, metav1.StatusReasonMethodNotAllowed)
	})

	t.Run("NotAcceptable", func(t *testing.T) {
		noWrite(t, func() {
			hc, err := httpClient(s)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("GET", s.Config.Host+cmPath, nil)
			req.Header.Set("Accept", "text/html")
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 406 {
				t.Errorf("Accept text/html: %d", resp.StatusCode)
			}
		})
	})

	t.Run("WriteThenNothing", func(t *testing.T) {
		// The check itself works: a real write moves the revision.
		before := revision(t, c)
		if _, err := c.CoreV1().ConfigMaps(ns).Create(bg(), testConfigMap(fmt.Sprintf("w%d", before), nil), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if revision(t, c) == before {
			t.Errorf("revision did not move on a write")
		}
		// And a no-op update writes nothing, as upstream.
		cm, _ := c.CoreV1().ConfigMaps(ns).Get(bg(), "existing", metav1.GetOptions{})
		noWrite(t, func() {
			got, err := c.CoreV1().ConfigMaps(ns).Update(bg(), cm, metav1.UpdateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got.ResourceVersion != cm.ResourceVersion {
				t.Errorf("no-op update moved resourceVersion %s → %s", cm.ResourceVersion, got.ResourceVersion)
			}
			if _, err := c.CoreV1().ConfigMaps(ns).Patch(bg(), "existing", types.MergePatchType, []byte(`{}`), metav1.PatchOptions{}); err != nil {
				t.Fatal(err)
			}
		})
	})
}
