package config

import (
	"fmt"
	"slices"
	"strings"
)

// Summary describes the config in a few lines for `certrotator validate`:
// the instance, the NATS mode, Vault, the tenants and each job with its
// connectors, schedule and policy. It holds no secret (URL user
// information is redacted).
func (c *Config) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "instance: %s\n", c.Instance)
	b.WriteString(c.natsSummary())
	if c.Vault.Address == "" {
		b.WriteString("vault: not configured\n")
	} else {
		fmt.Fprintf(&b, "vault: %s (auth %s)\n", redactURL(c.Vault.Address), c.Vault.Auth.Method)
	}
	names := make([]string, 0, len(c.Tenants))
	for k := range c.Tenants {
		names = append(names, k)
	}
	slices.Sort(names)
	fmt.Fprintf(&b, "tenants: %d", len(names))
	if len(names) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(names, ", "))
	}
	fmt.Fprintf(&b, "\njobs: %d\n", len(c.Jobs))
	for _, j := range c.Jobs {
		schedule := "none"
		if j.Schedule != "" {
			schedule = fmt.Sprintf("%q", j.Schedule)
		}
		fmt.Fprintf(&b, "  %s: %d connector(s), schedule %s, policy %s", j.Name, len(j.Connectors), schedule, j.Policy)
		if n := len(j.KeySets); n > 0 {
			fmt.Fprintf(&b, ", %d key set(s) (Graph beta)", n)
		}
		if j.Watch > 0 {
			fmt.Fprintf(&b, ", watch %s", j.Watch)
		}
		if p := j.Source.PKI; p != nil {
			fmt.Fprintf(&b, ", issued by %s/issue/%s", p.Mount, p.Role)
		}
		if len(j.Windows) > 0 {
			fmt.Fprintf(&b, ", %d change window(s)", len(j.Windows))
			if j.EmergencyWithin > 0 {
				fmt.Fprintf(&b, ", emergency within %s", j.EmergencyWithin)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString(c.notifySummary())
	fmt.Fprintf(&b, "http: %s\n", c.HTTP.Listen)
	return b.String()
}

func (c *Config) natsSummary() string {
	if c.NATS.URL != "" {
		return fmt.Sprintf("nats: external %s, subjects %s.>\n", redactURL(c.NATS.URL), c.NATS.SubjectPrefix)
	}
	listen := "in-process only"
	if c.NATS.Listen != "" {
		listen = "listening on " + c.NATS.Listen
	}
	return fmt.Sprintf("nats: embedded, store %s, %s, subjects %s.>\n", c.NATS.StoreDir, listen, c.NATS.SubjectPrefix)
}

// Publisher reports whether the config is a publisher's: NATS and nothing
// to rotate (no jobs, no tenants, no Vault). Such a config serves the
// commands that only publish requests and read outcomes (rotate, status,
// events, history) from CI or a laptop; `run` needs the worker's config.
func (c *Config) Publisher() bool {
	return len(c.Jobs) == 0 && len(c.Tenants) == 0 && c.Vault.Address == ""
}
