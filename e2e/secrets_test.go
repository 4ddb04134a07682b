package e2e

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// leakWindow is the shortest piece of a long secret that counts as a leak:
// 32 characters of a secret's text (16 bytes in hex, 24 in base64) are no
// coincidence.
const leakWindow = 32

// assertNoSecrets fails when any secret, or any leakWindow-long piece of a
// longer one (wherever it starts), shows up in text. Every window of every
// secret goes into one set, and every window of text is looked up in it, so
// the check stays linear in the size of the logs. A match inside a run of
// exactly 40 hex digits is skipped: that is a SHA-1, a certificate's
// thumbprint, which is public, and which a PFX carries in the clear as its
// key's localKeyId.
func assertNoSecrets(t *testing.T, where, text string, secrets map[string]string) {
	t.Helper()
	windows := map[string]string{}
	for name, v := range secrets {
		switch {
		case v == "":
		case len(v) < leakWindow:
			if strings.Contains(text, v) {
				t.Errorf("%s holds the %s", where, name)
			}
		default:
			for i := 0; i+leakWindow <= len(v); i++ {
				windows[v[i:i+leakWindow]] = name
			}
		}
	}
	reported := map[string]bool{}
	for i := 0; i+leakWindow <= len(text); i++ {
		if name, ok := windows[text[i:i+leakWindow]]; ok && !reported[name] && !inSHA1(text, i) {
			reported[name] = true
			t.Errorf("%s holds %d characters of the %s at byte %d", where, leakWindow, name, i)
		}
	}
	if strings.Contains(text, "Bearer ") {
		t.Errorf("%s holds a bearer token", where)
	}
}

// inSHA1 reports whether the window at i lies in a run of exactly 40 hex
// digits.
func inSHA1(text string, i int) bool {
	isHex := func(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }
	start, end := i, i
	for start > 0 && isHex(text[start-1]) {
		start--
	}
	for end < len(text) && isHex(text[end]) {
		end++
	}
	return end-start == 40 && end >= i+leakWindow
}

// pfxForms is every way the bytes of a PFX could be written out: standard,
// raw, URL-safe and raw URL-safe base64, lower- and upper-case hex, and Go's
// %v of a byte slice.
func pfxForms(name string, pfx []byte) map[string]string {
	return map[string]string{
		name + " (base64)":          base64.StdEncoding.EncodeToString(pfx),
		name + " (raw base64)":      base64.RawStdEncoding.EncodeToString(pfx),
		name + " (url base64)":      base64.URLEncoding.EncodeToString(pfx),
		name + " (raw url base64)":  base64.RawURLEncoding.EncodeToString(pfx),
		name + " (hex)":             hex.EncodeToString(pfx),
		name + " (upper-case hex)":  strings.ToUpper(hex.EncodeToString(pfx)),
		name + " (%v of the bytes)": fmt.Sprint(pfx), //nolint:staticcheck // the "[48 130 …]" form is the leak looked for, not string(pfx)
	}
}

// withIssued adds what only the run itself knew to secrets: the re-encoded
// PFX and its password as Graph received them in each upload, and every
// access token Graph issued. It fails when there is nothing to add, which
// would mean the test exercised neither.
func withIssued(t *testing.T, fs *faultStack, secrets map[string]string) map[string]string {
	t.Helper()
	bodies := fs.tap.uploadBodies()
	if len(bodies) == 0 {
		t.Fatal("no upload was captured: the test cannot look for the re-encoded bytes")
	}
	for i, b := range bodies {
		var up struct {
			PKCS12Value string `json:"pkcs12Value"`
			Password    string `json:"password"`
		}
		if err := json.Unmarshal(b, &up); err != nil {
			t.Fatalf("reading captured upload %d: %v", i, err)
		}
		pfx, err := base64.StdEncoding.DecodeString(up.PKCS12Value)
		if err != nil || len(pfx) == 0 {
			t.Fatalf("captured upload %d holds no base64 PFX: %v", i, err)
		}
		maps.Copy(secrets, pfxForms(fmt.Sprintf("re-encoded pfx %d", i), pfx))
		secrets[fmt.Sprintf("upload password %d", i)] = up.Password
	}
	tokens := fs.graph.IssuedTokens()
	if len(tokens) == 0 {
		t.Fatal("graphsim issued no token: the test cannot look for it")
	}
	for i, tok := range tokens {
		secrets[fmt.Sprintf("graph access token %d", i)] = tok
	}
	return secrets
}

// TestSecretsStayOut drives successes and every kind of failure through the
// real pipeline with debug logging and checks that no PFX (in any
// encoding, as read or as re-encoded for Graph), password, Vault token,
// client secret or issued Graph token reaches a log line, an outcome or an
// error message.
func TestSecretsStayOut(t *testing.T) {
	t.Parallel()
	fs := setupFaults(t)
	s := fs.stack
	good := s.put(t, "b2c/good", validFor(t, 90*24*time.Hour, "hunter2-correct-horse"))
	bad := validFor(t, 90*24*time.Hour, "battery-staple-9000")
	s.vault.PutBundle(t, mount, "b2c/bad", bad.PFX, "not-"+bad.Password)
	s.vault.Put(t, mount, "b2c/notb64", map[string]any{"pfx": "%%%not base64 at all%%%", "password": good.Password})

	var outs []jobs.Outcome
	s.graph.FailNext(2, graphsim.Fault{Status: 429, RetryAfter: "1"})
	outs = append(outs, s.rotate(t, job("b2c/good", connectorIDs...), jobs.Request{})...)
	outs = append(outs, s.rotate(t, job("b2c/good", connectorIDs[0]), jobs.Request{Force: true})...)
	outs = append(outs, s.rotate(t, job("b2c/bad", connectorIDs[1]), jobs.Request{})...)
	outs = append(outs, s.rotate(t, job("b2c/notb64", connectorIDs[2]), jobs.Request{})...)
	s.graph.FailNext(10, graphsim.Fault{Status: 400, Code: "AADB2C90213"})
	outs = append(outs, s.rotate(t, job("b2c/good", connectorIDs[2]), jobs.Request{Force: true})...)

	failed := 0
	for _, o := range outs {
		if o.Status == contract.StatusFailed {
			failed++
		}
	}
	if failed < 3 {
		t.Fatalf("only %d failed outcomes: the test did not exercise the error paths", failed)
	}
	events, err := json.Marshal(outs)
	if err != nil {
		t.Fatalf("marshalling outcomes: %v", err)
	}
	secrets := map[string]string{
		"good password": good.Password,
		"bad password":  bad.Password,
		"vault token":   s.vault.Token,
		"client secret": secret,
	}
	maps.Copy(secrets, pfxForms("good pfx", good.PFX))
	maps.Copy(secrets, pfxForms("bad pfx", bad.PFX))
	secrets = withIssued(t, fs, secrets)
	assertNoSecrets(t, "outcomes", string(events), secrets)
	assertNoSecrets(t, "logs", s.logs.String(), secrets)
	if !strings.Contains(s.logs.String(), "rotation outcome") {
		t.Errorf("the logs hold no outcome line: the test captured nothing")
	}
}

// TestSecretsStayOutOfWorker sends good and bad requests through the worker
// and checks its events, logs, metrics and status page, with the secrets of
// TestSecretsStayOut.
func TestSecretsStayOutOfWorker(t *testing.T) {
	t.Parallel()
	fs := setupFaults(t)
	s := fs.stack
	good := s.put(t, "b2c/wgood", validFor(t, 90*24*time.Hour, "w0rker-correct-horse"))
	s.vault.PutBundle(t, mount, "b2c/wbad", good.PFX, "wrong-"+good.Password)
	j := job("b2c/wgood", connectorIDs[0])
	bad := job("b2c/wbad", connectorIDs[1])
	bad.Name = "bad-job"
	// One worker with both jobs: two workers of different job lists on one
	// consumer hand each other's requests back with a growing delay, which
	// could outlast the wait.
	f := newFleet(t)
	cfg := appConfig("w-secrets", f.url, j)
	cfg.Jobs = append(cfg.Jobs, bad)
	w := startWorker(t, s, cfg, nil, 0)
	f.publish(t, j.Name, "sec-good", `{"job":"contoso-api"}`)
	f.publish(t, bad.Name, "sec-bad", `{"job":"bad-job"}`)
	f.publish(t, j.Name, "sec-junk", `{"job":"contoso-api","password":"`+good.Password+`"}`)
	var all []string
	for _, id := range []string{"sec-good", "sec-bad", "sec-junk"} {
		for _, ev := range f.wait(t, id, 1) {
			b, _ := json.Marshal(ev)
			all = append(all, string(b))
		}
	}
	rec := httptest.NewRecorder()
	w.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	metrics := rec.Body.String()
	rec = httptest.NewRecorder()
	w.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	page := rec.Body.String()
	secrets := map[string]string{
		"password":      good.Password,
		"vault token":   s.vault.Token,
		"client secret": secret,
	}
	maps.Copy(secrets, pfxForms("pfx", good.PFX))
	secrets = withIssued(t, fs, secrets)
	assertNoSecrets(t, "events", strings.Join(all, "\n"), secrets)
	assertNoSecrets(t, "logs", s.logs.String(), secrets)
	assertNoSecrets(t, "metrics", metrics, secrets)
	assertNoSecrets(t, "status page", page, secrets)
	if !strings.Contains(metrics, "certrotator_rotations_total") || !strings.Contains(page, connectorIDs[0]) {
		t.Errorf("metrics or status page empty: the test looked at nothing")
	}
}
