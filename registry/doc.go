// Package registry is ocikit's client for OCI registries
// (distribution-spec v1.1), on net/http: a Repository is a
// content.ImageSource, content.Stater, content.Ingester and
// content.Tagger, so package distribution copies to and from a registry
// as it does with layouts and archives.
//
// What it promises, beyond the content package's contracts:
//
//   - Nothing unverified passes: every blob is hashed and counted as it
//     streams; a manifest is read whole (at most MaxManifestSize) and its
//     digest checked against the digest asked for and the registry's
//     Docker-Content-Digest; its Content-Type must be a manifest or index
//     type agreeing with the document. A push commits a blob (the PUT
//     carrying its digest) only after ocikit has verified what it sent.
//   - A hostile or broken server cannot hang or flood the client:
//     bounded redirects, error bodies, token answers and manifests, a
//     timeout on every pause (WithTimeout), and a 401 answered once.
//   - Errors are one line with the registry's own message ("manifest
//     unknown"), of the errdefs kind of its error code or HTTP status
//     (404 ErrNotFound, 401/403 ErrUnauthorized, DIGEST_INVALID
//     ErrDigestMismatch, ...): see Error.
//   - Authentication: anonymous, Basic, and Bearer tokens (docker's token
//     flow, a token per scope), with credentials from WithCredentials,
//     docker's config.json or containers' auth.json, and credential
//     helpers. Plain HTTP only for loopback hosts or WithInsecure.
//   - Transfers: HEAD before upload (content.Stater), cross-repository
//     mounts (WithMountFrom), downloads resumed with Range after a network
//     error, retries with backoff on connection errors, 429 and 5xx
//     (WithRetries), honouring Retry-After.
package registry
