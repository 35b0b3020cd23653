package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/layout"
	"github.com/ocikit/ocikit/validate"
)

// documentTypes are the --type names of single-document validation.
var documentTypes = map[string]string{
	"index":      v1.MediaTypeImageIndex,
	"manifest":   v1.MediaTypeImageManifest,
	"config":     v1.MediaTypeImageConfig,
	"descriptor": v1.MediaTypeDescriptor,
	"layout":     v1.MediaTypeLayoutHeader,
}

func newImageValidateCmd(g *globals) *cobra.Command {
	var (
		jsonOut, strict, allBlobs, layers bool
		docType                           string
	)
	cmd := &cobra.Command{
		Use:   "validate DIR[:TAG|@DIGEST] | --type TYPE FILE...",
		Short: "Validate an OCI image layout (or single documents) against image-spec v1.1.1",
		Long: `Validate the OCI image layout DIR: oci-layout, blobs/, index.json and every
index, manifest, config and layer reachable from it (schema, semantics, blob
presence, size and digest). DIR:TAG or DIR@DIGEST limits the walk to one
image. Each problem is printed with its location, e.g.
"index.json → manifests[0] → layers[2]", and the image-spec clause it breaks;
the last line is a summary.

With --type (index, manifest, config, descriptor, layout) each FILE ("-" for
standard input) is validated as one document of that type instead.

Exit status: 0 valid, 1 invalid (with --strict, also on warnings).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			var reports []*validate.Report
			if docType != "" {
				mt, ok := documentTypes[docType]
				if !ok {
					return fmt.Errorf("unknown --type %q: want index, manifest, config, descriptor or layout", docType)
				}
				for _, name := range args {
					data, err := readDocument(cmd.InOrStdin(), name)
					if err != nil {
						return err
					}
					var opts []validate.Option
					if strict {
						opts = append(opts, validate.WithStrict())
					}
					r := validate.Document(mt, data, opts...)
					r.Target = name
					reports = append(reports, r)
				}
			} else {
				if len(args) != 1 {
					return fmt.Errorf("validate takes one layout reference, got %d (use --type for documents)", len(args))
				}
				dir, name := args[0], ""
				if strings.Contains(args[0], ":") {
					ref, err := layout.ParseReference(args[0])
					if err != nil {
						return err
					}
					dir, name = ref.Dir, ref.Name()
				}
				opts := []validate.Option{validate.WithLogger(g.log())}
				if name != "" {
					opts = append(opts, validate.WithRef(name))
				}
				if strict {
					opts = append(opts, validate.WithStrict())
				}
				if allBlobs {
					opts = append(opts, validate.WithAllBlobs())
				}
				if layers {
					opts = append(opts, validate.WithLayerContents())
				}
				r, err := validate.Layout(cmd.Context(), dir, opts...)
				if err != nil {
					return err
				}
				reports = append(reports, r)
			}
			return writeReports(out, reports, jsonOut, strict)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&jsonOut, "json", false, "print the report as JSON")
	f.BoolVar(&strict, "strict", false, "also warn about SHOULD-level omissions (such as a manifest without its mediaType field) and exit 1 on warnings")
	f.BoolVar(&allBlobs, "all-blobs", false, "also verify the digest of blobs nothing references")
	f.BoolVar(&layers, "layers", false, "decompress every layer: check its tar stream (format, duplicate entries, whiteouts) and its config rootfs.diff_ids")
	f.StringVar(&docType, "type", "", "validate FILE arguments as single documents: index, manifest, config, descriptor or layout")
	return cmd
}

func readDocument(stdin io.Reader, name string) ([]byte, error) {
	var r io.Reader = stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, 64<<20+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > 64<<20 {
		return nil, fmt.Errorf("%s: larger than 64 MiB", name)
	}
	return data, nil
}

// writeReports prints validation reports: one line per problem and a
// summary line per report, or JSON (one object, or an array for several).
// It returns exitError 1 when a report is invalid (with strict, also when
// it has warnings).
func writeReports(out io.Writer, reports []*validate.Report, jsonOut, strict bool) error {
	failed := false
	for _, r := range reports {
		if !r.Valid || strict && r.Warnings > 0 {
			failed = true
		}
	}
	if jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		var v any = reports
		if len(reports) == 1 {
			v = reports[0]
		}
		if err := enc.Encode(v); err != nil {
			return err
		}
	} else {
		for _, r := range reports {
			for _, p := range r.Problems {
				fmt.Fprintf(out, "%s: %s\n", p.Severity, p.Error())
			}
			fmt.Fprintln(out, r.Summary())
		}
	}
	if failed {
		return &exitError{code: 1}
	}
	return nil
}
