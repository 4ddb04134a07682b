// Package probe calls the API behind an API connector over HTTPS, with or
// without a client certificate, the way B2C calls it, so that a rotation
// uploads only a certificate the API accepts. It implements jobs.Prober.
package probe

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/jobs"
)

// ExcerptMax bounds how much of the API's answer an outcome may quote.
const ExcerptMax = 120

// Prober is the HTTPS jobs.Prober. Its zero value trusts the system roots
// (or each job's ca_file); Transport, when set, supplies the dialer (tests).
type Prober struct {
	// RootCAs, when set, replaces the system roots for calls whose job sets
	// no ca_file (tests and the demo).
	RootCAs *x509.CertPool
}

var _ jobs.Prober = (*Prober)(nil)

// Probe makes one call. Each call has a transport of its own with no idle
// connections, so that a call without a certificate never rides on a
// connection made with one (and the other way round).
func (p *Prober) Probe(ctx context.Context, call jobs.ProbeCall) (jobs.ProbeAnswer, error) {
	u, err := url.Parse(call.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return jobs.ProbeAnswer{}, fmt.Errorf("probe URL %q is not an https:// URL", jobs.ShownURL(call.URL))
	}
	tc, err := p.tlsConfig(call)
	if err != nil {
		return jobs.ProbeAnswer{}, err
	}
	tr := &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true, Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(call.Spec.Timeout, jobs.ProbeTimeoutDefault))
	defer cancel()
	body := cmp.Or(call.Spec.Body, "{}")
	req, err := http.NewRequestWithContext(ctx, cmp.Or(call.Spec.Method, http.MethodPost), call.URL, strings.NewReader(body))
	if err != nil {
		return jobs.ProbeAnswer{}, fmt.Errorf("building the probe request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "certrotator-probe")
	resp, err := (&http.Client{Transport: tr, CheckRedirect: noRedirect}).Do(req)
	if err != nil {
		if alert := remoteAlert(err); certificateAlerts[alert] {
			return jobs.ProbeAnswer{Alert: alert}, nil
		}
		return jobs.ProbeAnswer{}, fmt.Errorf("calling %s %s: %w", req.Method, redact(u), unwrapURL(err))
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, ExcerptMax+1))
	return jobs.ProbeAnswer{Status: resp.StatusCode, Excerpt: Excerpt(head)}, nil
}

// tlsConfig trusts the job's ca_file (or p.RootCAs, or the system roots)
// and presents the bundle's certificate and chain when the call has one.
func (p *Prober) tlsConfig(call jobs.ProbeCall) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: p.RootCAs}
	if call.Spec.CAFile != "" {
		pool, err := LoadCA(call.Spec.CAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if b := call.Client; b != nil {
		tc.Certificates = []tls.Certificate{ClientCertificate(b)}
	}
	return tc, nil
}

// ClientCertificate is the bundle as a TLS client certificate: the leaf,
// then its chain, and its key.
func ClientCertificate(b *bundle.Bundle) tls.Certificate {
	c := tls.Certificate{Certificate: [][]byte{b.Leaf.Raw}, PrivateKey: b.Key, Leaf: b.Leaf}
	for _, ca := range b.Chain {
		c.Certificate = append(c.Certificate, ca.Raw)
	}
	return c
}

// LoadCA reads a PEM file of one or more CA certificates.
func LoadCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading probe.ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("probe.ca_file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// noRedirect keeps the first answer: a redirect is the API's answer, and
// following it would send the certificate elsewhere.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// certificateAlerts are the TLS alerts (as crypto/tls names them) with
// which a server ends a handshake over the client's certificate: a
// rejection. Any other alert (protocol version, …) is no verdict.
var certificateAlerts = map[string]bool{
	"bad certificate": true, "unsupported certificate": true, "revoked certificate": true,
	"expired certificate": true, "unknown certificate": true, "unknown certificate authority": true,
	"access denied": true, "certificate required": true, "handshake failure": true,
}

// remoteAlert returns the name of the TLS alert the server sent, "" when
// err holds none. crypto/tls reports a received alert as a *net.OpError with
// Op "remote error" whose Err prints "tls: <alert>". In TLS 1.3 the server
// judges the client certificate after the client's handshake is done, so
// the alert arrives with the first read: it is found the same way.
func remoteAlert(err error) string {
	var op *net.OpError
	for e := err; errors.As(e, &op); e = op.Err {
		if op.Op == "remote error" {
			return strings.TrimPrefix(op.Err.Error(), "tls: ")
		}
	}
	return ""
}

// unwrapURL drops url.Error's repetition of the method and URL.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact is the URL without its query and user info, which may hold keys.
func redact(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.Fragment = nil, "", ""
	return c.String()
}

// Excerpt is at most ExcerptMax bytes of an answer, quoted with Go's
// escapes so that no control character or markup reaches a log line or a
// page as such, marked with … when cut.
func Excerpt(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	cut := len(b) > ExcerptMax
	if cut {
		b = b[:ExcerptMax]
	}
	s := fmt.Sprintf("%+q", b)
	if cut {
		s += "…"
	}
	return s
}
