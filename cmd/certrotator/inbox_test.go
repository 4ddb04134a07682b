package main

import (
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/certrotator/certrotator/internal/testkit"
)

// TestInboxPrefixFromConfigAndContext: a user that may subscribe only to
// its own replies (_INBOX_ci.>) runs `status` when nats.inbox_prefix, or
// a nats context's inbox_prefix, names that prefix. Without the prefix its
// replies go to _INBOX.<random>, which the server refuses it, and the
// command says what to set.
func TestInboxPrefixFromConfigAndContext(t *testing.T) {
	t.Parallel()
	const password = "ci-pw-1"
	s := testkit.NATSWith(t, func(o *server.Options) {
		o.Users = []*server.User{{Username: "ci", Password: password, Permissions: &server.Permissions{
			Publish:   &server.SubjectPermission{Allow: []string{">"}},
			Subscribe: &server.SubjectPermission{Allow: []string{"_INBOX_ci.>"}},
		}}}
	})
	url := s.ClientURL()

	dir := t.TempDir()
	cfg := testkit.WriteFile(t, dir, "ci.yaml", "nats: {url: "+url+", user: ci, password: "+password+", inbox_prefix: _INBOX_ci}\n")
	code, out, errOut := runCLI(t, nil, "status", "-c", cfg)
	if code != exitOK || !strings.Contains(out, "JOB") || errOut != "" {
		t.Errorf("status with nats.inbox_prefix: exit %d out %q err %q", code, out, errOut)
	}

	// Without the prefix the replies are refused: the command says which
	// key to set, and exits 1 (retrying would not help), not 3.
	plain := testkit.WriteFile(t, dir, "plain.yaml", "nats: {url: "+url+", user: ci, password: "+password+"}\n")
	code, _, errOut = runCLI(t, nil, "status", "-c", plain)
	if code != exitFailed || !strings.Contains(errOut, "nats.inbox_prefix") || !strings.Contains(strings.ToLower(errOut), "_inbox.") {
		t.Errorf("status without nats.inbox_prefix: exit %d err %q", code, errOut)
	}

	home := natsContextHome(t, "ci", `{"url": "`+url+`", "user": "ci", "password": "`+password+`", "inbox_prefix": "_INBOX_ci"}`)
	code, out, errOut = runCLI(t, map[string]string{"HOME": home}, "status")
	if code != exitOK || !strings.Contains(out, "JOB") || errOut != "" {
		t.Errorf("status with a context's inbox_prefix: exit %d out %q err %q", code, out, errOut)
	}
}
