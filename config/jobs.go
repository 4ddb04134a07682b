package config

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

var (
	jobKeys = []string{
		"name", "source", "schedule", "watch", "policy", "renew_before", "min_validity",
		"warn_before", "max_attempts", "reencode", "connectors", "probe", "windows", "emergency_within",
		"keysets",
	}
	sourceKeys = []string{"mount", "path", "pfx_field", "password_field", "pki"}
)

// binding remembers where a connector was first bound, to report a
// connector bound twice.
type binding struct {
	job  string
	line int
}

// jobList reads the `jobs` list.
func (d *decoder) jobList(root section, tenants map[string]Tenant) []jobs.Job {
	items := root.list("jobs")
	out := make([]jobs.Job, 0, len(items))
	names := map[string]int{}
	bound := map[string]binding{}
	for i, n := range items {
		s := d.section(n, fmt.Sprintf("jobs[%d]", i), resolve(n).Line, jobKeys...)
		j := d.job(s, tenants, bound)
		if first, dup := claimName(s, names, j.Name); dup {
			s.problem("name", "duplicate job name %q (first at line %d)", j.Name, first)
		}
		out = append(out, j)
	}
	return out
}

// job reads one job, with every default filled in.
func (d *decoder) job(s section, tenants map[string]Tenant, bound map[string]binding) jobs.Job {
	src := s.sub("source", sourceKeys...)
	j := jobs.Job{
		Name:        s.str("name", ""),
		Source:      d.source(src),
		Schedule:    s.str("schedule", ""),
		Watch:       d.watch(s),
		Policy:      jobs.Policy(s.str("policy", string(jobs.PolicyOnChange))),
		RenewBefore: d.renewBefore(s),
		MinValidity: s.duration("min_validity", jobs.MinValidityDefault),
		WarnBefore:  d.warnBefore(s),
		MaxAttempts: s.integer("max_attempts", jobs.MaxAttemptsDefault),
		Reencode:    s.boolean("reencode", true),
	}
	j.Source.PKI = d.pki(src, j.MinValidity)
	j.Connectors = d.connectors(s, j.Name, tenants, bound)
	j.KeySets = d.keySets(s, j.Name, tenants, bound)
	j.Probe = d.probe(s)
	j.Windows = d.windows(s)
	j.EmergencyWithin = d.emergencyWithin(s, s.has("windows"))
	switch {
	case j.Name == "":
		s.problem("name", "required")
	case !jobs.ValidName(j.Name):
		s.problem("name", "%q may hold only letters, digits, - and _", j.Name)
	}
	if j.Schedule != "" {
		sched, err := parseSchedule(j.Schedule)
		if err != nil {
			s.problem("schedule", "%q is not a schedule: %s", j.Schedule, err.Error())
		} else {
			j.Next = onGrid(sched)
		}
	}
	if j.Policy != jobs.PolicyOnChange && j.Policy != jobs.PolicyBeforeExpiry {
		s.problem("policy", "%q is not on-change or before-expiry", j.Policy)
	}
	if j.MinValidity < 0 {
		s.problem("min_validity", "must not be negative")
	}
	if j.MaxAttempts < 1 || j.MaxAttempts > MaxAttemptsMax {
		s.problem("max_attempts", "must be 1 to %d, got %d", MaxAttemptsMax, j.MaxAttempts)
	}
	return j
}

func (d *decoder) source(s section) jobs.SourceRef {
	ref := jobs.SourceRef{
		Mount:         s.str("mount", MountDefault),
		Path:          s.str("path", ""),
		PFXField:      s.str("pfx_field", PFXFieldDefault),
		PasswordField: s.str("password_field", PasswordFieldDefault),
	}
	if ref.Path == "" {
		s.problem("path", "required")
	}
	return ref
}

func (d *decoder) renewBefore(s section) jobs.RenewBefore {
	v, ok := s.scalar("renew_before", "a duration or a percentage")
	if !ok {
		return jobs.RenewBefore{Duration: jobs.RenewBeforeDefault}
	}
	rb, msg := parseRenewBefore(v)
	if msg != "" {
		s.problem("renew_before", "%s", msg)
		return jobs.RenewBefore{Duration: jobs.RenewBeforeDefault}
	}
	return rb
}

// warnBefore reads the expiry warning thresholds. An explicit empty list
// turns warnings off (a non-nil empty slice); absent means the defaults.
func (d *decoder) warnBefore(s section) []time.Duration {
	if !s.has("warn_before") {
		return jobs.WarnBeforeDefault()
	}
	items := s.list("warn_before")
	out := make([]time.Duration, 0, len(items))
	for i, n := range items {
		key := fmt.Sprintf("%s[%d]", s.key("warn_before"), i)
		v, ok := d.scalar(n, key, "a duration")
		if !ok {
			continue
		}
		w, ok := parseDuration(v)
		switch {
		case !ok:
			d.add(resolve(n).Line, key, "%q is not a duration (such as 720h or 30d)", v)
		case w <= 0:
			d.add(resolve(n).Line, key, "%q must be positive", v)
		default:
			out = append(out, w)
		}
	}
	return out
}

// connectors reads a job's connectors. IDs are lower-cased, as Graph
// writes them, so that subjects and status keys have one spelling.
func (d *decoder) connectors(s section, job string, tenants map[string]Tenant, bound map[string]binding) []jobs.ConnectorRef {
	items := s.list("connectors")
	if len(items) == 0 && len(s.list("keysets")) == 0 {
		s.problem("connectors", "a job needs at least one connector or key set (keysets)")
	}
	out := make([]jobs.ConnectorRef, 0, len(items))
	for i, n := range items {
		cs := d.section(n, fmt.Sprintf("%s[%d]", s.key("connectors"), i), resolve(n).Line, "tenant", "id")
		ref := jobs.ConnectorRef{Tenant: cs.str("tenant", ""), ID: strings.ToLower(cs.str("id", ""))}
		d.connectorTenant(cs, ref.Tenant, tenants)
		if d.connectorID(cs, ref.ID) {
			d.bind(cs, job, ref.ID, "connector", bound)
		}
		out = append(out, ref)
	}
	return out
}

func (d *decoder) connectorTenant(cs section, tenant string, tenants map[string]Tenant) {
	if tenant == "" {
		cs.problem("tenant", "required")
		return
	}
	if _, ok := tenants[tenant]; ok {
		return
	}
	known := make([]string, 0, len(tenants))
	for k := range tenants {
		known = append(known, k)
	}
	slices.Sort(known)
	if hint := suggest(tenant, known); hint != "" {
		cs.problem("tenant", "unknown tenant %q; did you mean %q?", tenant, hint)
		return
	}
	cs.problem("tenant", "unknown tenant %q (tenants: %s)", tenant, strings.Join(known, ", "))
}

// connectorID checks the id and reports whether it is a GUID.
func (d *decoder) connectorID(cs section, id string) bool {
	switch {
	case id == "":
		cs.problem("id", "required")
	case !jobs.IsGUID(id):
		cs.problem("id", "%q is not a GUID", id)
	default:
		return true
	}
	return false
}

// claimName records the line of section s's name in names, the names
// of a list's sections so far, unless an earlier section has it: then dup
// is true and first is that section's line. An empty name is never a
// duplicate (it is reported as missing).
func claimName(s section, names map[string]int, name string) (first int, dup bool) {
	if first, dup = names[name]; dup && name != "" {
		return first, true
	}
	names[name] = s.lineOf("name")
	return 0, false
}

// bind reports a target (a connector, a key set: what) bound twice, key
// being how bound knows it: within a job it is a duplicate, across jobs two
// bundles would fight over it.
func (d *decoder) bind(s section, job, key, what string, bound map[string]binding) {
	first, ok := bound[key]
	switch {
	case !ok:
		bound[key] = binding{job: job, line: s.lineOf("id")}
	case first.job == job:
		s.problem("id", "duplicate %s (first at line %d)", what, first.line)
	default:
		s.problem("id", "%s already bound to job %q (line %d)", what, first.job, first.line)
	}
}
