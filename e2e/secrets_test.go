package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/jobs"
)

// assertNoSecrets fails when any secret, or a telltale slice of one, shows
// up in text.
func assertNoSecrets(t *testing.T, where, text string, secrets map[string]string) {
	t.Helper()
	for name, v := range secrets {
		if v == "" {
			continue
		}
		if strings.Contains(text, v) {
			t.Errorf("%s holds the %s", where, name)
		}
		if len(v) > 64 && strings.Contains(text, v[:64]) {
			t.Errorf("%s holds the start of the %s", where, name)
		}
	}
	if strings.Contains(text, "Bearer ") {
		t.Errorf("%s holds a bearer token", where)
	}
}

// TestSecretsStayOut drives successes and every kind of failure through the
// real pipeline with debug logging and checks that no PFX, password, Vault
// token or client secret reaches a log line, an outcome or an error message.
func TestSecretsStayOut(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	good := validFor(t, 90*24*time.Hour, "hunter2-correct-horse")
	bad := validFor(t, 90*24*time.Hour, "battery-staple-9000")
	s.vault.PutBundle(t, mount, "b2c/good", good.PFX, good.Password)
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
		if o.Status == jobs.StatusFailed {
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
		"good pfx":      base64.StdEncoding.EncodeToString(good.PFX),
		"bad pfx":       base64.StdEncoding.EncodeToString(bad.PFX),
		"vault token":   s.vault.Token,
		"client secret": secret,
	}
	assertNoSecrets(t, "outcomes", string(events), secrets)
	assertNoSecrets(t, "logs", s.logs.String(), secrets)
	if !strings.Contains(s.logs.String(), "rotation outcome") {
		t.Errorf("the logs hold no outcome line: the test captured nothing")
	}
}

// TestSecretsStayOutOfWorker sends good and bad requests through the worker
// and checks its events, logs, metrics and status page.
func TestSecretsStayOutOfWorker(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	good := validFor(t, 90*24*time.Hour, "w0rker-correct-horse")
	s.vault.PutBundle(t, mount, "b2c/wgood", good.PFX, good.Password)
	s.vault.PutBundle(t, mount, "b2c/wbad", good.PFX, "wrong-"+good.Password)
	ns := natsServer(t, "")
	j := job("b2c/wgood", connectorIDs[0])
	w := startWorker(t, s, appConfig("w-secrets", ns.ClientURL(), j), nil, 0)
	bad := job("b2c/wbad", connectorIDs[1])
	bad.Name = "bad-job"
	startWorker(t, s, appConfig("w-secrets-bad", ns.ClientURL(), bad), nil, 0)
	nc := connect(t, ns.ClientURL())
	ch := events(t, nc)
	publish(t, nc, j.Name, "sec-good", `{"job":"contoso-api"}`)
	publish(t, nc, bad.Name, "sec-bad", `{"job":"bad-job"}`)
	publish(t, nc, j.Name, "sec-junk", `{"job":"contoso-api","password":"`+good.Password+`"}`)
	var all []string
	for _, id := range []string{"sec-good", "sec-bad", "sec-junk"} {
		for _, ev := range waitEvents(t, ch, id, 1) {
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
		"pfx":           base64.StdEncoding.EncodeToString(good.PFX),
		"vault token":   s.vault.Token,
		"client secret": secret,
	}
	assertNoSecrets(t, "events", strings.Join(all, "\n"), secrets)
	assertNoSecrets(t, "logs", s.logs.String(), secrets)
	assertNoSecrets(t, "metrics", metrics, secrets)
	assertNoSecrets(t, "status page", page, secrets)
	if !strings.Contains(metrics, "certrotator_rotations_total") || !strings.Contains(page, connectorIDs[0]) {
		t.Errorf("metrics or status page empty: the test looked at nothing")
	}
}
