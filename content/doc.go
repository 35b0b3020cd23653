// Package content is the seam between ocikit's image code and the places
// images live (an OCI layout, an OCI archive, a registry), in the
// spirit of containerd's content.Provider and Ingester: small interfaces a
// consumer asks for one at a time, each taking the narrowest it needs
// (bundle unpacks from a Provider, mutate writes through an Ingester and a
// Tagger, repack resolves from an ImageSource).
//
// What every implementation promises, and package contenttest checks
// (run its suites against each backend):
//
//   - Nothing unverified passes: Provider.OpenBlob's reader checks size
//     and digest as it streams and never yields more than the descriptor's
//     size; Ingester.PutBlob makes a blob visible only once complete and
//     verified, and leaves nothing visible after an error.
//   - Errors are of the kinds of package errdefs, asked with errors.Is and
//     wrapped with short context naming the object: ErrNotFound (no such
//     blob, tag or platform), ErrInvalid (malformed digest, reference or
//     document; ambiguous reference; a document over ReadAll's limit),
//     ErrDigestMismatch (content differs from its digest or size),
//     ErrUnsupported (a digest algorithm the backend cannot verify), and
//     ErrUnauthorized for backends that authenticate. A cancelled context
//     ends a call with ctx.Err().
//   - Platform choice follows package platform (platform.Rank), so every
//     source picks the same manifest from the same index.
//
// The method contracts in detail are on the interfaces. ReadAll and
// PutJSON are helpers over any Provider or Ingester.
package content
