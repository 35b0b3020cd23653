package distribution

import (
	"context"
	"fmt"
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
			return bad(err.Error())
		}
	}
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		return bad(fmt.Sprintf("%q is not a registry host (want a name with a dot, a port, or localhost)", clip(host)))
	}
	if err := registry.ValidateHost(host); err != nil {
		return bad(err.Error())
	}
	if err := registry.ValidateRepository(repo); err != nil {
		return bad(err.Error())
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
