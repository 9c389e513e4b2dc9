package auth

import (
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTokenFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tokens.csv")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNewTokenFileParsing(t *testing.T) {
	tests := []struct {
		name    string
		content string
		// want maps tokens to the users they must authenticate as.
		want map[string]*User
		// absent tokens must be rejected.
		absent  []string
		wantErr string
	}{
		{
			name: "upstream format with quoted groups",
			content: `admin-token,admin,uid-1,"system:masters,devs"
bob-token,bob,uid-2
carol-token,carol,uid-3,ops
`,
			want: map[string]*User{
				"admin-token": {Name: "admin", UID: "uid-1", Groups: []string{"system:masters", "devs"}},
				"bob-token":   {Name: "bob", UID: "uid-2"},
				"carol-token": {Name: "carol", UID: "uid-3", Groups: []string{"ops"}},
			},
		},
		{
			name:    "extra columns ignored, empty groups dropped, blank lines skipped",
			content: "\nt1,u1,1,\"a,,b,\",extra,more\n\nt2,u2,2,\"\"\n",
			want: map[string]*User{
				"t1": {Name: "u1", UID: "1", Groups: []string{"a", "b"}},
				"t2": {Name: "u2", UID: "2"},
			},
		},
		{
			name:    "empty token record skipped",
			content: ",ghost,0\nt,u,1\n",
			want:    map[string]*User{"t": {Name: "u", UID: "1"}},
			absent:  []string{""},
		},
		{
			name:    "duplicate token: last record wins",
			content: "dup,first,1\ndup,second,2\n",
			want:    map[string]*User{"dup": {Name: "second", UID: "2"}},
		},
		{
			name:    "empty uid allowed",
			content: "t,u,\n",
			want:    map[string]*User{"t": {Name: "u"}},
		},
		{name: "empty file", content: "", want: map[string]*User{}, absent: []string{"anything"}},
		{name: "too few columns", content: "t1,u1,1\nt2,u2\n", wantErr: "line 2: must have at least 3 columns"},
		{name: "single column", content: "t1,u1,1\n\n\nlonely\n", wantErr: "line 4: must have at least 3 columns (token, user name, user uid), found 1"},
		{name: "empty user name", content: "t1,,1\n", wantErr: "line 1: user name must not be empty"},
		{name: "unterminated quote", content: "t1,u1,1\nt2,u2,2,\"a,b\n", wantErr: "line 2"},
		{name: "bare quote", content: "t1,u\"1,1\n", wantErr: "line 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTokenFile(t, tc.content)
			a, err := NewTokenFile(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tc.wantErr)
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("err %q does not name the file", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NewTokenFile: %v", err)
			}
			for token, want := range tc.want {
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Set("Authorization", "Bearer "+token)
				got, ok, err := a.Authenticate(r)
				if err != nil || !ok {
					t.Fatalf("token %q: ok=%v err=%v", token, ok, err)
				}
				if !equalUser(got, want) {
					t.Errorf("token %q: user = %+v, want %+v", token, got, want)
				}
			}
			for _, token := range tc.absent {
				r := httptest.NewRequest("GET", "/", nil)
				r.Header.Set("Authorization", "Bearer "+token)
				if _, ok, _ := a.Authenticate(r); ok {
					t.Errorf("token %q authenticated", token)
				}
			}
		})
	}
}

func TestNewTokenFileMissing(t *testing.T) {
	_, err := NewTokenFile(filepath.Join(t.TempDir(), "nope.csv"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want wrapping ErrNotExist", err)
	}
}

func TestTokenAuthenticatorRequests(t *testing.T) {
	a, err := NewTokenFile(writeTokenFile(t, "secret,alice,42,\"g1,g2\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		header     []string // Authorization values; none means no header
		wantOK     bool
		wantErr    bool
		wantHeader bool // Authorization still present afterwards
	}{
		{name: "no header"},
		{name: "basic auth is not ours", header: []string{"Basic YWxpY2U6cHc="}, wantHeader: true},
		{name: "scheme only", header: []string{"Bearer"}, wantHeader: true},
		{name: "empty token", header: []string{"Bearer "}, wantHeader: true},
		{name: "double space means empty token", header: []string{"Bearer  secret"}, wantHeader: true},
		{name: "valid", header: []string{"Bearer secret"}, wantOK: true},
		{name: "scheme case-insensitive, surrounding space", header: []string{"  bearer secret  "}, wantOK: true},
		{name: "trailing words ignored", header: []string{"Bearer secret extra"}, wantOK: true},
		{name: "unknown token", header: []string{"Bearer wrong"}, wantErr: true, wantHeader: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for _, h := range tc.header {
				r.Header.Add("Authorization", h)
			}
			user, ok, err := a.Authenticate(r)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tc.wantOK)
			}
			if ok && !equalUser(user, &User{Name: "alice", UID: "42", Groups: []string{"g1", "g2"}}) {
				t.Errorf("user = %+v", user)
			}
			if got := r.Header.Get("Authorization") != ""; got != tc.wantHeader {
				t.Errorf("Authorization header present = %v, want %v", got, tc.wantHeader)
			}
		})
	}
}

func TestTokenAuthenticatorReturnsCopies(t *testing.T) {
	a, err := NewTokenFile(writeTokenFile(t, "secret,alice,42,g1\n"))
	if err != nil {
		t.Fatal(err)
	}
	auth := func() *User {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer secret")
		u, ok, err := a.Authenticate(r)
		if !ok || err != nil {
			t.Fatalf("ok=%v err=%v", ok, err)
		}
		return u
	}
	first := auth()
	first.Groups[0] = "system:masters"
	first.Name = "root"
	if second := auth(); second.Name != "alice" || second.Groups[0] != "g1" {
		t.Errorf("mutating a returned user changed the stored one: %+v", second)
	}
}
