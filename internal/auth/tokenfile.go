package auth

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
)

// errInvalidToken is returned for a bearer token that the file does not list,
// with upstream's wording.
var errInvalidToken = errors.New("invalid bearer token")

// NewTokenFile loads a static token file in upstream's --token-auth-file
// format and returns an Authenticator for "Authorization: Bearer <token>".
//
// The file is CSV, one user per record: token,user,uid[,groups] where groups
// is a single, usually quoted, comma-separated field ("group1,group2").
// Columns after the fourth are ignored, blank lines are skipped, and empty
// group names are dropped. As upstream, a record with an empty token is
// skipped and a repeated token takes the user of its last record. A record
// with fewer than three columns or an empty user name, or malformed CSV, is an
// error naming the line. The file is read once; later edits have no effect.
//
// Authenticate has no opinion on requests without a non-empty bearer token
// and returns an "invalid bearer token" error for tokens not in the file. On
// success it removes the Authorization header from r, as upstream does, so
// the credential is not passed further along.
func NewTokenFile(path string) (Authenticator, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open token file: %w", err)
	}
	defer f.Close()
	tokens, err := parseTokenCSV(f)
	if err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	return &tokenAuthenticator{tokens: tokens}, nil
}

// parseTokenCSV reads token records; see NewTokenFile for the format.
func parseTokenCSV(r io.Reader) (map[string]*User, error) {
	reader := csv.NewReader(r)
	reader.FieldsPerRecord = -1
	tokens := map[string]*User{}
	for {
		record, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return tokens, nil
		}
		if err != nil {
			// *csv.ParseError already names the line; NewTokenFile wraps it
			// with the file name.
			return nil, err
		}
		line, _ := reader.FieldPos(0)
		if len(record) < 3 {
			return nil, fmt.Errorf("line %d: must have at least 3 columns (token, user name, user uid), found %d", line, len(record))
		}
		if record[0] == "" {
			continue
		}
		if record[1] == "" {
			return nil, fmt.Errorf("line %d: user name must not be empty", line)
		}
		user := &User{Name: record[1], UID: record[2]}
		if len(record) >= 4 {
			for _, g := range strings.Split(record[3], ",") {
				if g != "" {
					user.Groups = append(user.Groups, g)
				}
			}
		}
		tokens[record[0]] = user
	}
}

type tokenAuthenticator struct {
	tokens map[string]*User
}

func (a *tokenAuthenticator) Authenticate(r *http.Request) (*User, bool, error) {
	token, ok := bearerToken(r)
	if !ok {
		return nil, false, nil
	}
	user, ok := a.tokens[token]
	if !ok {
		return nil, false, errInvalidToken
	}
	r.Header.Del("Authorization")
	return user.clone(), true, nil
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive, as upstream.
func bearerToken(r *http.Request) (string, bool) {
	header := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, token, found := strings.Cut(header, " ")
	if !found || !strings.EqualFold(scheme, "bearer") {
		return "", false
	}
	// Upstream takes the second space-separated word.
	token, _, _ = strings.Cut(token, " ")
	return token, token != ""
}
