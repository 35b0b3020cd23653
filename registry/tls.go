package registry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/ocikit/ocikit/errdefs"
)

// tlsConfig is the TLS set-up for host: the system's roots plus every
// *.crt of the certificate directory, and the client certificate of each
// *.cert/*.key pair there (containers-certs.d(5)). The directory is
// WithCertDir's, else /etc/containers/certs.d/HOST and then
// /etc/docker/certs.d/HOST where they exist.
func tlsConfig(host string, o *options) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.insecure}
	dirs := []string{o.certDir}
	if o.certDir == "" {
		dirs = []string{filepath.Join("/etc/containers/certs.d", host), filepath.Join("/etc/docker/certs.d", host)}
	}
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && o.certDir == "" {
				continue
			}
			return nil, fmt.Errorf("cert dir: %w", err)
		}
		for _, e := range entries {
			path := filepath.Join(dir, e.Name())
			switch {
			case strings.HasSuffix(e.Name(), ".crt"):
				pem, err := os.ReadFile(path)
				if err != nil {
					return nil, fmt.Errorf("cert dir: %w", err)
				}
				if cfg.RootCAs == nil {
					if cfg.RootCAs, err = x509.SystemCertPool(); err != nil {
						cfg.RootCAs = x509.NewCertPool()
					}
				}
				if !cfg.RootCAs.AppendCertsFromPEM(pem) {
					return nil, fmt.Errorf("cert dir: %s: no PEM certificate: %w", path, errdefs.ErrInvalid)
				}
			case strings.HasSuffix(e.Name(), ".cert"):
				key := strings.TrimSuffix(path, ".cert") + ".key"
				cert, err := tls.LoadX509KeyPair(path, key)
				if err != nil {
					return nil, fmt.Errorf("cert dir: client certificate %s: %v: %w", path, err, errdefs.ErrInvalid)
				}
				cfg.Certificates = append(cfg.Certificates, cert)
			}
		}
		if o.certDir == "" {
			break // the first directory found, as containers/image
		}
	}
	return cfg, nil
}
