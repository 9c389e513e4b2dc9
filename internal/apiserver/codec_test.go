package apiserver

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestWithResourceVersion(t *testing.T) {
	tests := []struct{ stored, want string }{
		{`{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a"}}`, `{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"42","name":"a"}}`},
		{`{"kind":"Pod","apiVersion":"v1","metadata":{}}`, `{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"42"}}`},
		{`{"kind":"X"}`, `{"kind":"X"}`},
	}
	for _, tt := range tests {
		if got := string(withResourceVersion([]byte(tt.stored), 42)); got != tt.want {
			t.Errorf("withResourceVersion(%s) = %s, want %s", tt.stored, got, tt.want)
		}
	}
}

// The stored form drops resourceVersion, and reading it back with the
// revision gives the object the client saw.
func TestStoredRoundTrip(t *testing.T) {
	res := newResourceTable(servedResources()).lookup("", "v1", "pods")
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "n", ResourceVersion: "7", Labels: map[string]string{"x": "y"}}}
	data, err := encodeForStorage(res, pod)
	if err != nil {
		t.Fatal(err)
	}
	var probe map[string]map[string]any
	_ = json.Unmarshal(data, &probe)
	if _, ok := probe["metadata"]["resourceVersion"]; ok {
		t.Errorf("stored form has a resourceVersion: %s", data)
	}
	if pod.ResourceVersion != "7" {
		t.Errorf("encoding changed the caller's object")
	}
	obj, err := decodeStored(res, data, 9)
	if err != nil {
		t.Fatal(err)
	}
	got := obj.(*corev1.Pod)
	if got.ResourceVersion != "9" || got.Labels["x"] != "y" || got.Kind != "Pod" {
		t.Errorf("decoded %+v", got)
	}
	var spliced corev1.Pod
	if err := json.Unmarshal(withResourceVersion(data, 9), &spliced); err != nil || spliced.ResourceVersion != "9" {
		t.Errorf("spliced form: %v %q", err, spliced.ResourceVersion)
	}
}

func TestWithoutTypeMeta(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a"}}`, `{"metadata":{"name":"a"}}`},
		{`{"kind":"Deployment","apiVersion":"apps/v1","metadata":{}}`, `{"metadata":{}}`},
		{`{"metadata":{}}`, `{"metadata":{}}`},
		{`{"kind":"Pod","apiVersion":"v1"}`, `{"kind":"Pod","apiVersion":"v1"}`},
	}
	for _, tt := range tests {
		if got := string(withoutTypeMeta([]byte(tt.in))); got != tt.want {
			t.Errorf("withoutTypeMeta(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		accept  string
		want    output
		wantErr bool
	}{
		{"", output{}, false},
		{"application/json", output{}, false},
		{"*/*", output{}, false},
		{"application/yaml", output{yaml: true}, false},
		{"application/vnd.kubernetes.protobuf,application/json", output{proto: true}, false},
		{"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json", output{table: true}, false},
		{"application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json", output{partial: true}, false},
		{"application/json;as=Table;v=v9;g=meta.k8s.io,application/json", output{}, false},
		{"text/html", output{}, true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/api/v1/pods", nil)
		r.Header.Set("Accept", tt.accept)
		got, err := negotiate(r)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("negotiate(%q) = %+v, %v; want %+v, err=%v", tt.accept, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestContinueToken(t *testing.T) {
	tok := encodeContinue(12, "ns/name\x00")
	got, err := decodeContinue(tok)
	if err != nil || got.ResourceVersion != 12 || got.StartKey != "ns/name\x00" {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for _, bad := range []string{"!!", "e30", encodeContinue(0, "x")} {
		if _, err := decodeContinue(bad); err == nil {
			t.Errorf("decodeContinue(%q) accepted", bad)
		}
	}
}
