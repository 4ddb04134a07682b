package connector

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
)

// withCAFile returns a client like hc whose transport (a clone of hc's,
// behind a warmTransport of its own) also trusts the CAs in the PEM file at
// path: the roots hc's transport already trusts (the
// system's when it sets none) stay trusted, so a tenant behind a
// TLS-inspecting proxy can still reach the real Entra and Graph.
func withCAFile(hc *http.Client, path string) (*http.Client, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading ca_file: %w", err)
	}
	rt := hc.Transport
	if w, ok := rt.(*warmTransport); ok {
		rt = w.base
	}
	base, ok := rt.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("ca_file %s: the transport is a %T; ca_file needs an *http.Transport to add its CAs to", path, rt)
	}
	tr := base.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	var pool *x509.CertPool
	if tr.TLSClientConfig.RootCAs != nil {
		pool = tr.TLSClientConfig.RootCAs.Clone()
	} else if pool, err = x509.SystemCertPool(); err != nil {
		// No system roots (a scratch image without CA certificates): the
		// file's CAs are then all there is to trust.
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("ca_file %s holds no PEM certificate", path)
	}
	tr.TLSClientConfig.RootCAs = pool
	return &http.Client{Transport: newWarmTransport(tr), Timeout: hc.Timeout}, nil
}
