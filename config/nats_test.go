package config

import (
	"strings"
	"testing"
)

func TestEmbeddedServerNeedsCredentialsOffLoopback(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		nats string
		want string // "" means valid
	}{
		{"listen: 127.0.0.1:4222", ""},
		{"listen: localhost:4222", ""},
		{"listen: 0.0.0.0:4222", "lets clients on other hosts in without credentials"},
		{"listen: ':4222'", "lets clients on other hosts in without credentials"},
		{"listen: 0.0.0.0:4222\n  user: w\n  password: p", ""},
		{"listen: 0.0.0.0:4222\n  token: t", ""},
		{"listen: 0.0.0.0:4222\n  user: w", "user: is set without nats.password"},
		{"listen: 127.0.0.1:4222\n  user: w", ""},
		{"url: nats://a:4222\n  user: w", ""},
		{"listen: 0.0.0.0:4222\n  creds_file: /c.creds", "creds_file and nkey_file are for an external server"},
		{"replicas: 3", "the embedded server is a single server"},
		{"url: nats://a:4222\n  replicas: 3", ""},
		{"url: nats://a:4222\n  replicas: 6", "must be 1 to 5"},
	} {
		doc := "instance: i\nnats:\n  " + tt.nats + "\n"
		_, err := Parse([]byte(doc), nil)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v", tt.nats, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: got %v, want a problem saying %q", tt.nats, err, tt.want)
		}
	}
}

func TestBounds(t *testing.T) {
	t.Parallel()
	for doc, want := range map[string]string{
		"instance: \"a\\nb\"\n":                  "instance: may hold only",
		"instance: i\nconcurrency: 1000000000\n": "concurrency: must be 1 to 1024",
	} {
		if _, err := Parse([]byte(doc), nil); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", doc, err, want)
		}
	}
	if _, err := ParseSchedule("@every 1ns"); err == nil || !strings.Contains(err.Error(), "at least 10s") {
		t.Errorf("@every 1ns: %v", err)
	}
}

func TestInboxPrefix(t *testing.T) {
	t.Parallel()
	for prefix, ok := range map[string]bool{
		"_INBOX_publisher": true, "_INBOX.ci-1": true, "_INBOX.*": false, "a..b": false, "_INBOX.": false,
		"_INBOX.>": false, "has space": false,
	} {
		cfg, err := Parse([]byte("instance: i\nnats: {url: nats://a:4222, inbox_prefix: \""+prefix+"\"}\n"), nil)
		switch {
		case ok && err != nil:
			t.Errorf("%q: %v", prefix, err)
		case ok && cfg.NATS.InboxPrefix != prefix:
			t.Errorf("%q: read as %q", prefix, cfg.NATS.InboxPrefix)
		case !ok && (err == nil || !strings.Contains(err.Error(), "nats.inbox_prefix")):
			t.Errorf("%q: got %v, want a problem naming nats.inbox_prefix", prefix, err)
		}
	}
}
