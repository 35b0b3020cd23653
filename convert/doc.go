// Package convert turns an OCI image configuration into an OCI runtime
// configuration, as image-spec conversion.md defines.
//
// RuntimeSpec starts from the default configuration of
// runtime/defaults.Spec (the one `ocikit spec` writes) and fills in what
// the image says:
//
//   - process.args is Config.Entrypoint followed by Config.Cmd;
//   - process.env is Config.Env verbatim, plus PATH and HOME when the image
//     sets neither;
//   - process.cwd is Config.WorkingDir, or "/";
//   - process.user is Config.User resolved through the root filesystem's
//     /etc/passwd and /etc/group (LookupUser);
//   - annotations carry os, architecture, variant, os.version,
//     os.features, author, created, Config.StopSignal and
//     Config.ExposedPorts under their org.opencontainers.image.* keys, with
//     Config.Labels taking precedence over all of them;
//   - Config.Volumes become tmpfs mounts when asked (WithVolumesAsMounts).
//
// Options (WithArgs, WithEntrypoint, WithEnv, WithCwd, WithUser) are the
// caller's "externally provided inputs" of conversion.md and follow
// Docker's override semantics: new args replace Cmd, a new entrypoint also
// drops Cmd, environment variables merge by name.
//
// The user database is read inside the root filesystem as if it were "/":
// a symlinked /etc/passwd cannot make the converter read a host file. A
// user or group name that does not resolve is an error naming it
// (ErrUnknownUser, ErrUnknownGroup); a numeric uid without a passwd entry
// is used as is. Supplementary groups come from /etc/group when no group is
// given, for a numeric uid too: config.md and Docker do so, although
// conversion.md says a converter SHOULD NOT for a numeric uid; an image
// then behaves the same under `docker run` and in a bundle. ParseUserSpec, ParsePasswd, ParseGroup and ResolveUser are
// exported for other places that resolve a user (such as `exec --user`).
//
// The package uses the specifications' own Go types throughout; it keeps
// no configuration model of its own and writes nothing to disk.
package convert
