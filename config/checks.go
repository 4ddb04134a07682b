package config

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// isHTTPURL reports whether s is an absolute http(s) URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// isNATSURL reports whether s is a NATS server URL, or a comma-separated
// list of them as nats.go accepts.
func isNATSURL(s string) bool {
	for part := range strings.SplitSeq(s, ",") {
		u, err := url.Parse(strings.TrimSpace(part))
		if err != nil || u.Host == "" {
			return false
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return false
		}
	}
	return true
}

// redactURL hides the user information of a URL (or list of them) for a
// message: nats://user:pass@host becomes nats://REDACTED@host.
func redactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		at := strings.LastIndex(p, "@")
		if at < 0 {
			continue
		}
		start := strings.Index(p, "://") + 3
		if start < 3 || start > at {
			start = 0
		}
		parts[i] = p[:start] + "REDACTED" + p[at:]
	}
	return strings.Join(parts, ",")
}

// isHostPort reports whether s is host:port with a numeric port (the host
// may be empty, meaning every interface).
func isHostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

// isLoopback reports whether a host:port listens on the loopback only.
func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
