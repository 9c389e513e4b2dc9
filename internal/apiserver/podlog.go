package apiserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// queryBool reads a boolean query parameter as upstream's parameter codec
// does: absent, empty, "0", "f" and "false" are false; anything else true.
func queryBool(q url.Values, key string) bool {
	v, ok := q[key]
	if !ok || len(v) == 0 {
		return false
	}
	switch strings.ToLower(v[0]) {
	case "", "0", "f", "false":
		return false
	}
	return true
}

func queryInt64(q url.Values, key string) (*int64, error) {
	v := q.Get(key)
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return nil, badRequestf("%v", err)
	}
	return &n, nil
}

// parsePodLogOptions decodes a pods/log query.
func parsePodLogOptions(q url.Values) (*corev1.PodLogOptions, error) {
	o := &corev1.PodLogOptions{
		Container:                    q.Get("container"),
		Follow:                       queryBool(q, "follow"),
		Previous:                     queryBool(q, "previous"),
		Timestamps:                   queryBool(q, "timestamps"),
		InsecureSkipTLSVerifyBackend: queryBool(q, "insecureSkipTLSVerifyBackend"),
	}
	var err error
	if o.SinceSeconds, err = queryInt64(q, "sinceSeconds"); err != nil {
		return nil, err
	}
	if o.TailLines, err = queryInt64(q, "tailLines"); err != nil {
		return nil, err
	}
	if o.LimitBytes, err = queryInt64(q, "limitBytes"); err != nil {
		return nil, err
	}
	if v := q.Get("sinceTime"); v != "" {
		var t metav1.Time
		if err := t.UnmarshalQueryParameter(v); err != nil {
			return nil, badRequestf("%v", err)
		}
		o.SinceTime = &t
	}
	if v := q.Get("stream"); v != "" {
		o.Stream = &v
	}
	return o, nil
}

// validatePodLogOptions is upstream's ValidatePodLogOptions.
func validatePodLogOptions(o *corev1.PodLogOptions) field.ErrorList {
	var errs field.ErrorList
	if o.TailLines != nil && *o.TailLines < 0 {
		errs = append(errs, field.Invalid(field.NewPath("tailLines"), *o.TailLines, "must be greater than or equal to 0"))
	}
	if o.LimitBytes != nil && *o.LimitBytes < 1 {
		errs = append(errs, field.Invalid(field.NewPath("limitBytes"), *o.LimitBytes, "must be greater than 0"))
	}
	switch {
	case o.SinceSeconds != nil && o.SinceTime != nil:
		errs = append(errs, field.Forbidden(field.NewPath(""), "at most one of `sinceTime` or `sinceSeconds` may be specified"))
	case o.SinceSeconds != nil && *o.SinceSeconds < 1:
		errs = append(errs, field.Invalid(field.NewPath("sinceSeconds"), *o.SinceSeconds, "must be greater than 0"))
	}
	if o.Stream != nil {
		valid := []string{corev1.LogStreamStdout, corev1.LogStreamStderr, corev1.LogStreamAll}
		ok := false
		for _, v := range valid {
			ok = ok || *o.Stream == v
		}
		if !ok {
			errs = append(errs, field.NotSupported(field.NewPath("stream"), *o.Stream, valid))
		}
		if *o.Stream != corev1.LogStreamAll && o.TailLines != nil {
			errs = append(errs, field.Forbidden(field.NewPath(""), "`tailLines` and specific `stream` are mutually exclusive for now"))
		}
	}
	return errs
}

// kubeletLogQuery is the query of the kubelet's /containerLogs.
func kubeletLogQuery(o *corev1.PodLogOptions) url.Values {
	q := url.Values{}
	if o.Follow {
		q.Set("follow", "true")
	}
	if o.Previous {
		q.Set("previous", "true")
	}
	if o.Timestamps {
		q.Set("timestamps", "true")
	}
	if o.SinceSeconds != nil {
		q.Set("sinceSeconds", strconv.FormatInt(*o.SinceSeconds, 10))
	}
	if o.SinceTime != nil {
		q.Set("sinceTime", o.SinceTime.Format(time.RFC3339))
	}
	if o.TailLines != nil {
		q.Set("tailLines", strconv.FormatInt(*o.TailLines, 10))
	}
	if o.LimitBytes != nil {
		q.Set("limitBytes", strconv.FormatInt(*o.LimitBytes, 10))
	}
	if o.Stream != nil {
		q.Set("stream", *o.Stream)
	}
	return q
}

// podContainer resolves the container a logs, exec or attach request
// means, as upstream's validateContainer: the named one, which must exist
// (init and ephemeral containers included), or the only one.
func podContainer(pod *corev1.Pod, name string) (string, error) {
	if name == "" {
		switch len(pod.Spec.Containers) {
		case 1:
			return pod.Spec.Containers[0].Name, nil
		case 0:
			return "", badRequestf("a container name must be specified for pod %s", pod.Name)
		}
		var names []string
		for _, c := range pod.Spec.InitContainers {
			names = append(names, c.Name)
		}
		for _, c := range pod.Spec.Containers {
			names = append(names, c.Name)
		}
		for _, c := range pod.Spec.EphemeralContainers {
			names = append(names, c.Name)
		}
		return "", badRequestf("a container name must be specified for pod %s, choose one of: %s", pod.Name, names)
	}
	for _, c := range pod.Spec.InitContainers {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range pod.Spec.Containers {
		if c.Name == name {
			return name, nil
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return name, nil
		}
	}
	return "", badRequestf("container %s is not valid for pod %s", name, pod.Name)
}

// kubeletResponseError turns a kubelet's failure answer into a Status, as
// upstream's GenericHttpResponseChecker: the kubelet's text becomes the
// message.
func kubeletResponseError(resp *http.Response, gr schema.GroupResource, name string) error {
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 50000))
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	text := string(body)
	switch resp.StatusCode {
	case http.StatusInternalServerError:
		return apierrors.NewInternalError(errors.New(text))
	case http.StatusBadRequest:
		return apierrors.NewBadRequest(text)
	}
	return apierrors.NewGenericServerResponse(resp.StatusCode, "", gr, name, text, 0, false)
}

// getPod reads the pod a subresource request names.
func (s *Server) getPod(ctx context.Context, namespace, name string) (*corev1.Pod, error) {
	obj, _, err := s.getObject(ctx, s.resources.lookup("", "v1", "pods"), namespace, name)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Pod), nil
}

// servePodLog streams a container's log from its kubelet. Every check runs
// before the first byte is written; a pod not yet on a node has no log yet
// and gets 204, as upstream.
func (s *Server) servePodLog(w http.ResponseWriter, r *http.Request, info *requestInfo) error {
	if info.Verb != "get" {
		return apierrors.NewMethodNotSupported(schema.GroupResource{Resource: "pods/log"}, r.Method)
	}
	opts, err := parsePodLogOptions(r.URL.Query())
	if err != nil {
		return err
	}
	if errs := validatePodLogOptions(opts); len(errs) > 0 {
		return apierrors.NewInvalid(schema.GroupKind{Kind: "PodLogOptions"}, info.Name, errs)
	}
	pod, err := s.getPod(r.Context(), info.Namespace, info.Name)
	if err != nil {
		return err
	}
	container, err := podContainer(pod, opts.Container)
	if err != nil {
		return err
	}
	if pod.Spec.NodeName == "" {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	loc, err := s.kubeletURL(r.Context(), pod.Spec.NodeName,
		fmt.Sprintf("/containerLogs/%s/%s/%s", pod.Namespace, pod.Name, container), kubeletLogQuery(opts))
	if err != nil {
		return err
	}
	// A follow stream ends with the client, or when the server shuts down.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.watchesDone, cancel)
	defer stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: s.kubelets.transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return errors.New("redirects forbidden")
	}}
	resp, err := client.Do(req)
	if err != nil {
		return unknownError(err)
	}
	if resp.StatusCode < http.StatusOK || resp.StatusCode > http.StatusPartialContent {
		return kubeletResponseError(resp, schema.GroupResource{Resource: "pods/log"}, info.Name)
	}
	defer resp.Body.Close()
	if wsstream.IsWebSocketRequest(r) {
		// As upstream's StreamObject: the log in websocket messages.
		if err := wsstream.NewReader(&deferEOF{r: resp.Body}, true, wsstream.NewDefaultReaderProtocols()).Copy(w, r); err != nil {
			s.cfg.Logger.Debug("streaming a log over a websocket", "pod", info.Namespace+"/"+info.Name, "err", err)
		}
		return nil
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	var out io.Writer = w
	if opts.Follow {
		out = flushWriter{w}
		flushWriter{w}.flush()
	}
	_, _ = io.Copy(out, resp.Body)
	return nil
}

// deferEOF holds back an EOF that comes with data until the next read:
// wsstream's copy drops the data of a read that also says EOF, and
// net/http's body says both at once at the end of a sized response.
type deferEOF struct {
	r   io.Reader
	eof bool
}

func (d *deferEOF) Read(p []byte) (int, error) {
	if d.eof {
		return 0, io.EOF
	}
	n, err := d.r.Read(p)
	if err == io.EOF && n > 0 {
		d.eof = true
		return n, nil
	}
	return n, err
}

// flushWriter sends every write to the client at once.
type flushWriter struct{ w http.ResponseWriter }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	f.flush()
	return n, err
}

func (f flushWriter) flush() { _ = http.NewResponseController(f.w).Flush() }
