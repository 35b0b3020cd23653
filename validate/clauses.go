package validate

// Spec clauses cited by problems: the image-spec v1.1.1 file and the
// section (GitHub anchor) holding the rule.
const (
	clauseLayoutContent   = "image-layout.md#content"
	clauseLayoutFile      = "image-layout.md#oci-layout-file"
	clauseLayoutBlobs     = "image-layout.md#blobs"
	clauseLayoutIndex     = "image-layout.md#indexjson-file"
	clauseDescriptor      = "descriptor.md#properties"
	clauseDigests         = "descriptor.md#digests"
	clauseRegistered      = "descriptor.md#registered-algorithms"
	clauseSHA256          = "descriptor.md#sha-256"
	clauseSHA512          = "descriptor.md#sha-512"
	clauseEmbedded        = "descriptor.md#embedded-content"
	clauseIndexProps      = "image-index.md#image-index-property-descriptions"
	clauseVariants        = "image-index.md#platform-variants"
	clauseManifestProps   = "manifest.md#image-manifest-property-descriptions"
	clauseEmptyDescriptor = "manifest.md#guidance-for-an-empty-descriptor"
	clauseArtifacts       = "manifest.md#guidelines-for-artifact-usage"
	clauseConfigProps     = "config.md#properties"
	clauseDiffID          = "config.md#layer-diffid"
	clauseNonDist         = "layer.md#non-distributable-layers"
	clauseLayerGzip       = "layer.md#gzip-media-types"
	clauseLayerZstd       = "layer.md#zstd-media-types"
	clauseLayerTar        = "layer.md#distributable-format"
	clauseMediaTypes      = "media-types.md"
	clauseConflicts       = "media-types.md#media-type-conflicts"
	clauseCompat          = "media-types.md#compatibility-matrix"
	clauseAnnotationRules = "annotations.md#rules"
	clauseAnnotationKeys  = "annotations.md#pre-defined-annotation-keys"
	clauseJSON            = "RFC 8259 section 2"
	clauseJSONNames       = "RFC 8259 section 4"
)
