package distribution

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ocikit/ocikit/errdefs"
	"github.com/ocikit/ocikit/registry"
	digest "github.com/opencontainers/go-digest"
)

// parseDocker parses the rest of "docker://HOST[:PORT]/REPO[:TAG|@DIGEST]"
// (s is the whole reference, for messages). Unlike skopeo there is no
// default registry: HOST must be named, and is recognised as docker's
// reference grammar does (a first component with a '.' or ':', or
// "localhost"), so "docker://library/x" is refused rather than sent to a
// registry the user did not name. The repository follows
// distribution-spec's <name> grammar and the tag its <reference> grammar.
func parseDocker(s, rest string) (Reference, error) {
	bad := func(why string) (Reference, error) {
		return Reference{}, fmt.Errorf("image reference %q: %s: %w", clip(s), why, errdefs.ErrInvalid)
	}
	// registry's name checks say what is wrong and are errdefs.ErrInvalid
	// already.
	invalid := func(err error) (Reference, error) {
		return Reference{}, fmt.Errorf("image reference %q: %w", clip(s), err)
	}
	rest, ok := strings.CutPrefix(rest, "//")
	if !ok {
		return bad(`want docker://HOST[:PORT]/REPO[:TAG|@DIGEST]`)
	}
	r := Reference{Transport: TransportDocker}
	if name, dg, ok := strings.Cut(rest, "@"); ok {
		d, err := digest.Parse(dg)
		if err != nil {
			return bad("malformed digest")
		}
		r.Digest, rest = d, name
	}
	host, repo, ok := strings.Cut(rest, "/")
	if !ok || host == "" {
		return bad("name the registry: docker://HOST[:PORT]/REPO")
	}
	if i := strings.LastIndexByte(repo, ':'); i >= 0 {
		if r.Digest != "" {
			return bad("both a tag and a digest")
		}
		r.Tag, repo = repo[i+1:], repo[:i]
		if err := registry.ValidateTag(r.Tag); err != nil {
			return invalid(err)
		}
	}
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		return bad(fmt.Sprintf("%q is not a registry host (want a name with a dot, a port, or localhost)", clip(host)))
	}
	if err := registry.ValidateHost(host); err != nil {
		return invalid(err)
	}
	if err := registry.ValidateRepository(repo); err != nil {
		return invalid(err)
	}
	r.Path = host + "/" + repo
	return r, nil
}

// Host is a registry reference's HOST[:PORT].
func (r Reference) Host() string { h, _, _ := strings.Cut(r.Path, "/"); return h }

// Repository is a registry reference's REPO.
func (r Reference) Repository() string { _, p, _ := strings.Cut(r.Path, "/"); return p }

// registryOpts are the registry client options of CopyReference.
type registryOpts struct{ src, dst []registry.Option }

// WithSourceRegistry configures the client of a docker:// source
// (--src-tls-verify, --src-creds, ...).
func WithSourceRegistry(opts ...registry.Option) Option {
	return func(o *options) { o.registry.src = append(o.registry.src, opts...) }
}

// WithDestinationRegistry configures the client of a docker://
// destination (--dest-tls-verify, --dest-creds, ...).
func WithDestinationRegistry(opts ...registry.Option) Option {
	return func(o *options) { o.registry.dst = append(o.registry.dst, opts...) }
}

// registryOptions collects the registry options of opts, and asks a
// destination on the source's registry to mount blobs from the source
// repository rather than upload them.
func registryOptions(sr, dr Reference, opts []Option) registryOpts {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	ro := o.registry
	if sr.Transport == TransportDocker && dr.Transport == TransportDocker && sr.Host() == dr.Host() && sr.Repository() != dr.Repository() {
		ro.dst = append(ro.dst, registry.WithMountFrom(sr.Repository()))
	}
	return ro
}

// registryTarget is a registry destination: nothing to commit or release,
// since Copy tags last.
type registryTarget struct{ *registry.Repository }

func (registryTarget) Commit(context.Context) error { return nil }
func (registryTarget) Close() error                 { return nil }

// RegistryConfig is what a command line says about registries (skopeo's
// flags): it becomes Copy options with Options.
type RegistryConfig struct {
	// SrcTLSVerify, DestTLSVerify: false skips certificate checks and
	// allows plain HTTP (--src-tls-verify, --dest-tls-verify).
	SrcTLSVerify, DestTLSVerify bool
	// SrcCreds, DestCreds: USER:PASSWORD (--src-creds, --dest-creds).
	SrcCreds, DestCreds string
	// AuthFile: the only auth file to read (--authfile).
	AuthFile string
	// CertDir: CA and client certificates (--cert-dir).
	CertDir string
	// RetryTimes: retries after network errors, 429 and 5xx.
	RetryTimes int
	// UploadState: where a push keeps the upload session of a blob it
	// could not finish for the network's sake (or was interrupted in), so
	// the next push of that blob continues it (registry.WithUploadState);
	// "" keeps none. DefaultUploadState is the command line's.
	UploadState string
}

// DefaultUploadState is $XDG_CACHE_HOME/ocikit/uploads (~/.cache/...), or
// "" where there is no cache directory.
func DefaultUploadState() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "ocikit", "uploads")
}

// Options turns c into Copy options; malformed credentials are
// errdefs.ErrInvalid.
func (c RegistryConfig) Options() ([]Option, error) {
	side := func(verify bool, creds, flag string) ([]registry.Option, error) {
		var ro []registry.Option
		if !verify {
			ro = append(ro, registry.WithInsecure())
		}
		if creds != "" {
			user, pass, ok := strings.Cut(creds, ":")
			if !ok || user == "" {
				return nil, fmt.Errorf("%s: want USER:PASSWORD: %w", flag, errdefs.ErrInvalid)
			}
			ro = append(ro, registry.WithCredentials(user, pass))
		}
		if c.AuthFile != "" {
			ro = append(ro, registry.WithAuthFile(c.AuthFile))
		}
		if c.CertDir != "" {
			ro = append(ro, registry.WithCertDir(c.CertDir))
		}
		if c.RetryTimes < 0 {
			return nil, fmt.Errorf("--retry-times %d: %w", c.RetryTimes, errdefs.ErrInvalid)
		}
		return append(ro, registry.WithRetries(c.RetryTimes)), nil
	}
	src, err := side(c.SrcTLSVerify, c.SrcCreds, "--src-creds")
	if err != nil {
		return nil, err
	}
	dst, err := side(c.DestTLSVerify, c.DestCreds, "--dest-creds")
	if err != nil {
		return nil, err
	}
	if c.UploadState != "" {
		dst = append(dst, registry.WithUploadState(c.UploadState))
	}
	return []Option{WithSourceRegistry(src...), WithDestinationRegistry(dst...)}, nil
}

// registryRef parses a registry reference with or without "docker://"; one
// naming another scheme ("https://...", "oci://") is an error that says
// so, not a repository named "https:".
func registryRef(s string) (Reference, error) {
	if t, _, ok := strings.Cut(s, "://"); ok && t != TransportDocker && !strings.ContainsAny(t, "/.:@") {
		return Reference{}, fmt.Errorf("image reference %q: want a registry's [docker://]HOST/REPO[:TAG|@DIGEST], not %s://: %w", clip(s), t, errdefs.ErrInvalid)
	}
	if !strings.HasPrefix(s, TransportDocker+"://") {
		s = TransportDocker + "://" + s
	}
	return ParseReference(s)
}

// PullReferences are the references of `image pull REF [DIR[:TAG]]`: REF
// a registry reference (docker:// optional); DIR by default the last
// component of the repository, TAG by default REF's tag, else "latest".
func PullReferences(ref, dir string) (src, dst Reference, err error) {
	if src, err = registryRef(ref); err != nil {
		return src, dst, err
	}
	if dir == "" {
		repo := src.Repository()
		dir = repo[strings.LastIndexByte(repo, '/')+1:]
	}
	if dst, err = ParseReference(TransportOCI + ":" + dir); err != nil {
		return src, dst, err
	}
	if dst.Digest != "" {
		return src, dst, fmt.Errorf("destination %s: a digest cannot be tagged, name a tag: %w", dst, errdefs.ErrInvalid)
	}
	if dst.Tag == "" {
		dst.Tag = src.Tag
	}
	return src, dst, nil
}

// PushReferences are the references of `image push DIR[:TAG] REF`: DIR an
// OCI layout (a tag, a digest, or its only image), REF a registry
// reference (docker:// optional) whose tag is by default DIR's TAG, else
// "latest".
func PushReferences(dir, ref string) (src, dst Reference, err error) {
	if src, err = ParseReference(dir); err != nil {
		return src, dst, err
	}
	if src.Transport != TransportOCI {
		return src, dst, fmt.Errorf("push %s: not a layout (use image copy): %w", clip(dir), errdefs.ErrInvalid)
	}
	if dst, err = registryRef(ref); err != nil {
		return src, dst, err
	}
	if dst.Tag == "" && dst.Digest == "" {
		dst.Tag = src.Tag
	}
	return src, dst, nil
}
