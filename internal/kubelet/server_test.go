package kubelet

import (
	"net/http"
	"net/url"
	"reflect"
	"testing"
)

func TestStreamOptions(t *testing.T) {
	cases := []struct {
		query                      string
		stdin, stdout, stderr, tty bool
		err                        bool
	}{
		{query: "output=1&error=1", stdout: true, stderr: true},
		{query: "input=true&output=true&tty=true&error=true", stdin: true, stdout: true, tty: true}, // a tty has no stderr
		{query: "stdout=1&stderr=1", err: true},                                                     // pods/exec's names, not the kubelet's
		{query: "tty=1", err: true},
		{query: "", err: true},
	}
	for _, c := range cases {
		q, _ := url.ParseQuery(c.query)
		stdin, stdout, stderr, tty, err := streamOptions(q)
		if (err != nil) != c.err || stdin != c.stdin || stdout != c.stdout || stderr != c.stderr || tty != c.tty {
			t.Errorf("%q: %v %v %v %v %v", c.query, stdin, stdout, stderr, tty, err)
		}
	}
}

func TestPortForwardPorts(t *testing.T) {
	ws := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}
	cases := []struct {
		query  string
		header http.Header
		want   []int32
		err    bool
	}{
		{query: "port=80&port=8080", header: ws, want: []int32{80, 8080}},
		{query: "port=80", header: http.Header{"Connection": {"Upgrade"}, "Upgrade": {"SPDY/3.1"}}}, // SPDY: ports in stream headers
		{query: "port=0", header: ws, err: true},
		{query: "port=70000", header: ws, err: true},
		{query: "port=http", header: ws, err: true},
	}
	for _, c := range cases {
		r := &http.Request{URL: &url.URL{RawQuery: c.query}, Header: c.header}
		got, err := portForwardPorts(r)
		if (err != nil) != c.err || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q: %v, %v", c.query, got, err)
		}
	}
}
