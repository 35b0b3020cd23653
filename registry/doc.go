// Package registry will hold ocikit's client for OCI registries
// (distribution-spec): pull and push, and copy between image layouts,
// archives and registries. It is on the roadmap after the runtime and image
// work; nothing is implemented yet, and no command uses it.
package registry
