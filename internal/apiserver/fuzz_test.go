package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/defaults"
	"github.com/skiff-sh/skiff/internal/validation"
)

// Fuzz targets for the paths a request body takes. Run one with e.g.
//
//	go test ./internal/apiserver -run '^$' -fuzz FuzzDecodeObject -fuzztime 30s
//
// As plain tests they run their seed corpus.

const fuzzPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default","labels":{"a":"b"}},
"spec":{"containers":[{"name":"c","image":"busybox","ports":[{"containerPort":80}],"env":[{"name":"A","value":"1"}]}],
"volumes":[{"name":"v","emptyDir":{}}],"restartPolicy":"Always"}}`

// fuzzResources are the kinds the fuzzers decode into.
func fuzzResources() []*resource {
	var out []*resource
	for _, r := range servedResources() {
		switch r.Plural {
		case "pods", "configmaps", "services", "deployments", "events", "namespaces":
			out = append(out, r)
		}
	}
	return out
}

// isStatus says err is an API status of one of the given codes.
func isStatus(err error, codes ...int32) bool {
	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return false
	}
	for _, c := range codes {
		if st.Status().Code == c {
			return true
		}
	}
	return false
}

// FuzzDecodeObject feeds request bodies (JSON, YAML, protobuf) through
// readBody and decodeObject: they must not panic, must fail only with a
// 400 or 413, and what decodes must have the resource's kind and survive
// a JSON round trip.
func FuzzDecodeObject(f *testing.F) {
	for _, seed := range []struct {
		ct   string
		data string
	}{
		{"application/json", fuzzPod},
		{"application/json", `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"a":"b"}}`},
		{"application/json", `{"kind":"Service","spec":{"ports":[{"port":80,"targetPort":"http"}],"type":"NodePort"}}`},
		{"application/json", `{"apiVersion":"apps/v1","kind":"Deployment","spec":{"replicas":2,"strategy":{"rollingUpdate":{"maxSurge":"25%"}}}}`},
		{"application/json", `{"metadata":{"name":"x","name":"y"},"spec":{"foo":1}}`},
		{"application/json", `{"apiVersion":"v1","kind":"Secret"}`},
		{"application/json", `{not json`},
		{"application/json", `[]`},
		{"application/json", `{"metadata":{"creationTimestamp":"yesterday"}}`},
		{"application/json", `{"spec":{"containers":[{"resources":{"limits":{"cpu":"1.5.5"}}}]}}`},
		{"application/yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\ndata:\n  k: v\n"},
		{"application/yaml", "a: [b"},
		{"application/vnd.kubernetes.protobuf", "k8s\x00\n\x0c\n\x02v1\x12\x06Secret\x12\x00\x1a\x00\"\x00"},
		{"application/vnd.kubernetes.protobuf", "garbage"},
	} {
		for i := range fuzzResources() {
			f.Add(seed.ct, []byte(seed.data), uint8(i), uint8(i%3))
		}
	}
	resources := fuzzResources()
	wr := newWire()
	f.Fuzz(func(t *testing.T, ct string, data []byte, which, validation uint8) {
		res := resources[int(which)%len(resources)]
		fv := []fieldValidation{validationIgnore, validationWarn, validationStrict}[int(validation)%3]
		r, err := http.NewRequest("POST", "/", bytes.NewReader(data))
		if err != nil {
			t.Skip()
		}
		r.Header.Set("Content-Type", ct)
		b, err := readBody(r)
		if err != nil {
			if !isStatus(err, 400, 413) {
				t.Fatalf("readBody: %T %v", err, err)
			}
			return
		}
		obj, _, err := wr.decodeObject(res, b, fv)
		if err != nil {
			if !isStatus(err, 400) {
				t.Fatalf("decodeObject(%s): want a 400, got %T %v", res.Plural, err, err)
			}
			return
		}
		if gvk := obj.GetObjectKind().GroupVersionKind(); gvk != res.GVK {
			t.Fatalf("decoded %s as %v", res.Plural, gvk)
		}
		// What the server would store decodes back to the same object.
		stored, err := encodeForStorage(res, obj)
		if err != nil {
			t.Fatalf("encodeForStorage: %v", err)
		}
		back, err := decodeStored(res, stored, 0)
		if err != nil {
			t.Fatalf("stored form does not decode: %v\n%s", err, stored)
		}
		again, err := encodeForStorage(res, back)
		if err != nil || !bytes.Equal(stored, again) {
			t.Fatalf("stored form is not stable:\n%s\n%s", stored, again)
		}
		// And its protobuf form decodes too.
		pb, err := wr.encode(obj)
		if err != nil {
			t.Fatalf("protobuf encode: %v", err)
		}
		if _, _, err := wr.decodeObject(res, body{data: pb, proto: true}, fv); err != nil {
			t.Fatalf("protobuf form does not decode: %v", err)
		}
	})
}

// FuzzValidatePod runs fuzzed pods through what the create and update
// pipelines run: defaults, create-time admission, and validation. It must
// not panic, must be deterministic, and must name a field for every error.
func FuzzValidatePod(f *testing.F) {
	for _, seed := range []string{
		fuzzPod,
		`{"metadata":{"name":"Bad_Name"},"spec":{"restartPolicy":"Sometimes","containers":[{"name":"c"},{"name":"c","image":"x"}]}}`,
		`{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i","resources":{"limits":{"cpu":"1"},"requests":{"cpu":"2"}}}]}}`,
		`{"metadata":{"name":"p"},"spec":{"initContainers":[{"name":"i","image":"i","restartPolicy":"Always"}],"containers":[{"name":"c","image":"i"}]}}`,
		`{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i","volumeMounts":[{"name":"missing","mountPath":"/x"}]}]}}`,
		`{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i","ports":[{"containerPort":70000,"protocol":"ICMP"}]}]}}`,
		`{"metadata":{"name":"p"},"spec":{"hostNetwork":true,"dnsPolicy":"None","containers":[{"name":"c","image":"i"}]}}`,
		`{"metadata":{"name":"p"},"spec":{"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"k","operator":"In"}]}]}}},"containers":[{"name":"c","image":"i"}]}}`,
		`{"metadata":{"name":"p"},"spec":{"tolerations":[{"key":"k","operator":"Exists","value":"v"}],"topologySpreadConstraints":[{"maxSkew":0,"topologyKey":"","whenUnsatisfiable":"Maybe"}],"containers":[{"name":"c","image":"i"}]}}`,
		`{"metadata":{"name":"p"},"spec":{"securityContext":{"sysctls":[{"name":"bad sysctl","value":"1"}]},"containers":[{"name":"c","image":"i","securityContext":{"capabilities":{"add":["ALL"]},"privileged":true}}]}}`,
		`{"metadata":{"name":"p"},"spec":{"volumes":[{"name":"v","hostPath":{"path":"rel"},"emptyDir":{}},{"name":"v","secret":{"secretName":""}}],"containers":[{"name":"c","image":"i"}]}}`,
		`{"metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i","livenessProbe":{"exec":{"command":["x"]},"httpGet":{"port":0}}}],"overhead":{"cpu":"-1"}}}`,
		`{"metadata":{"name":"p"},"spec":{"schedulingGates":[{"name":"g"}],"resourceClaims":[{"name":"r"}],"containers":[{"name":"c","image":"i","resizePolicy":[{"resourceName":"cpu","restartPolicy":"Never"}]}]}}`,
		`{}`,
	} {
		f.Add([]byte(seed))
	}
	podRes := func() *resource {
		rs := servedResources()
		attachValidation(rs)
		for _, r := range rs {
			if r.Plural == "pods" {
				return r
			}
		}
		panic("no pods")
	}()
	f.Fuzz(func(t *testing.T, data []byte) {
		var pod corev1.Pod
		if err := json.Unmarshal(data, &pod); err != nil {
			t.Skip()
		}
		pod.Namespace = "default"
		defaults.Default(&pod)
		defaults.AdmitPodTolerations(&pod)
		_ = defaults.AdmitPodPriority(&pod)
		first := podRes.Validate(&pod)
		second := validation.ValidatePod(pod.DeepCopy())
		if !reflect.DeepEqual(errorStrings(first), errorStrings(second)) {
			t.Fatalf("validation is not deterministic:\n%v\n%v", first, second)
		}
		for _, e := range first {
			if e.Field == "" && e.Type != "InternalError" {
				t.Errorf("error without a field: %v", e)
			}
		}
		// Updates against itself and against a changed copy must not panic;
		// an unchanged valid pod is a valid update of itself.
		pod.ResourceVersion = "1"
		changed := pod.DeepCopy()
		changed.Spec.ActiveDeadlineSeconds = nil
		changed.Labels = map[string]string{"x": "y"}
		updateErrs := podRes.ValidateUpdate(&pod, &pod)
		_ = podRes.ValidateUpdate(changed, &pod)
		_ = podRes.ValidateStatusUpdate(changed, &pod)
		if len(first) == 0 && len(updateErrs) != 0 {
			t.Errorf("a valid pod is not a valid update of itself: %v", updateErrs)
		}
	})
}

func errorStrings[T interface{ Error() string }](errs []T) []string {
	out := make([]string, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
	}
	return out
}

// FuzzApplyPatch applies fuzzed patches of each type to a pod: no panic,
// every failure is a 400, 415 or 422 Status, and every result is JSON.
func FuzzApplyPatch(f *testing.F) {
	for _, seed := range []struct {
		pt    uint8
		patch string
	}{
		{0, `[{"op":"add","path":"/metadata/labels/x","value":"y"},{"op":"remove","path":"/spec/volumes/0"}]`},
		{0, `[{"op":"test","path":"/metadata/name","value":"q"}]`},
		{0, `[{"op":"move","from":"/spec/containers/0","path":"/spec/initContainers"}]`},
		{0, `[{"op":"copy","from":"/spec","path":"/spec/x"},{"op":"replace","path":"/spec/containers/-","value":{}}]`},
		{0, `{"op":"add"}`},
		{1, `{"metadata":{"labels":{"a":null,"b":"c"}},"spec":{"containers":[{"name":"x","image":"y"}]}}`},
		{1, `{"spec":null}`},
		{1, `[1,2]`},
		{1, `{not json`},
		{2, `{"spec":{"containers":[{"name":"side","image":"busybox"}]}}`},
		{2, `{"spec":{"containers":[{"name":"c","$patch":"delete"}],"$setElementOrder/containers":[{"name":"c"}]}}`},
		{2, `{"spec":{"volumes":[{"name":"v","$patch":"replace"}],"$retainKeys":["volumes"]}}`},
		{2, `{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"finalizers":["b"]}}`},
		{2, `{"spec":{"containers":{"$patch":"bogus"}}}`},
		{2, `{"$patch":"replace","kind":"Pod"}`},
		{3, `{}`},
	} {
		f.Add(seed.pt, []byte(fuzzPod), []byte(seed.patch))
	}
	patchTypes := []types.PatchType{types.JSONPatchType, types.MergePatchType, types.StrategicMergePatchType, "application/apply-patch+yaml"}
	f.Fuzz(func(t *testing.T, which uint8, original, patch []byte) {
		if !json.Valid(original) {
			t.Skip()
		}
		pt := patchTypes[int(which)%len(patchTypes)]
		out, err := applyPatch(pt, original, patch, &corev1.Pod{})
		if err != nil {
			if !isStatus(err, 400, 415, 422) {
				t.Fatalf("%s: want a 400/415/422 Status, got %T %v", pt, err, err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("%s produced invalid JSON: %q", pt, out)
		}
		// What the handler does next: decode the result.
		if _, _, err := decodePatched(podResource(), out, validationStrict); err != nil && !isStatus(err, 422) {
			if !strings.Contains(err.Error(), "strict decoding") {
				t.Fatalf("decodePatched: %T %v", err, err)
			}
		}
	})
}

func podResource() *resource {
	for _, r := range servedResources() {
		if r.Plural == "pods" {
			return r
		}
	}
	panic("no pods")
}
