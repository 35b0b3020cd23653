// Package validate checks OCI image-spec v1.1.1 content: single JSON
// documents (Document) and whole image layouts on disk (Layout).
//
// Every check is either the image-spec's own JSON schema (the schema files
// of github.com/opencontainers/image-spec/schema, embedded byte for byte and
// compiled with internal/jsonschema) or a semantic rule the
// schemas cannot express, each citing the clause it enforces: digest
// encodings of the registered algorithms, blob presence, size and digest,
// a descriptor's mediaType against the document it points to and against
// the document's own mediaType field, layer media types against their
// compression, the config's rootfs.diff_ids against the manifest's layers,
// platform values, embedded data, annotation rules and the ref.name
// grammar, the oci-layout version and blob file names; with
// WithLayerContents also each layer's tar stream (format, duplicate
// entries, whiteouts) and its diff_id. RuntimeConfig and Bundle do the same
// for runtime-spec config.json files (runtime.go).
//
// What it promises:
//
//   - All problems, not the first: a Report lists every Problem found, each
//     with its location in the graph of documents ("index.json →
//     manifests[0] → layers[2]"), the file at fault, a one-line message and
//     the spec clause. Report.Err joins the errors (errors.Join).
//   - Errors are MUST violations (or content that cannot be checked, such as
//     a missing blob); warnings are SHOULDs, deprecated or unknown values
//     the spec tells consumers to tolerate, and content that cannot be
//     verified. Only errors make a report invalid.
//   - What image-spec allows is not reported: unknown media types and
//     annotation keys, unknown fields, unregistered digest algorithms that
//     match the grammar (a warning), absent blobs of non-distributable
//     layers, of descriptors with urls and of subject targets.
//   - Layout reads the files itself rather than through package layout, so
//     a layout that layout.Open refuses (missing oci-layout, bad version,
//     malformed index.json) is still reported on in full. It hashes each
//     blob once however many images share it (layers and other opaque
//     blobs in parallel, one per CPU, after the documents are walked; the
//     report still reads in walk order) and never writes.
//   - No panics on any input (FuzzDocument, FuzzLayoutIndex).
//
// Both specifications' schemas are compiled once per process, on first
// use, from the embedded copies only (no network, no disk). The schema
// engine is internal/jsonschema, a draft-04 validator with no package
// state, because every ocikit process links this package, the runtime's
// create, start and init included, and each start pays every linked
// package's initialization. The libraries measured (December 2026,
// GODEBUG=inittrace=1 and perf of ocikit with and without each) all cost
// at init: gojsonschema, used until then, 900 allocations, 127 KB and
// about 100 page faults (five format regexps, a text/template, its
// metaschemas); santhosh-tekuri/jsonschema v6 and its fork
// pb33f/jsonschema v6 compile every draft's metaschema (21,000
// allocations, 15-22 ms, +380 page faults), v5 8,600 allocations;
// google/jsonschema-go does little at init but rejects draft-04 (both
// specs' schemas) and reports only the first error without its instance
// location. internal/jsonschema reports every violation at its instance
// location, as gojsonschema did, and its verdicts on runtime-spec's
// fixtures match gojsonschema's (a test and a fuzz target compare them).
// Its date-time format is RFC 3339's alone, which gojsonschema's was not
// (it also took a bare date or time).
package validate
