package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/skiff-sh/skiff/internal/storage"
)

// watchTimeout caps a watch without timeoutSeconds, as upstream's
// min-request-timeout does.
const watchTimeout = 30 * time.Minute

// watchStream writes watch events to one client.
type watchStream struct {
	s       *Server
	w       http.ResponseWriter
	r       *http.Request
	res     *resource
	q       listQuery
	out     output
	flusher http.Flusher
	sent    int
	buf     bytes.Buffer
}

func (ws *watchStream) flush() {
	if ws.flusher != nil {
		ws.flusher.Flush()
	}
}

// send writes one event; raw is the object's JSON, obj its decoded form
// (needed only for Table output).
func (ws *watchStream) send(typ watch.EventType, raw []byte, obj runtime.Object) error {
	if ws.out.table && obj != nil && typ != watch.Bookmark && typ != watch.Error {
		t, err := ws.s.toTable(ws.r, ws.res, []runtime.Object{obj}, nil)
		if err != nil {
			return err
		}
		if ws.sent > 0 {
			t.ColumnDefinitions = nil
		}
		t.ResourceVersion = resourceVersionOf(obj)
		raw, err = json.Marshal(t)
		if err != nil {
			return err
		}
	}
	ws.buf.Reset()
	ws.buf.WriteString(`{"type":"`)
	ws.buf.WriteString(string(typ))
	ws.buf.WriteString(`","object":`)
	ws.buf.Write(raw)
	ws.buf.WriteString("}\n")
	ws.sent++
	_, err := ws.w.Write(ws.buf.Bytes())
	return err
}

func resourceVersionOf(obj runtime.Object) string {
	if m, ok := obj.(metav1.Object); ok {
		return m.GetResourceVersion()
	}
	return ""
}

func (ws *watchStream) sendObject(typ watch.EventType, obj runtime.Object) error {
	if ws.out.table {
		return ws.send(typ, nil, obj)
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	return ws.send(typ, data, obj)
}

func (ws *watchStream) bookmark(rev int64, initialEnd bool) error {
	m := map[string]any{"resourceVersion": strconv.FormatInt(rev, 10)}
	if initialEnd {
		m["annotations"] = map[string]string{metav1.InitialEventsAnnotationKey: "true"}
	}
	data, _ := json.Marshal(map[string]any{"kind": ws.res.GVK.Kind, "apiVersion": ws.res.GVK.GroupVersion().String(), "metadata": m})
	return ws.send(watch.Bookmark, data, nil)
}

func (ws *watchStream) sendError(err error) {
	st := toStatus(err)
	data, _ := json.Marshal(st)
	_ = ws.send(watch.Error, data, nil)
	ws.flush()
}

// serveWatch streams changes. Without a resourceVersion (or with "0", or
// with sendInitialEvents=true) it first sends the current objects as
// ADDED events; with sendInitialEvents it then marks the end of them with a
// bookmark, as client-go's watch-list expects.
func (s *Server) serveWatch(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) error {
	out, err := negotiate(r)
	if err != nil {
		return err
	}
	q, err := parseListQuery(r, res)
	if err != nil {
		return err
	}
	if info.Name != "" {
		// GET .../pods/foo?watch=true watches that one object.
		q.fields = fields.AndSelectors(q.fields, fields.OneTermEqualSelector("metadata.name", info.Name))
	}
	query := r.URL.Query()
	bookmarks := query.Get("allowWatchBookmarks") == "true"
	sendInitial := q.rv == "" || q.rv == "0"
	explicitInitial := query.Has("sendInitialEvents")
	if explicitInitial {
		sendInitial = query.Get("sendInitialEvents") == "true"
		if q.rvMatch != string(metav1.ResourceVersionMatchNotOlderThan) {
			return invalidList(fieldForbidden("resourceVersionMatch", "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
		}
	}
	ctx, cancel := contextWithTimeout(r, watchTimeout)
	defer cancel()
	// Start the resource's feed before reading the initial state, so the
	// feed covers every change after it.
	_, _ = s.watches.feed(res.storagePrefix())

	var startRev int64
	var initial *listResult
	if sendInitial {
		q2 := q
		q2.limit, q2.cont, q2.rvMatch = 0, "", ""
		initial, err = s.listPage(ctx, res, info.Namespace, q2, out.table)
		if err != nil {
			return err
		}
		startRev, _ = strconv.ParseInt(initial.meta.ResourceVersion, 10, 64)
	} else if q.rv != "" {
		startRev, _ = strconv.ParseInt(q.rv, 10, 64)
	} else {
		if startRev, err = s.store.Revision(ctx); err != nil {
			return err
		}
	}
	prefix := res.storagePrefix()
	if res.Namespaced && info.Namespace != "" {
		prefix += info.Namespace + "/"
	}
	events, errc := s.watches.watch(ctx, res.storagePrefix(), prefix, startRev)

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache, private")
	w.WriteHeader(http.StatusOK)
	ws := &watchStream{s: s, w: w, r: r, res: res, q: q, out: out}
	ws.flusher, _ = w.(http.Flusher)
	if initial != nil {
		for _, raw := range initial.raw {
			if err := ws.send(watch.Added, raw, nil); err != nil {
				return nil
			}
		}
		for _, obj := range initial.objects {
			if err := ws.sendObject(watch.Added, obj); err != nil {
				return nil
			}
		}
		if explicitInitial && bookmarks {
			_ = ws.bookmark(startRev, true)
		}
	}
	ws.flush()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.watchesDone.Done():
			// The server is stopping: the watch ends, the client watches
			// again from its last resourceVersion.
			return nil
		case err := <-errc:
			if errors.Is(err, storage.ErrCompacted) {
				ws.sendError(apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d", startRev)))
			} else if err != nil {
				ws.sendError(apierrors.NewInternalError(err))
			}
			return nil
		case ev, ok := <-events:
			if !ok {
				select {
				case err := <-errc:
					if errors.Is(err, storage.ErrCompacted) {
						ws.sendError(apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d", startRev)))
					}
				default:
				}
				return nil
			}
			if err := ws.deliver(ev, bookmarks); err != nil {
				return nil
			}
			if len(events) == 0 {
				ws.flush()
			}
		}
	}
}

// deliver turns one storage event into the watch event this client sees.
// With a selector, an object that stops matching is DELETED and one that
// starts matching is ADDED, as upstream's watch cache reports them.
func (ws *watchStream) deliver(ev storage.Event, bookmarks bool) error {
	res := ws.res
	switch ev.Type {
	case storage.Progress:
		if bookmarks {
			return ws.bookmark(ev.Revision, false)
		}
		return nil
	case storage.Delete:
		if ev.Prev == nil {
			return nil
		}
		if ws.raw() {
			return ws.send(watch.Deleted, withResourceVersion(ev.Prev, ev.Revision), nil)
		}
		prev, err := decodeStored(res, ev.Prev, ev.Revision)
		if err != nil || !res.matches(ws.q, prev) {
			return nil
		}
		return ws.sendObject(watch.Deleted, prev)
	}
	typ := watch.Modified
	if ev.Created {
		typ = watch.Added
	}
	if ws.raw() {
		return ws.send(typ, withResourceVersion(ev.Value, ev.Revision), nil)
	}
	obj, err := decodeStored(res, ev.Value, ev.Revision)
	if err != nil {
		return nil
	}
	now := res.matches(ws.q, obj)
	was := false
	if !ev.Created && ev.Prev != nil {
		if prev, err := decodeStored(res, ev.Prev, ev.Revision); err == nil {
			was = res.matches(ws.q, prev)
		}
	}
	switch {
	case now && (was || ev.Created):
		return ws.sendObject(typ, obj)
	case now:
		return ws.sendObject(watch.Added, obj)
	case was:
		prev, _ := decodeStored(res, ev.Prev, ev.Revision)
		return ws.sendObject(watch.Deleted, prev)
	}
	return nil
}

// raw says stored bytes can go out as they are: no selector to apply, no
// Table to render, no view to convert through.
func (ws *watchStream) raw() bool {
	return !ws.q.selective() && !ws.out.table && ws.res.View == nil
}
