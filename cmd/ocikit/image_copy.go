package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ocikit/ocikit/distribution"
	"github.com/ocikit/ocikit/internal/progress"
	"github.com/ocikit/ocikit/layer"
	"github.com/ocikit/ocikit/platform"
)

// copyFlags are the flags image copy, pull and push share.
type copyFlags struct {
	all           bool
	referrers     bool
	plat          string
	quiet         bool
	compressFmt   string
	compressLevel int
	progressMode  string
	reg           distribution.RegistryConfig
}

// register adds the flags; src and dst say which sides can be a registry.
func (f *copyFlags) register(fs *pflag.FlagSet, src, dst bool) {
	fs.BoolVar(&f.all, "all", false, "copy every platform of an image index, and the index")
	fs.BoolVar(&f.referrers, "referrers", false, "also copy the artifacts whose subject is a copied manifest or index (signatures, SBOMs), recursively")
	fs.StringVar(&f.plat, "platform", "", "copy this platform's manifest out of an index (default: this host's)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "print nothing on success (--progress none, no summary)")
	fs.StringVar(&f.progressMode, "progress", progress.Auto, "on stderr: auto (bars on a terminal, else plain), plain (a line per blob), json (an object per event), none")
	fs.StringVar(&f.compressFmt, "dest-compress-format", "", "recompress layers: gzip or zstd (new layer and manifest digests; diff_ids unchanged)")
	fs.IntVar(&f.compressLevel, "dest-compress-level", 0, "compression level (gzip 1-9, zstd 1-22; default: the format's)")
	f.reg.SrcTLSVerify, f.reg.DestTLSVerify = true, true
	if src {
		fs.BoolVar(&f.reg.SrcTLSVerify, "src-tls-verify", true, "verify the source registry's certificate; false also allows plain HTTP")
		fs.StringVar(&f.reg.SrcCreds, "src-creds", "", "USER:PASSWORD for the source registry")
	}
	if dst {
		fs.BoolVar(&f.reg.DestTLSVerify, "dest-tls-verify", true, "verify the destination registry's certificate; false also allows plain HTTP")
		fs.StringVar(&f.reg.DestCreds, "dest-creds", "", "USER:PASSWORD for the destination registry")
	}
	fs.StringVar(&f.reg.AuthFile, "authfile", "", "read registry credentials from this auth.json or config.json only")
	fs.StringVar(&f.reg.CertDir, "cert-dir", "", "directory of a CA (*.crt) and client certificate (*.cert, *.key) for registries")
	fs.IntVar(&f.reg.RetryTimes, "retry-times", 0, "retry a registry request this many times after a network error, 429 or 5xx")
	if dst {
		f.reg.UploadState = distribution.DefaultUploadState()
	}
}

// run copies src to dst and reports on cmd's outputs.
func (f *copyFlags) run(cmd *cobra.Command, src, dst distribution.Reference) error {
	opts, err := f.reg.Options()
	if err != nil {
		return err
	}
	if f.all {
		opts = append(opts, distribution.WithAll())
	}
	if f.referrers {
		opts = append(opts, distribution.WithReferrers())
	}
	if f.plat != "" {
		p, err := platform.Parse(f.plat)
		if err != nil {
			return err
		}
		opts = append(opts, distribution.WithPlatform(p))
	}
	if f.compressFmt != "" {
		c, err := layer.ParseCompression(f.compressFmt)
		if err != nil || c == layer.Uncompressed {
			return fmt.Errorf("--dest-compress-format %q: want gzip or zstd", f.compressFmt)
		}
		if _, err := layer.CompressLevel(io.Discard, c, f.compressLevel); err != nil {
			return fmt.Errorf("--dest-compress-level: %w", err)
		}
		opts = append(opts, distribution.WithCompression(c, f.compressLevel))
	} else if f.compressLevel != 0 {
		return fmt.Errorf("--dest-compress-level needs --dest-compress-format")
	}
	mode := f.progressMode
	if f.quiet {
		mode = progress.None
	}
	rep, err := progress.New(mode, cmd.ErrOrStderr())
	if err != nil {
		return fmt.Errorf("--progress: %w", err)
	}
	if rep != nil {
		opts = append(opts, distribution.WithProgress(rep.Event), distribution.WithProgressBytes(rep.Event))
	}
	res, err := distribution.CopyReferences(cmd.Context(), src, dst, opts...)
	if rep != nil {
		rep.Close() // the bars end before the summary
	}
	if err != nil {
		return err
	}
	if !f.quiet {
		fmt.Fprintf(cmd.OutOrStdout(), "%s: %d blobs, %d skipped, %d bytes copied", res.Descriptor.Digest, res.Blobs, res.Skipped, res.Bytes)
		if f.referrers {
			fmt.Fprintf(cmd.OutOrStdout(), ", %d referrers", res.Referrers)
		}
		fmt.Fprintln(cmd.OutOrStdout())
	}
	return nil
}

func newImageCopyCmd(*globals) *cobra.Command {
	var f copyFlags
	cmd := &cobra.Command{
		Use:   "copy [--all] [--referrers] [--platform OS/ARCH[/VARIANT]] [--progress MODE] [-q] [registry flags] SRC DST",
		Short: "Copy an image between registries, OCI layouts, OCI archives and docker archives",
		Long: `Copy the image SRC names to DST. References use skopeo's syntax:
  docker://HOST[:PORT]/REPO[:TAG]   a repository of a registry (distribution-spec)
  docker://HOST[:PORT]/REPO@DIGEST  an image by digest (source only)
  oci:DIR[:TAG]                     an OCI image layout (made if DIR is missing or empty)
  DIR[:TAG]                         the same, as the other image commands take it
  oci:DIR@DIGEST                    an image by digest (source only)
  oci-archive:FILE[:TAG]            a tar of an OCI image layout (skopeo, podman save)
  docker-archive:FILE[:NAME[:TAG]]  a docker save archive (docker/podman load read it);
                                    NAME[:TAG] picks the image by its RepoTags (source)
                                    or names it (destination); layers are written
                                    uncompressed
  docker-archive:FILE:@N            the N-th image of a docker archive, from 0 (source)
Without TAG a source names its only image (else "latest") and a destination
is tagged "latest". An image index is copied for this host's platform, or
--platform's; --all copies every platform and the index itself. Blobs the
destination has are skipped (a registry is asked with HEAD; within one
registry they are mounted from the source repository); up to four layers
transfer at once; everything is verified as it streams. The destination's
tag is set only after every blob is in place, and an archive is written
(atomically, replacing FILE) only once the copy succeeded. An upload whose
chunk breaks continues from the offset the registry reports (with
--retry-times); one that fails that way or is interrupted keeps its session
in ~/.cache/ocikit/uploads, and the next push of that blob continues it.
--dest-compress-format recompresses layers (not already in that format)
while they stream, giving new layer and manifest digests; the config and
its diff_ids stay. Without it every digest is kept.
--referrers also copies every manifest whose subject is a copied manifest or
index (signatures, SBOMs, attestations, and theirs in turn): listed through a
registry's referrers API, else its referrers tag (sha256-<hex>), or from a
layout's index.json; written so the destination lists them the same way.

Registries are reached over HTTPS; plain HTTP only on loopback addresses or
with --src-tls-verify=false / --dest-tls-verify=false. Credentials come from
--src-creds / --dest-creds, else --authfile, else $REGISTRY_AUTH_FILE,
${XDG_RUNTIME_DIR}/containers/auth.json and ~/.docker/config.json (with
their credential helpers); none means anonymous.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			src, err := distribution.ParseReference(args[0])
			if err != nil {
				return err
			}
			dst, err := distribution.ParseReference(args[1])
			if err != nil {
				return err
			}
			return f.run(cmd, src, dst)
		},
	}
	f.register(cmd.Flags(), true, true)
	cmd.MarkFlagsMutuallyExclusive("all", "platform")
	return cmd
}
