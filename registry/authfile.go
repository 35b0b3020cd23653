package registry

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/docker/docker-credential-helpers/client"
	dcred "github.com/docker/docker-credential-helpers/credentials"
	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/internal/fsutil"
)

// creds are a user name and password (or token) for a registry.
type credentials struct{ user, pass string }

// maxAuthFile bounds an auth file read.
const maxAuthFile = 4 << 20

// authFile is the part of docker's config.json and containers'
// auth.json (containers-auth.json(5)) that names credentials.
type authFile struct {
	Auths map[string]struct {
		Auth     string `json:"auth"`
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"auths"`
	CredHelpers map[string]string `json:"credHelpers"`
	CredsStore  string            `json:"credsStore"`
}

// authFiles are the files searched, in order.
func authFiles(o *options) []string {
	if o.authFile != "" {
		return []string{o.authFile}
	}
	var files []string
	if f := o.getenv("REGISTRY_AUTH_FILE"); f != "" {
		files = append(files, f)
	}
	if d := o.getenv("XDG_RUNTIME_DIR"); d != "" {
		files = append(files, filepath.Join(d, "containers", "auth.json"))
	}
	if d := o.getenv("DOCKER_CONFIG"); d != "" {
		files = append(files, filepath.Join(d, "config.json"))
	} else if h := o.getenv("HOME"); h != "" {
		files = append(files, filepath.Join(h, ".docker", "config.json"))
	}
	return files
}

// credentialLookup reads the auth files now (a malformed one is an error
// at once) and returns the lookup of host/repo's credentials, which runs a
// credential helper only when called: when the registry asks.
func credentialLookup(o *options, host, repo string) (func() (*credentials, error), error) {
	if o.creds != nil {
		c := *o.creds
		return func() (*credentials, error) { return &c, nil }, nil
	}
	var parsed []*authFile
	var names []string
	for _, f := range authFiles(o) {
		data, err := fsutil.ReadFileLimit(f, maxAuthFile)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && o.authFile == "" {
				continue
			}
			return nil, fmt.Errorf("auth file: %w", err)
		}
		var af authFile
		if err := json.Unmarshal(data, &af); err != nil {
			return nil, fmt.Errorf("auth file %s: malformed JSON: %w", f, errdefs.ErrInvalid)
		}
		parsed, names = append(parsed, &af), append(names, f)
	}
	return func() (*credentials, error) {
		for i, af := range parsed {
			c, err := af.lookup(host, repo)
			if err != nil {
				return nil, fmt.Errorf("auth file %s: %w", names[i], err)
			}
			if c != nil {
				return c, nil
			}
		}
		return nil, nil
	}, nil
}

// lookup finds host/repo's credentials: its credential helper
// (credHelpers), else the most specific auths entry (HOST/REPO/...,
// then HOST, with or without scheme and docker's /v1/ suffix), else the
// default helper (credsStore). Nil if there are none.
func (af *authFile) lookup(host, repo string) (*credentials, error) {
	if h := af.CredHelpers[host]; h != "" {
		return helperGet(h, host)
	}
	best, bestLen := "", -1
	for key := range af.Auths {
		k := normalizeKey(key)
		if (k == host || strings.HasPrefix(host+"/"+repo+"/", k+"/")) && len(k) > bestLen {
			best, bestLen = key, len(k)
		}
	}
	if bestLen >= 0 {
		e := af.Auths[best]
		if e.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil {
				return nil, fmt.Errorf("entry %q: auth is not base64: %w", clip(best), errdefs.ErrInvalid)
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, fmt.Errorf("entry %q: auth is not user:password: %w", clip(best), errdefs.ErrInvalid)
			}
			return &credentials{user: user, pass: strings.TrimSpace(pass)}, nil
		}
		if e.Username != "" {
			return &credentials{user: e.Username, pass: e.Password}, nil
		}
	}
	if af.CredsStore != "" {
		return helperGet(af.CredsStore, host)
	}
	return nil, nil
}

// normalizeKey drops a scheme and a trailing path of docker's legacy keys
// ("https://index.example/v1/") from an auths key.
func normalizeKey(k string) string {
	if i := strings.Index(k, "://"); i >= 0 {
		k = k[i+3:]
		if j := strings.Index(k, "/v1"); j >= 0 && strings.Trim(k[j:], "/") == "v1" {
			k = k[:j]
		}
	}
	return strings.TrimSuffix(k, "/")
}

// helperGet asks docker-credential-NAME for host's credentials.
func helperGet(name, host string) (*credentials, error) {
	if strings.ContainsAny(name, "/ \t") {
		return nil, fmt.Errorf("credential helper %q: %w", clip(name), errdefs.ErrInvalid)
	}
	c, err := client.Get(client.NewShellProgramFunc("docker-credential-"+name), host)
	if err != nil {
		if dcred.IsErrCredentialsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("credential helper %s: %v: %w", name, clip(err.Error()), errUnauthorized)
	}
	if c.Username == "<token>" {
		return nil, fmt.Errorf("credential helper %s: identity tokens are not supported: %w", name, errdefs.ErrUnsupported)
	}
	return &credentials{user: c.Username, pass: c.Secret}, nil
}
