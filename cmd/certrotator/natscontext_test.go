package main

import (
	"strings"
	"testing"

	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/nats-io/nats-server/v2/server"
)

// authNATS starts a JetStream server that wants user ops with password and
// returns its URL.
func authNATS(t *testing.T, password string) string {
	t.Helper()
	s := testkit.NATSWith(t, func(o *server.Options) { o.Username, o.Password = "ops", password })
	return s.ClientURL()
}

// TestNATSContextCredentials: a context's user and password are used, a
// wrong one is refused, and neither a context's nor a URL's password shows
// in what the CLI prints.
func TestNATSContextCredentials(t *testing.T) {
	t.Parallel()
	const password = "ctx-s3cret-pw"
	url := authNATS(t, password)
	good := natsContextHome(t, "ops", `{"url": "`+url+`", "user": "ops", "password": "`+password+`"}`)
	code, out, errOut := runCLI(t, map[string]string{"HOME": good}, "status")
	if code != exitOK || !strings.Contains(out, "JOB") {
		t.Errorf("status with a context's credentials: exit %d out %q err %q", code, out, errOut)
	}
	bad := natsContextHome(t, "ops", `{"url": "`+url+`", "user": "ops", "password": "wrong-pw-123"}`)
	code, _, errOut = runCLI(t, map[string]string{"HOME": bad}, "status")
	if code != exitFailed || !strings.Contains(strings.ToLower(errOut), "authorization") || strings.Contains(errOut, "wrong-pw-123") {
		t.Errorf("status with a wrong password: exit %d err %q", code, errOut)
	}
	withPW := strings.Replace(url, "nats://", "nats://ops:wrong-pw-456@", 1)
	code, _, errOut = runCLI(t, map[string]string{"NATS_URL": withPW}, "events")
	if code != exitFailed || strings.Contains(errOut, "wrong-pw-456") || !strings.Contains(errOut, "ops:xxxxx@") {
		t.Errorf("events with a password in NATS_URL: exit %d err %q", code, errOut)
	}
	code, out, errOut = runCLI(t, map[string]string{"NATS_URL": strings.Replace(url, "nats://", "nats://ops:"+password+"@", 1)}, "status")
	if code != exitOK || !strings.Contains(out, "JOB") {
		t.Errorf("status with credentials in NATS_URL: exit %d out %q err %q", code, out, errOut)
	}
}

func TestExpandHome(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"~/a.creds": "/home/u/a.creds", "~": "/home/u", "/x/~/y": "/x/~/y", "~other/x": "~other/x", "": ""} {
		if got := expandHome(in, "/home/u"); got != want {
			t.Errorf("expandHome(%q) = %q, want %q", in, got, want)
		}
	}
}
