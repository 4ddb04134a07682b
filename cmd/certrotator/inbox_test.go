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
// replies would go to _INBOX.<random>, which the server refuses it.
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
	cfg := writeFile(t, dir, "ci.yaml", "nats: {url: "+url+", user: ci, password: "+password+", inbox_prefix: _INBOX_ci}\n")
	code, out, errOut := runCLI(t, nil, "status", "-c", cfg)
	if code != exitOK || !strings.Contains(out, "JOB") || errOut != "" {
		t.Errorf("status with nats.inbox_prefix: exit %d out %q err %q", code, out, errOut)
	}

	home := natsContextHome(t, "ci", `{"url": "`+url+`", "user": "ci", "password": "`+password+`", "inbox_prefix": "_INBOX_ci"}`)
	code, out, errOut = runCLI(t, map[string]string{"HOME": home}, "status")
	if code != exitOK || !strings.Contains(out, "JOB") || errOut != "" {
		t.Errorf("status with a context's inbox_prefix: exit %d out %q err %q", code, out, errOut)
	}
}
