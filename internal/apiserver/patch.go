package apiserver

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"
)

// applyPatch applies a patch of the given type to an object's JSON.
// Errors are API statuses: 400 for a malformed patch, 422 for one that
// does not apply.
func applyPatch(pt types.PatchType, original, patch []byte, schemaObj runtime.Object) (out []byte, err error) {
	defer func() {
		// The patch libraries panic on some malformed patches (a JSON
		// patch "test" without a value): that is the client's error.
		if v := recover(); v != nil {
			out, err = nil, apierrors.NewBadRequest(fmt.Sprintf("unable to apply the patch: %v", v))
		}
	}()
	switch pt {
	case types.JSONPatchType:
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		out, err := p.Apply(original)
		if err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
		}
		return out, nil
	case types.MergePatchType:
		if !json.Valid(patch) {
			return nil, apierrors.NewBadRequest("error decoding patch: invalid JSON")
		}
		out, err := jsonpatch.MergePatch(original, patch)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		return out, nil
	case types.StrategicMergePatchType:
		var m map[string]any
		if err := json.Unmarshal(patch, &m); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("error decoding patch: %v", err))
		}
		out, err := strategicpatch.StrategicMergePatch(original, patch, schemaObj)
		if err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "", err.Error(), 0, false)
		}
		return out, nil
	}
	return nil, apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "",
		fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json"), 0, false)
}

func patchType(r *http.Request) types.PatchType {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return types.PatchType(ct)
}

// servePatch reads the object, applies the patch to its JSON and writes
// the result through the update pipeline, retrying on lost races unless
// the patch pins a resourceVersion.
func (s *Server) servePatch(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo, sub string) error {
	opts, err := parseWriteOptions(r, sub)
	if err != nil {
		return err
	}
	pt := patchType(r)
	if pt == types.ApplyYAMLPatchType || pt == types.ApplyCBORPatchType {
		return apierrors.NewGenericServerResponse(http.StatusUnsupportedMediaType, "", schema.GroupResource{}, "",
			"server-side apply is not supported yet; use client-side apply (kubectl apply without --server-side)", 0, false)
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	patch := b.data
	var warnings []string
	out, err := s.retryUpdate(r.Context(), res, info.Namespace, info.Name, opts, func(cur runtime.Object, rev int64) (runtime.Object, error) {
		original, err := json.Marshal(cur)
		if err != nil {
			return nil, err
		}
		patched, err := applyPatch(pt, original, patch, res.New())
		if err != nil {
			return nil, err
		}
		next, warns, err := decodePatched(res, patched, opts.validation)
		if err != nil {
			return nil, err
		}
		warnings = warns
		if nm := nameOf(next); nm != info.Name {
			return nil, badRequestf("the name of the object (%s) does not match the name on the URL (%s)", nm, info.Name)
		}
		// The patch pins a version only if it changed the one it was given.
		if resourceVersionOf(next) == resourceVersionOf(cur) {
			setResourceVersion(next, "")
		}
		return next, nil
	})
	if err != nil {
		return err
	}
	setWarnings(w, warnings)
	return s.writeObject(w, r, res, http.StatusOK, out)
}

// decodePatched decodes a patch result, applying fieldValidation to the
// fields the patch introduced. As upstream, a result that does not decode,
// or has unknown fields under Strict, is a 422 naming the field "patch".
func decodePatched(res *resource, data []byte, fv fieldValidation) (runtime.Object, []string, error) {
	invalidPatch := func(e error) error {
		return apierrors.NewInvalid(schema.GroupKind{}, "", field.ErrorList{field.Invalid(field.NewPath("patch"), string(data), e.Error())})
	}
	obj := res.New()
	strictErrs, err := kjson.UnmarshalStrict(data, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return nil, nil, invalidPatch(err)
	}
	setTypeMeta(obj, res.GVK)
	warnings, err := strictness(strictErrs, fv, invalidPatch)
	return obj, warnings, err
}

func setResourceVersion(obj runtime.Object, rv string) {
	if m, ok := obj.(interface{ SetResourceVersion(string) }); ok {
		m.SetResourceVersion(rv)
	}
}
