package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/worker"
)

// credentialWarnWithin is how close to its end one of the worker's own
// credentials must be for doctor to warn: the largest threshold at which
// the worker itself warns (30 days).
const credentialWarnWithin = 30 * 24 * time.Hour

// checkCredentials reads the expiry of the worker's own credentials as the
// worker does (ownCredentials): an expired one fails, one that ends within
// 30 days or cannot be read is a warning.
func (d *doctor) checkCredentials(cfg *config.Config) {
	for _, c := range ownCredentials(cfg, d.vault) {
		ctx, cancel := d.ctx()
		at, err := c.Expiry(ctx)
		cancel()
		d.report(credentialFinding(c, at, err, time.Now()))
	}
}

// credentialFinding judges one credential's expiry at now.
func credentialFinding(c worker.Credential, at time.Time, err error, now time.Time) finding {
	f := finding{Area: "creds", Check: credentialName(c), Verdict: verdictOK}
	renew := credentialRenewal(c)
	switch {
	case err != nil:
		f.Verdict, f.Detail = verdictWarn, "expiry unknown: "+err.Error()
		f.Fix = "the worker cannot warn before this credential expires until it can read its expiry"
	case at.IsZero():
		f.Detail = "never expires"
	case !at.After(now):
		f.Verdict, f.Detail, f.Fix = verdictFail, "expired at "+at.UTC().Format(time.RFC3339), renew
	default:
		f.Detail = fmt.Sprintf("expires %s (in %s)", at.UTC().Format(time.DateOnly), roundDays(at.Sub(now)))
		if at.Sub(now) <= credentialWarnWithin {
			f.Verdict, f.Fix = verdictWarn, renew
		}
	}
	return f
}

// credentialKinds names each kind of the worker's own credentials as
// doctor says it (the tenant follows) and says how to renew it.
var credentialKinds = map[string]struct{ name, renew string }{
	worker.CredentialClientCertificate: {"client certificate of tenant",
		"upload a new certificate to the app registration (Certificates & secrets), then replace client_certificate_file"},
	worker.CredentialClientSecret: {"client secret of tenant",
		"add a new client secret to the app registration, update the worker's secret and client_secret_expires, then remove the old one"},
	worker.CredentialVaultSecretID: {"vault AppRole secret id",
		"issue a new secret id (deploy/vault/approle.sh) and update secret_id_file before this one expires: the next login fails after it"},
}

func credentialName(c worker.Credential) string {
	name := c.Kind
	if k, ok := credentialKinds[c.Kind]; ok {
		name = k.name
	}
	return strings.TrimSpace(name + " " + c.Tenant)
}

func credentialRenewal(c worker.Credential) string {
	if k, ok := credentialKinds[c.Kind]; ok {
		return k.renew
	}
	return "renew it"
}

// roundDays writes d as whole days, or hours under two days.
func roundDays(d time.Duration) string {
	if d < 48*time.Hour {
		return d.Round(time.Hour).String()
	}
	return fmt.Sprintf("%d days", int(d/(24*time.Hour)))
}
