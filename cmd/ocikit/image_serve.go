package main

import (
	"fmt"
	"log/slog"
	"net"

	"github.com/spf13/cobra"

	"github.com/ocikit/ocikit/registry/server"
)

func newImageServeCmd(*globals) *cobra.Command {
	var (
		addr, cert, key, htpasswd string
		readOnly                  bool
	)
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT] [--tls-cert F --tls-key F] [--htpasswd F] [--read-only] ROOT",
		Short: "Serve the OCI layouts under ROOT as a registry (distribution-spec v1.1)",
		Long: `Serve ROOT as an OCI registry: repository a/b is the OCI image layout
ROOT/a/b, so existing layouts are published as they are, and a push creates or
updates an ordinary layout. Pull, push (monolithic, chunked, streamed), cross-
repository mount, tag list, the referrers API and deletes; sha256 and sha512.
Uploads in progress live under ROOT/.uploads until verified. --htpasswd asks for
HTTP basic authentication (bcrypt entries, htpasswd -B). With port 0 a free
port is chosen; the address is printed either way. SIGINT or SIGTERM stops the
server after the requests in flight (at most 10 s).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if (cert == "") != (key == "") {
				return fmt.Errorf("serve: --tls-cert and --tls-key go together")
			}
			ctx := cmd.Context()
			opts := []server.Option{server.WithLogger(slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)))}
			if readOnly {
				opts = append(opts, server.WithReadOnly())
			}
			if htpasswd != "" {
				opts = append(opts, server.WithHtpasswd(htpasswd))
			}
			if cert != "" {
				opts = append(opts, server.WithTLS(cert, key))
			}
			srv, err := server.New(ctx, args[0], opts...)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				srv.Close()
				return fmt.Errorf("serve: %w", err)
			}
			scheme := "http"
			if srv.TLS() {
				scheme = "https"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "serving %s on %s://%s\n", args[0], scheme, ln.Addr())
			return srv.Serve(ctx, ln)
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", "127.0.0.1:5000", "address to listen on (port 0: any free port)")
	f.StringVar(&cert, "tls-cert", "", "serve HTTPS with this certificate (PEM)")
	f.StringVar(&key, "tls-key", "", "the certificate's private key (PEM)")
	f.StringVar(&htpasswd, "htpasswd", "", "require basic auth against this htpasswd file (bcrypt entries)")
	f.BoolVar(&readOnly, "read-only", false, "refuse pushes and deletes")
	return cmd
}
