package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/certrotator/certrotator/jobs"
)

var probeKeys = []string{"url", "method", "body", "accept_status", "ca_file", "timeout"}

// ProbeTimeoutMax bounds a probe's timeout: a probe holds the job's lease
// while it waits, as an upload does.
const ProbeTimeoutMax = 2 * time.Minute

// probeMethods are the methods a probe may use: B2C calls with POST; the
// others serve APIs that offer a cheaper endpoint.
var probeMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "OPTIONS"}

// probe reads a job's `probe`, nil when absent. `probe: {}` probes each
// connector's targetUrl with every default.
func (d *decoder) probe(s section) *jobs.ProbeSpec {
	if _, present := s.entries["probe"]; !present {
		return nil
	}
	ps := s.sub("probe", probeKeys...)
	p := &jobs.ProbeSpec{
		URL:     ps.str("url", ""),
		Method:  strings.ToUpper(ps.str("method", "POST")),
		Body:    ps.str("body", "{}"),
		CAFile:  ps.str("ca_file", ""),
		Timeout: ps.duration("timeout", jobs.ProbeTimeoutDefault),
	}
	if p.URL != "" {
		if u, err := url.Parse(p.URL); err != nil || u.Scheme != "https" || u.Host == "" {
			ps.problem("url", "%q is not an https:// URL: the probe calls the API as B2C does, over HTTPS (leave it empty for the connector's targetUrl)", jobs.ShownURL(p.URL))
		}
	}
	if !slices.Contains(probeMethods, p.Method) {
		ps.problem("method", "%q is not one of %s", p.Method, strings.Join(probeMethods, ", "))
	}
	if p.Timeout <= 0 || p.Timeout > ProbeTimeoutMax {
		ps.problem("timeout", "%s must be more than 0 and at most %s", p.Timeout, ProbeTimeoutMax)
	}
	p.AcceptStatus = d.acceptStatus(ps)
	if p.CAFile != "" {
		d.probeCA(ps, p.CAFile)
	}
	return p
}

// acceptStatus reads the list of accepted HTTP statuses, nil when absent.
func (d *decoder) acceptStatus(s section) []int {
	items := s.list("accept_status")
	if n := s.node("accept_status"); n != nil && n.Kind == yaml.SequenceNode && len(items) == 0 {
		s.problem("accept_status", "is empty: list the statuses that mean accepted, or leave it out (any status but 401, 403, 495 and 496)")
	}
	var out []int
	for i, n := range items {
		key := fmt.Sprintf("%s[%d]", s.key("accept_status"), i)
		v, ok := d.scalar(n, key, "an HTTP status")
		if !ok {
			continue
		}
		code, err := strconv.Atoi(v)
		if err != nil || code < 100 || code > 599 {
			d.add(resolve(n).Line, key, "%q is not an HTTP status (100 to 599)", v)
			continue
		}
		out = append(out, code)
	}
	return out
}

// probeCA checks that ca_file holds at least one PEM certificate, so that a
// typo fails at start rather than at the first rotation.
func (d *decoder) probeCA(s section, path string) {
	pem, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		s.problem("ca_file", "reading %q: %s", path, err.Error())
		return
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		s.problem("ca_file", "%q holds no PEM certificate (-----BEGIN CERTIFICATE-----): give the CA that signed the API's server certificate", path)
	}
}
