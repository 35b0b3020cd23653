package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ocikit/ocikit/errdefs"
)

// maxTokenBody bounds a token endpoint's answer.
const maxTokenBody = 1 << 20

// errUnauthorized is the kind-carrying sentinel of failed authentication.
var errUnauthorized = errdefs.New(errdefs.ErrUnauthorized, "unauthorized")

// pickChallenge chooses the challenge to answer: Bearer before Basic,
// others ignored.
func pickChallenge(headers []string) *challenge {
	var basic *challenge
	for _, h := range headers {
		for _, c := range parseChallenges(h) {
			switch c.scheme {
			case "bearer":
				if c.params["realm"] != "" {
					return &c
				}
			case "basic":
				if basic == nil {
					basic = &c
				}
			}
		}
	}
	return basic
}

// scope is the token scope asked for this repository
// (docker's token authentication: repository:NAME:ACTIONS), the
// challenge's own when it names one for this repository. A push that
// mounts from another repository also asks repository:FROM:pull (scopes
// separated by spaces, each sent as its own scope parameter): a token
// without it makes the registry answer the mount with an upload session.
func (r *Repository) scope(c *challenge) string {
	s := c.params["scope"]
	if s == "" || !strings.HasPrefix(s, "repository:"+r.name+":") {
		actions := "pull"
		if r.o.push {
			actions = "pull,push"
		}
		s = "repository:" + r.name + ":" + actions
	}
	if r.o.push && r.o.mountFrom != "" && r.o.mountFrom != r.name {
		s += " repository:" + r.o.mountFrom + ":pull"
	}
	return s
}

// authorize sets header's Authorization for the registry's challenge:
// Basic with the credentials, or a Bearer token for this repository's
// scope (fetched once per scope, and again after a 401 when force).
func (r *Repository) authorize(ctx context.Context, header http.Header, force bool) error {
	r.mu.Lock()
	c := r.challenge
	r.mu.Unlock()
	if c == nil {
		return nil
	}
	creds, err := r.creds(ctx)
	if err != nil {
		return err
	}
	switch c.scheme {
	case "basic":
		if creds == nil {
			if force {
				return fmt.Errorf("%s: authentication required and no credentials (--creds, --authfile): %w", r.host, errUnauthorized)
			}
			return nil
		}
		req := http.Request{Header: header}
		req.SetBasicAuth(creds.user, creds.pass)
		return nil
	case "bearer":
		scope := r.scope(c)
		r.mu.Lock()
		tok, ok := r.tokens[scope]
		r.mu.Unlock()
		if !ok {
			tok, err = r.fetchToken(ctx, c, scope, creds)
			if base, _, mounting := strings.Cut(scope, " "); err != nil && mounting && ctx.Err() == nil {
				// A token service that refuses the source's pull scope
				// outright: without it the blobs are uploaded, not mounted.
				tok, err = r.fetchToken(ctx, c, base, creds)
			}
			if err != nil {
				return err
			}
			r.mu.Lock()
			r.tokens[scope] = tok
			r.mu.Unlock()
		}
		if tok != "" {
			header.Set("Authorization", "Bearer "+tok)
		}
	}
	return nil
}

// fetchToken asks the challenge's realm for a token of scope (docker's
// token authentication, GET with Basic credentials if there are any).
func (r *Repository) fetchToken(ctx context.Context, c *challenge, scope string, creds *credentials) (string, error) {
	realm, err := url.Parse(c.params["realm"])
	if err != nil || realm.Host == "" || (realm.Scheme != "https" && realm.Scheme != "http") {
		return "", fmt.Errorf("%s: bad token realm %q: %w", r.host, clip(c.params["realm"]), errUnauthorized)
	}
	if realm.Scheme == "http" && !r.o.insecure && !isLoopback(realm.Host) {
		return "", fmt.Errorf("%s: token realm %s is plain HTTP: %w", r.host, clip(realm.String()), errUnauthorized)
	}
	q := realm.Query()
	if s := c.params["service"]; s != "" {
		q.Set("service", s)
	}
	q.Del("scope")
	for _, sc := range strings.Fields(scope) {
		q.Add("scope", sc)
	}
	realm.RawQuery = q.Encode()
	header := http.Header{}
	if creds != nil {
		req := http.Request{Header: header}
		req.SetBasicAuth(creds.user, creds.pass)
	}
	what := "token endpoint " + clip(redact(realm.String()))
	ctx, watch, cancel := r.watch(ctx)
	defer cancel()
	resp, err := r.send(ctx, http.MethodGet, realm.String(), header, nil, -1)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %w", what, withKind(responseError(resp, ""), errUnauthorized))
	}
	body, err := io.ReadAll(io.LimitReader(watch(resp.Body), maxTokenBody+1))
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	var tr struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	if len(body) > maxTokenBody || json.Unmarshal(body, &tr) != nil {
		return "", fmt.Errorf("%s: malformed answer: %w", what, errUnauthorized)
	}
	tok := tr.Token
	if tok == "" {
		tok = tr.AccessToken
	}
	if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
		return "", fmt.Errorf("%s: no token in the answer: %w", what, errUnauthorized)
	}
	return tok, nil
}

// withKind gives err the kind unless it has one.
func withKind(err, kind error) error {
	if e, ok := err.(*Error); ok && e.kind == nil {
		e.kind = kind
	}
	return err
}
