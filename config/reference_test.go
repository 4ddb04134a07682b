package config

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// schemaProbe touches every section of the decoder once: a section is
// reported as soon as it is read, even when absent, so one tenant, one job
// and one connector are enough. Optional sections that are read only when
// present (source.pki, rate_limit, windows) are present; where the decoder does not
// know them yet they are reported as unknown keys, which the probe ignores.
const schemaProbe = `
tenants:
  t: {rate_limit: {}}
jobs:
  - source: {pki: {}}
    probe: {}
    connectors: [{}]
    windows: [{}]
    keysets: [{}]
`

// acceptedKeys lists every key the decoder accepts in the sections probe
// reaches, in the spelling of docs/config.md: tenants.<t>.client_id,
// jobs[].source.mount, …
func acceptedKeys(t *testing.T, probe string) []string {
	t.Helper()
	var keys []string
	d := &decoder{
		lookup: func(string) (string, bool) { return "", false },
		sectionFunc: func(path string, known []string) {
			for _, k := range known {
				keys = append(keys, docKey(join(path, k)))
			}
		},
	}
	d.config(d.document([]byte(probe)), func() (string, error) { return "probe", nil })
	slices.Sort(keys)
	return slices.Compact(keys)
}

var (
	listIndex = regexp.MustCompile(`\[\d+\]`)
	tenantKey = regexp.MustCompile(`^tenants\.[^.]+`)
)

// docKey turns a decoder path into the reference's spelling.
func docKey(path string) string {
	path = listIndex.ReplaceAllString(path, "[]")
	return tenantKey.ReplaceAllString(path, "tenants.<t>")
}

// TestReferenceDocumentsEveryKey fails when the decoder accepts a key that
// docs/config.md does not name (as `key` in code style), so the reference
// cannot fall behind the code.
func TestReferenceDocumentsEveryKey(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "config.md"))
	if err != nil {
		t.Fatalf("reading the config reference: %v", err)
	}
	keys := acceptedKeys(t, schemaProbe)
	for _, k := range keys {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/config.md does not document `%s`", k)
		}
	}
	// Guard the probe itself: if it stopped reaching a section, the check
	// above would pass vacuously.
	for _, k := range []string{"instance", "nats.tls.ca_file", "vault.auth.role_id", "tenants.<t>.client_id", "jobs[].source.path", "jobs[].connectors[].id", "http.listen", "log.format"} {
		if !slices.Contains(keys, k) {
			t.Errorf("the decoder's keys %q miss %q: the probe no longer reaches every section", keys, k)
		}
	}
}
