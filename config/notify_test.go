package config

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/internal/testkit"
)

// notifyConfig is valid with a notify section appended; its first line is
// line 32.
func notifyConfig(section string) string { return valid + "notify:\n" + section }

// webhookSecret writes a Standard Webhooks secret of n random-looking
// bytes and returns its file and key.
func webhookSecret(t *testing.T, dir string, n int) (string, []byte) {
	t.Helper()
	key := bytes.Repeat([]byte{0xA5}, n)
	return testkit.WriteFile(t, dir, "whsec", "whsec_"+base64.StdEncoding.EncodeToString(key)+"\n"), key
}

func TestNotifyReadsEverySinkKind(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const slackURL = "https://hooks.slack.example/services/T0/B0/very-secret"
	urlFile := testkit.WriteFile(t, dir, "slack-url", slackURL+"\n")
	secretFile, key := webhookSecret(t, dir, 32)
	pw := testkit.WriteFile(t, dir, "smtp-pw", "smtp-password\n")
	c := mustParse(t, notifyConfig(`  - {name: oncall, kind: slack, url_file: `+urlFile+`}
  - {name: ops, kind: teams, url: "https://teams.example/workflows/x", on: [failed, succeeded], jobs: [contoso-api]}
  - {name: audit, kind: webhook, url: "http://127.0.0.1:8080/hook", secret_file: `+secretFile+`, on: [failed, expiring, succeeded, skipped]}
  - name: pki-team
    kind: email
    smtp: {address: "smtp.example:587", username: certrotator, password_file: `+pw+`, from: certrotator@example.org}
    to: [pki-team@example.org]
`), nil)
	want := []NotifySink{
		{Name: "oncall", Kind: NotifySlack, URL: slackURL, URLFile: urlFile, On: NotifyOnDefault()},
		{Name: "ops", Kind: NotifyTeams, URL: "https://teams.example/workflows/x", On: []string{"failed", "succeeded"}, Jobs: []string{"contoso-api"}},
		{Name: "audit", Kind: NotifyWebhook, URL: "http://127.0.0.1:8080/hook", SecretFile: secretFile, SigningKey: key, On: []string{"failed", "expiring", "succeeded", "skipped"}},
		{Name: "pki-team", Kind: NotifyEmail, On: NotifyOnDefault(), To: []string{"pki-team@example.org"},
			SMTP: SMTP{Address: "smtp.example:587", Username: "certrotator", Password: "smtp-password", PasswordFile: pw, From: "certrotator@example.org"}},
	}
	if !reflect.DeepEqual(c.Notify, want) {
		t.Errorf("Notify =\n%+v\nwant\n%+v", c.Notify, want)
	}
	sum := c.Summary()
	if !strings.Contains(sum, "notify: 4 sink(s)\n  oncall: slack on failed, expiring, superseded, unauthenticated, every job\n  ops: teams on failed, succeeded, contoso-api\n") || strings.Contains(sum, "very-secret") {
		t.Errorf("Summary lacks the sinks or shows a URL:\n%s", sum)
	}
}

func TestNotifyProblemsNameTheLineAndKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badSecret := testkit.WriteFile(t, dir, "bad-secret", "not-a-whsec\n")
	shortSecret, _ := webhookSecret(t, dir, 8)
	plainURL := testkit.WriteFile(t, dir, "plain-url", "http://hooks.example/secret-path-token\n")
	tests := []struct {
		name, section string
		want          []Problem
	}{
		{"no kind", "  - {name: a, url: \"https://h.example/x\"}\n",
			[]Problem{{32, "notify[0].kind", "required: one of slack, teams, webhook, email"}}},
		{"unknown kind", "  - {name: a, kind: pager, url: \"https://h.example/x\"}\n",
			[]Problem{{32, "notify[0].kind", `"pager" is not one of slack, teams, webhook, email`}}},
		{"bad name", "  - {name: \"a b\", kind: slack, url: \"https://h.example/x\"}\n",
			[]Problem{{32, "notify[0].name", `"a b" may hold only letters, digits, - and _, at most 64 (it names the sink's NATS consumer)`}}},
		{"duplicate name", "  - {name: a, kind: slack, url: \"https://h.example/x\"}\n  - {name: a, kind: teams, url: \"https://h.example/y\"}\n",
			[]Problem{{33, "notify[1].name", `duplicate sink name "a" (first at line 32): each sink has a durable consumer of its own named after it`}}},
		{"no url", "  - {name: a, kind: slack}\n",
			[]Problem{{32, "notify[0]", "needs url_file (or url): the slack webhook URL"}}},
		{"url not shown", "  - {name: a, kind: slack, url: \"ftp://secret-token@h.example/x\"}\n",
			[]Problem{{32, "notify[0].url", "is not an https URL (http only to a loopback address); the value is not shown, a webhook URL is a secret"}}},
		{"url file not https", "  - {name: a, kind: teams, url_file: " + plainURL + "}\n",
			[]Problem{{32, "notify[0].url_file", `"` + plainURL + `" does not hold an https URL (http only to a loopback address); its content is not shown, a webhook URL is a secret`}}},
		{"unknown on", "  - name: a\n    kind: slack\n    url: \"https://h.example/x\"\n    on: [failed, exploded]\n",
			[]Problem{{35, "notify[0].on[1]", `"exploded" is not one of failed, expiring, superseded, unauthenticated, succeeded, skipped`}}},
		{"unknown job", "  - name: a\n    kind: slack\n    url: \"https://h.example/x\"\n    jobs: [nope]\n",
			[]Problem{{35, "notify[0].jobs[0]", `"nope" is not a configured job (the jobs are: contoso-api)`}}},
		{"webhook without secret", "  - {name: a, kind: webhook, url: \"https://h.example/x\"}\n",
			[]Problem{{32, "notify[0].secret_file", "required for kind webhook: a file holding the Standard Webhooks signing secret (whsec_ followed by the base64 of 24 to 64 random bytes)"}}},
		{"webhook bad secret", "  - {name: a, kind: webhook, url: \"https://h.example/x\", secret_file: " + badSecret + "}\n",
			[]Problem{{32, "notify[0].secret_file", `"` + badSecret + `" does not hold a Standard Webhooks secret: whsec_ followed by standard base64 (make one with: echo whsec_$(head -c 32 /dev/urandom | base64))`}}},
		{"webhook short secret", "  - {name: a, kind: webhook, url: \"https://h.example/x\", secret_file: " + shortSecret + "}\n",
			[]Problem{{32, "notify[0].secret_file", `"` + shortSecret + `" holds a key of 8 bytes; Standard Webhooks asks for 24 to 64`}}},
		{"secret on slack", "  - {name: a, kind: slack, url: \"https://h.example/x\", secret_file: " + badSecret + "}\n",
			[]Problem{{32, "notify[0].secret_file", "only for kind webhook (a slack webhook URL is its own secret)"}}},
		{"email without smtp", "  - {name: a, kind: email, to: [x@example.org]}\n",
			[]Problem{{32, "notify[0].smtp", "required for kind email: {address: host:587, from: …}"}}},
		{"email bad parts", "  - name: a\n    kind: email\n    smtp: {address: nope, username: u, from: \"not an address\"}\n    to: [\"also not\"]\n",
			[]Problem{
				{34, "notify[0].smtp.address", `"nope" is not host:port`},
				{34, "notify[0].smtp.from", `"not an address" is not a mail address`},
				{34, "notify[0].smtp.password_file", "set username and password_file together, or neither for a relay that needs no login"},
				{35, "notify[0].to[0]", `"also not" is not a mail address`},
			}},
		{"email ca_file", "  - {name: a, kind: email, smtp: {address: \"m.example:587\", from: a@example.org, ca_file: " + badSecret + "}, to: [b@example.org]}\n",
			[]Problem{{32, "notify[0].smtp.ca_file", `"` + badSecret + `" holds no PEM certificate`}}},
		{"email with url", "  - {name: a, kind: email, url: \"https://h.example/x\", smtp: {address: \"m.example:587\", from: a@example.org}, to: [b@example.org]}\n",
			[]Problem{{32, "notify[0].url", "not for kind email (it uses smtp and to)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := problems(t, notifyConfig(tt.section), nil)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

// TestNotifySecretsNeverShown: a sink's URL, signing secret and SMTP
// password appear neither in a problem nor in a log line of the sink.
func TestNotifySecretsNeverShown(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const urlSecret, pwSecret = "xoxb-url-token-77", "pw-secret-77"
	secretFile, _ := webhookSecret(t, dir, 32)
	secretText, _ := os.ReadFile(secretFile)
	urlFile := testkit.WriteFile(t, dir, "url", "http://hooks.example/"+urlSecret+"\n")
	pw := testkit.WriteFile(t, dir, "pw", pwSecret+"\n")
	got := problems(t, notifyConfig(`  - {name: a, kind: webhook, url_file: `+urlFile+`, secret_file: `+secretFile+`, on: []}
  - {name: b, kind: email, smtp: {address: "m.example:587", password_file: `+pw+`, from: a@example.org}, to: [b@example.org]}
`), nil)
	var text strings.Builder
	for _, p := range got {
		text.WriteString(p.String() + "\n")
	}
	var logs bytes.Buffer
	c := mustParse(t, notifyConfig(`  - {name: a, kind: webhook, url: "https://hooks.example/`+urlSecret+`", secret_file: `+secretFile+`}
  - {name: b, kind: email, smtp: {address: "m.example:587", username: u, password_file: `+pw+`, from: a@example.org}, to: [b@example.org]}
`), nil)
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	for _, n := range c.Notify {
		logger.Info("sink", "sink", n)
	}
	for _, leak := range []string{urlSecret, pwSecret, strings.TrimSpace(string(secretText))} {
		if strings.Contains(text.String(), leak) || strings.Contains(logs.String(), leak) {
			t.Errorf("a secret %q leaked:\nproblems:\n%s\nlogs:\n%s", leak, text.String(), logs.String())
		}
	}
	if len(got) < 2 {
		t.Errorf("problems = %v, want the url and the empty on", got)
	}
}

// TestReferenceDocumentsNotifyKeys is TestReferenceDocumentsEveryKey for
// the notify sections, which the shared probe does not reach.
func TestReferenceDocumentsNotifyKeys(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "config.md"))
	if err != nil {
		t.Fatalf("reading the config reference: %v", err)
	}
	keys := acceptedKeys(t, schemaProbe+"notify: [{kind: email, smtp: {}}]\n")
	if !slices.Contains(keys, "notify[].smtp.from") {
		t.Fatalf("the probe did not reach notify[].smtp: %q", keys)
	}
	for _, k := range keys {
		if !strings.Contains(string(doc), "`"+k+"`") {
			t.Errorf("docs/config.md does not document `%s`", k)
		}
	}
}
