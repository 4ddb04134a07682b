package config

import (
	"strings"

	"github.com/certrotator/certrotator/jobs"
)

var natsKeys = []string{"url", "store_dir", "listen", "creds_file", "user", "password", "token", "nkey_file", "tls", "subject_prefix", "replicas", "inbox_prefix"}

// nats reads the `nats` section.
func (d *decoder) nats(s section) NATS {
	tls := s.sub("tls", "ca_file", "cert_file", "key_file")
	n := NATS{
		URL:       s.str("url", ""),
		StoreDir:  s.str("store_dir", StoreDirDefault),
		Listen:    s.str("listen", ""),
		CredsFile: s.str("creds_file", ""),
		User:      s.str("user", ""),
		NKeyFile:  s.str("nkey_file", ""),
		TLS: TLS{
			CAFile:   tls.str("ca_file", ""),
			CertFile: tls.str("cert_file", ""),
			KeyFile:  tls.str("key_file", ""),
		},
		SubjectPrefix: s.str("subject_prefix", SubjectPrefixDefault),
		Replicas:      s.integer("replicas", ReplicasDefault),
		InboxPrefix:   s.str("inbox_prefix", ""),
	}
	if s.has("password") {
		n.Password = d.secretString(s, "password")
	}
	if s.has("token") {
		n.Token = d.secretString(s, "token")
	}
	if n.Replicas < 1 || n.Replicas > ReplicasMax {
		s.problem("replicas", "must be 1 to %d (the servers in the cluster, at most 5), got %d", ReplicasMax, n.Replicas)
	} else if n.Replicas > 1 && n.URL == "" {
		s.problem("replicas", "the embedded server is a single server: set nats.url to a cluster, or replicas: 1")
	}
	if n.URL != "" && !isNATSURL(n.URL) {
		s.problem("url", "%q is not a nats://, tls://, ws:// or wss:// URL (leave it empty for the embedded server)", redactURL(n.URL))
	}
	if n.Listen != "" && !isHostPort(n.Listen) {
		s.problem("listen", "%q is not host:port", n.Listen)
	}
	if !jobs.ValidName(n.SubjectPrefix) {
		s.problem("subject_prefix", "%q may hold only letters, digits, - and _", n.SubjectPrefix)
	}
	if n.InboxPrefix != "" && !validInboxPrefix(n.InboxPrefix) {
		s.problem("inbox_prefix", "%q is not a subject prefix: give tokens of letters, digits, - and _ joined by dots, no wildcards, no trailing dot (e.g. _INBOX_publisher), or leave it empty for _INBOX", n.InboxPrefix)
	}
	d.natsAuth(s, n)
	d.embeddedAuth(s, n)
	if (n.TLS.CertFile == "") != (n.TLS.KeyFile == "") {
		tls.problem("cert_file", "cert_file and key_file go together")
	}
	return n
}

// natsAuth checks that at most one way of authenticating is set.
func (d *decoder) natsAuth(s section, n NATS) {
	var set []string
	for _, k := range []string{"creds_file", "user", "nkey_file", "token"} {
		if s.has(k) {
			set = append(set, k)
		}
	}
	if len(set) > 1 {
		s.problem(set[1], "use one of creds_file, user/password, token and nkey_file (%s is set too)", set[0])
	}
	if n.Password != "" && n.User == "" {
		s.problem("password", "needs user")
	}
}

// embeddedAuth refuses an embedded server that other hosts can reach
// without credentials: anyone there could take locks, forge outcomes and
// purge the request stream. The embedded server requires the user/password
// or token set here (nkeys and creds belong to an external server).
func (d *decoder) embeddedAuth(s section, n NATS) {
	if n.URL != "" || n.Listen == "" || !isHostPort(n.Listen) {
		return
	}
	if n.CredsFile != "" || n.NKeyFile != "" {
		s.problem("listen", "the embedded server takes user/password or token; creds_file and nkey_file are for an external server (nats.url)")
		return
	}
	if isLoopback(n.Listen) || n.Token != "" {
		return
	}
	if n.User != "" && n.Password == "" {
		// nats-server admits a client that sends the user name alone when
		// no password is configured: a user name is not a secret.
		s.problem("user", "is set without nats.password, so the embedded server on %q admits anyone who sends that user name: set nats.password (e.g. ${NATS_PASSWORD}), or use nats.token, or listen on 127.0.0.1", n.Listen)
		return
	}
	if n.User != "" {
		return
	}
	s.problem("listen", "%q lets clients on other hosts in without credentials: set nats.user and nats.password (or nats.token), or listen on 127.0.0.1", n.Listen)
}

// validInboxPrefix accepts a literal subject of plain tokens: nats.go takes
// any prefix without wildcards, but the NATS permissions that grant
// "<prefix>.>" are easiest to get right, and to read, with plain tokens.
func validInboxPrefix(p string) bool {
	for tok := range strings.SplitSeq(p, ".") {
		if tok == "" {
			return false
		}
		for _, c := range tok {
			if !(c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
				return false
			}
		}
	}
	return true
}
