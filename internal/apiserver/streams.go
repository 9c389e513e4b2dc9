package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gwebsocket "github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/apimachinery/pkg/util/httpstream/wsstream"
	portforwardconst "k8s.io/apimachinery/pkg/util/portforward"
	"k8s.io/apimachinery/pkg/util/proxy"
	rcconst "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	clientspdy "k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// The websocket translation is written here, on apimachinery's wsstream
// and client-go's SPDY executor, because upstream's own translator
// (k8s.io/apiserver/pkg/util/proxy) drags in the generic registry and audit
// packages. Its behaviour is upstream's: kubectl's v5.channel.k8s.io
// websocket becomes an SPDY exec or attach to the kubelet, and the
// outcome (success, exit code, error) is a Status on the error channel.

// websocketIdleTimeout ends a websocket exec nobody uses, as upstream.
const websocketIdleTimeout = 4 * time.Hour

// translateStream serves a v5 websocket exec or attach by running the
// same exec or attach against the kubelet over SPDY.
func (s *Server) translateStream(w http.ResponseWriter, r *http.Request, loc *url.URL, opts streamOptions) {
	channels := make([]wsstream.ChannelType, 5)
	channels[rcconst.StreamStdIn] = wsChannel(opts.Stdin, wsstream.ReadChannel)
	channels[rcconst.StreamStdOut] = wsChannel(opts.Stdout, wsstream.WriteChannel)
	channels[rcconst.StreamStdErr] = wsChannel(opts.Stderr, wsstream.WriteChannel)
	channels[rcconst.StreamErr] = wsstream.WriteChannel
	channels[rcconst.StreamResize] = wsstream.ReadChannel
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		rcconst.StreamProtocolV5Name: {Binary: true, Channels: channels},
	})
	conn.SetIdleTimeout(websocketIdleTimeout)
	_, streams, err := conn.Open(w, r)
	if err != nil {
		// Open has answered the client already.
		s.cfg.Logger.Debug("websocket upgrade failed", "path", r.URL.Path, "err", err)
		return
	}
	defer conn.Close()
	// The exec ends with the client, or when the server shuts down.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	defer context.AfterFunc(s.watchesDone, cancel)()
	// An empty first write tells the client the streams are ready.
	first := rcconst.StreamErr
	switch {
	case opts.Stdout:
		first = rcconst.StreamStdOut
	case opts.Stderr:
		first = rcconst.StreamStdErr
	}
	if _, err := streams[first].Write(nil); err != nil {
		return
	}
	writeStatus := func(st metav1.Status) {
		data, _ := json.Marshal(st)
		conn.SetWriteDeadline(10 * time.Second)
		_, _ = streams[rcconst.StreamErr].Write(data)
	}

	rt, err := spdy.NewRoundTripperWithConfig(spdy.RoundTripperConfig{
		TLS: s.kubelets.tls.Clone(), PingPeriod: 5 * time.Second,
		Proxier: func(*http.Request) (*url.URL, error) { return nil, nil },
	})
	if err != nil {
		writeStatus(apierrors.NewInternalError(err).Status())
		return
	}
	executor, err := remotecommand.NewSPDYExecutorRejectRedirects(rt, clientspdy.NewUpgraderForStreaming(rt), http.MethodPost, loc)
	if err != nil {
		writeStatus(apierrors.NewInternalError(err).Status())
		return
	}
	so := remotecommand.StreamOptions{Tty: opts.TTY}
	if opts.Stdin {
		so.Stdin = streams[rcconst.StreamStdIn]
	}
	if opts.Stdout {
		so.Stdout = streams[rcconst.StreamStdOut]
	}
	if opts.Stderr {
		so.Stderr = streams[rcconst.StreamStdErr]
	}
	if opts.TTY {
		so.TerminalSizeQueue = newResizeQueue(ctx, streams[rcconst.StreamResize])
	}
	err = executor.StreamWithContext(ctx, so)
	var statusErr *apierrors.StatusError
	var exitErr exec.CodeExitError
	switch {
	case err == nil:
		writeStatus(metav1.Status{Status: metav1.StatusSuccess})
	case errors.As(err, &statusErr):
		writeStatus(statusErr.Status())
	case errors.As(err, &exitErr) && exitErr.Exited():
		writeStatus(metav1.Status{
			Status: metav1.StatusFailure, Reason: rcconst.NonZeroExitCodeReason,
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: rcconst.ExitCodeCauseType, Message: fmt.Sprint(exitErr.ExitStatus())}}},
			Message: fmt.Sprintf("command terminated with non-zero exit code: %v", exitErr),
		})
	default:
		writeStatus(apierrors.NewInternalError(err).Status())
	}
}

func wsChannel(used bool, t wsstream.ChannelType) wsstream.ChannelType {
	if used {
		return t
	}
	return wsstream.IgnoreChannel
}

// resizeQueue feeds the resize channel's JSON sizes to the executor.
type resizeQueue struct {
	sizes chan remotecommand.TerminalSize
}

// newResizeQueue reads sizes from r until it ends or ctx does.
func newResizeQueue(ctx context.Context, r io.Reader) *resizeQueue {
	q := &resizeQueue{sizes: make(chan remotecommand.TerminalSize)}
	go func() {
		defer close(q.sizes)
		dec := json.NewDecoder(r)
		for {
			var size remotecommand.TerminalSize
			if err := dec.Decode(&size); err != nil {
				return
			}
			select {
			case q.sizes <- size:
			case <-ctx.Done():
				return
			}
		}
	}()
	return q
}

func (q *resizeQueue) Next() *remotecommand.TerminalSize {
	size, ok := <-q.sizes
	if !ok {
		return nil
	}
	return &size
}

// tunnelPortForward serves kubectl's websocket port-forward
// (SPDY/3.1+portforward.k8s.io): the client's SPDY frames travel inside
// websocket messages, and are relayed as they are to an SPDY connection
// with the kubelet. When the kubelet refuses the SPDY upgrade, its answer
// goes back before any websocket upgrade, so kubectl sees an upgrade
// failure (and falls back to plain SPDY, which fails the same way with
// the kubelet's message).
func (s *Server) tunnelPortForward(w http.ResponseWriter, r *http.Request, loc *url.URL) {
	var protocols []string
	for _, p := range gwebsocket.Subprotocols(r) {
		if strings.HasPrefix(p, portforwardconst.WebsocketsSPDYTunnelingPrefix) && strings.HasSuffix(p, portforwardconst.KubernetesSuffix) {
			protocols = append(protocols, strings.TrimPrefix(p, portforwardconst.WebsocketsSPDYTunnelingPrefix))
		}
	}
	if len(protocols) == 0 {
		http.Error(w, "unable to upgrade: no tunneling spdy protocols provided", http.StatusBadRequest)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, loc.String(), nil)
	if err != nil {
		writeError(w, unknownError(err))
		return
	}
	req.Header.Set(httpstream.HeaderConnection, httpstream.HeaderUpgrade)
	req.Header.Set(httpstream.HeaderUpgrade, "SPDY/3.1")
	for _, p := range protocols {
		req.Header.Add(httpstream.HeaderProtocolVersion, p)
	}
	backend, err := proxy.DialURL(r.Context(), loc, s.kubelets.transport)
	if err != nil {
		writeError(w, unknownError(fmt.Errorf("error dialing backend: %w", err)))
		return
	}
	defer backend.Close()
	if err := req.Write(backend); err != nil {
		writeError(w, unknownError(fmt.Errorf("error sending request: %w", err)))
		return
	}
	br := bufio.NewReader(backend)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		writeError(w, unknownError(err))
		return
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, io.LimitReader(resp.Body, 1<<20))
		return
	}
	var chosen []string
	if p := strings.TrimSpace(resp.Header.Get(httpstream.HeaderProtocolVersion)); p != "" {
		chosen = []string{portforwardconst.WebsocketsSPDYTunnelingPrefix + p}
	}
	upgrader := gwebsocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }, Subprotocols: chosen}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has answered the client already.
		return
	}
	client := portforward.NewTunnelingConnection("server", ws)
	defer client.Close()
	var once sync.Once
	done := make(chan struct{})
	finish := func() { once.Do(func() { close(done) }) }
	go func() { _, _ = io.Copy(backend, client); finish() }()
	go func() { _, _ = io.Copy(client, br); finish() }()
	select {
	case <-done:
	case <-s.watchesDone.Done():
	}
}
