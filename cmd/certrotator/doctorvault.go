package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc"
)

// tokenShortTTL is how close to its end a token that cannot be renewed
// must be for doctor to warn: the worker would stop reading Vault soon.
const tokenShortTTL = 72 * time.Hour

// checkVault logs in as the worker does, then checks the token and each
// job's path. A failure to reach Vault or to log in skips the path checks,
// which could only repeat it.
func (d *doctor) checkVault(cfg *config.Config, off *offline) {
	addr := cfg.Vault.Address
	ctx, cancel := d.ctx()
	src, err := vaultsrc.New(ctx, off.vault)
	cancel()
	if err != nil {
		d.report(finding{Area: "vault", Check: "login (" + off.vault.Auth.Method + ")", Verdict: verdictFail,
			Detail: err.Error(), Fix: vaultFix(err, addr)})
		return
	}
	ctx, cancel = d.ctx()
	ti, err := src.LookupSelf(ctx)
	cancel()
	if f := jobs.AsFailure(err); f != nil && f.Code != vaultsrc.CodeDenied {
		d.report(finding{Area: "vault", Check: "reachable at " + addr, Verdict: verdictFail, Detail: err.Error(), Fix: vaultFix(err, addr)})
		return
	}
	d.report(finding{Area: "vault", Check: "reachable at " + addr, Verdict: verdictOK})
	d.vault = src
	if err != nil {
		d.report(finding{Area: "vault", Check: "token", Verdict: verdictFail, Detail: err.Error(), Fix: vaultFix(err, addr)})
		return
	}
	d.report(tokenFinding(ti))
	for _, j := range cfg.Jobs {
		d.report(d.vaultPath(src, j))
	}
}

// tokenFinding judges a valid token: the root policy and a token that
// will soon expire for good are warnings.
func tokenFinding(ti vaultsrc.TokenInfo) finding {
	f := finding{Area: "vault", Check: "token", Verdict: verdictOK,
		Detail: fmt.Sprintf("valid, policies %s", strings.Join(ti.Policies, ","))}
	if ti.TTL > 0 {
		f.Detail += fmt.Sprintf(", expires in %s", ti.TTL.Round(time.Second))
	}
	switch {
	case ti.Root():
		f.Verdict = verdictWarn
		f.Fix = "a root token may do anything: give the worker a token with only deploy/vault's policies (policy.hcl, and policy-pki.hcl for PKI jobs)"
	case ti.TTL > 0 && ti.TTL < tokenShortTTL && !ti.Renewable:
		f.Verdict = verdictWarn
		f.Fix = "the token cannot be renewed and expires soon: use token_file kept fresh by Vault Agent, or AppRole or Kubernetes auth"
	}
	return f
}

// vaultPath checks one job's KV path: its metadata, that its current
// version is live, that the token may read (and, for a PKI job, write) its
// data, and with --read-bundles the bundle itself.
func (d *doctor) vaultPath(src *vaultsrc.Client, j jobs.Job) finding {
	ref := j.Source
	mount := ref.Mount
	if mount == "" {
		mount = "secret"
	}
	where := mount + "/" + ref.Path
	f := finding{Area: "vault", Check: "job " + j.Name + " path " + where, Verdict: verdictFail}
	ctx, cancel := d.ctx()
	defer cancel()
	h, err := src.Versions(ctx, ref)
	if err != nil {
		f.Detail, f.Fix = err.Error(), vaultFix(err, "")
		if jobs.AsFailure(err).Code == vaultsrc.CodeDenied {
			f.Fix = "the token's policy must allow read on " + mount + "/metadata/" + ref.Path + " and " + mount + "/data/" + ref.Path + " (deploy/vault)"
		}
		return f
	}
	if fix, bad := d.pathCapabilities(src, j, mount); bad != "" {
		f.Detail, f.Fix = bad, fix
		return f
	}
	switch cur, ok := h.Version(h.Current); {
	case h.Current == 0 && ref.PKI != nil:
		f.Verdict, f.Detail = verdictOK, "no version yet; the first run issues one from "+ref.PKI.Mount
		return f
	case h.Current == 0:
		f.Detail = "no bundle written at " + where
		f.Fix = fmt.Sprintf("write one: vault kv put -mount=%s %s pfx=\"$(base64 -w0 bundle.pfx)\" password=@password.txt", mount, ref.Path)
		return f
	case ok && !cur.Live(time.Now()):
		f.Detail = fmt.Sprintf("current version %d is deleted or destroyed", h.Current)
		f.Fix = fmt.Sprintf("undelete it (vault kv undelete -mount=%s -versions=%d %s) or write a new version", mount, h.Current, ref.Path)
		return f
	}
	f.Verdict, f.Detail = verdictOK, fmt.Sprintf("version %d", h.Current)
	if d.readBundles {
		return d.judgeBundle(src, j, f)
	}
	return f
}

// pathCapabilities asks Vault whether the token may do on the job's paths
// what the worker will do, without doing it: read the bundle and, for a
// PKI job, write it, record its metadata, issue and revoke with the key
// (deploy/vault/policy-pki.hcl). It returns a problem and its fix, or ""
// when all is allowed.
func (d *doctor) pathCapabilities(src *vaultsrc.Client, j jobs.Job, mount string) (fix, problem string) {
	data := mount + "/data/" + j.Source.Path
	meta := mount + "/metadata/" + j.Source.Path
	paths := []string{data}
	var issue, revoke string
	if p := j.Source.PKI; p != nil {
		issue, revoke = p.Mount+"/issue/"+p.Role, p.Mount+"/revoke-with-key"
		paths = append(paths, meta, issue, revoke)
	}
	ctx, cancel := d.ctx()
	defer cancel()
	caps, err := src.Capabilities(ctx, paths...)
	if err != nil {
		// Not knowing is no failure: the metadata was readable.
		d.report(finding{Area: "vault", Check: "job " + j.Name + " capabilities", Verdict: verdictWarn, Detail: err.Error(),
			Fix: "allow update on sys/capabilities-self (deploy/vault/policy.hcl does) so doctor can check the data path"})
		return "", ""
	}
	if !vaultsrc.CanRead(caps[data]) {
		return "allow read on " + data + " in the token's policy (deploy/vault/policy.hcl)",
			fmt.Sprintf("the token may read the metadata but not the bundle (capabilities on %s: %s)", data, capList(caps[data]))
	}
	if issue == "" {
		return "", ""
	}
	for _, need := range []struct {
		path, what string
		caps       []string
	}{
		{data, "store issued bundles", []string{"create", "update"}},
		{meta, "record each issued version's serial", []string{"patch"}},
		{issue, "issue the job's certificate", []string{"update"}},
		{revoke, "revoke a certificate it issued and did not store", []string{"update"}},
	} {
		if !hasCap(caps[need.path], need.caps...) {
			return fmt.Sprintf("allow %s on %s so the worker can %s (deploy/vault/policy-pki.hcl)", strings.Join(need.caps, " and "), need.path, need.what),
				fmt.Sprintf("the token may not %s (capabilities on %s: %s)", need.what, need.path, capList(caps[need.path]))
		}
	}
	return "", ""
}

// hasCap reports whether caps hold every one of want, or root.
func hasCap(caps []string, want ...string) bool {
	for _, c := range caps {
		if c == "root" {
			return true
		}
	}
	for _, w := range want {
		found := false
		for _, c := range caps {
			found = found || c == w
		}
		if !found {
			return false
		}
	}
	return true
}

func capList(caps []string) string {
	if len(caps) == 0 {
		return "none"
	}
	return strings.Join(caps, ",")
}

// judgeBundle reads the bundle and judges it as the rotation would.
func (d *doctor) judgeBundle(src *vaultsrc.Client, j jobs.Job, f finding) finding {
	ctx, cancel := d.ctx()
	defer cancel()
	m, err := src.Fetch(ctx, j.Source)
	if err != nil {
		f.Verdict, f.Detail, f.Fix = verdictFail, err.Error(), vaultFix(err, "")
		return f
	}
	r := bundle.Judge(m.PFX, m.Password, time.Now(), j.MinValidity)
	f.Detail = fmt.Sprintf("version %d, %s, thumbprint %s", m.Version, r.Subject, r.Thumbprint)
	if r.NotAfter != nil {
		f.Detail += ", valid until " + r.NotAfter.UTC().Format(time.RFC3339)
	}
	switch r.Verdict {
	case bundle.VerdictReject:
		f.Verdict = verdictFail
		msgs := make([]string, 0, len(r.Problems))
		for _, p := range r.Problems {
			msgs = append(msgs, string(p.Code)+": "+p.Message)
		}
		f.Detail = fmt.Sprintf("version %d rejected: %s", m.Version, strings.Join(msgs, "; "))
		f.Fix = "write a valid bundle as a new version; `certrotator inspect FILE` judges a .pfx before you write it"
	case bundle.VerdictStaged:
		f.Verdict = verdictWarn
		f.Fix = "the certificate is not valid yet: it will be uploaded as staged"
	}
	return f
}

// vaultFix says what to do about an error from Vault, by its failure code.
func vaultFix(err error, addr string) string {
	switch jobs.AsFailure(err).Code {
	case vaultsrc.CodeUnavailable:
		return "check vault.address" + orEmpty(" ("+addr+")", addr) + ", that Vault is unsealed and active, and that this host may reach it"
	case vaultsrc.CodeDenied:
		return "give the worker a valid token (vault.auth.token or token_file), or check its AppRole/Kubernetes role"
	case vaultsrc.CodeConfig:
		return "check vault.auth and vault.ca_cert (the CA that signs Vault's certificate) and that the files they name are readable"
	case vaultsrc.CodeNotFound:
		return "check the job's source mount and path"
	}
	return "check the vault section of the config"
}

// orEmpty is s unless cond is empty.
func orEmpty(s, cond string) string {
	if cond == "" {
		return ""
	}
	return s
}
