package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/certrotator/certrotator/contract"
)

// Codes of issuance failures.
const (
	// CodeIssuerMissing: a job has source.pki but the Rotator has no
	// Issuer, Writer or VersionLister. Permanent.
	CodeIssuerMissing = contract.CodeIssuerMissing
	// CodeIssuedInvalid: the CA answered with something that does not make
	// a bundle (unparsable PEM, a key of another type than the job asks
	// for). Permanent; the certificate is revoked.
	CodeIssuedInvalid = contract.CodeIssuedInvalid
)

// Why a new certificate is due (IssueResult.Reason).
const (
	DueMissing     = "missing"      // the path holds no version yet
	DueGone        = "deleted"      // the current version is deleted or destroyed
	DueUnreadable  = "unreadable"   // the current version is not a usable bundle
	DueRenewWindow = "renew_window" // within renew_before (or min_validity) of its notAfter
)

// unusableCodes are the Source failure codes (see Source) that say the
// current version holds no usable bundle, which a fresh certificate fixes;
// a denied or rejected read is the operator's to fix and fails the run.
var unusableCodes = map[string]bool{contract.CodeSourceNotFound: true, contract.CodeSourceFieldMissing: true, contract.CodeBundleMalformed: true}

// IssueResult says what the issuance step did for one run.
type IssueResult struct {
	// Reason is why a certificate is due (a Due… constant), "" when the
	// current version is fine or the job does not issue.
	Reason string
	// Issued is set when a certificate was issued (never in a dry run).
	Issued bool
	// Serial is the issued certificate's serial.
	Serial string
	// Version is the KV version to roll out: the one written, or 0 to read
	// the latest (the current one, or the winner's after a lost race).
	Version int
	// Lost says another writer's version won the check-and-set: Serial was
	// revoked and the winner's version is rolled out.
	Lost bool
}

// ensureIssued is the issuance step that runs before the bundle is read.
// For a job with source.pki and a request that pins no version, it reads
// the path's metadata, decides whether a new certificate is due, and
// unless dryRun issues one, builds its PFX, and writes it with
// check-and-set on the version it read. A lost race revokes the serial.
func (r *Rotator) ensureIssued(ctx context.Context, job Job, req Request, dryRun bool) (IssueResult, error) {
	if job.Source.PKI == nil || req.Version > 0 {
		return IssueResult{}, nil
	}
	if r.cfg.Issuer == nil || r.cfg.Writer == nil || r.cfg.Versions == nil {
		return IssueResult{}, Permanent(CodeIssuerMissing, fmt.Errorf("issuing for job %s: no Vault PKI issuer configured", job.Name))
	}
	h, err := r.cfg.Versions.Versions(ctx, job.Source)
	if err != nil {
		return IssueResult{}, fmt.Errorf("reading versions of %s/%s: %w", job.Source.Mount, job.Source.Path, err)
	}
	reason, err := r.dueReason(ctx, job, h)
	if err != nil || reason == "" || dryRun {
		return IssueResult{Reason: reason}, err
	}
	res, err := r.issueAndWrite(ctx, job, h.Current)
	res.Reason = reason
	return res, err
}

// dueReason says why the job needs a new certificate given its path's
// metadata, or "" when the current version's certificate is still good:
// valid for more than min_validity and not within renew_before of expiry.
func (r *Rotator) dueReason(ctx context.Context, job Job, h History) (string, error) {
	if h.Current == 0 {
		return DueMissing, nil
	}
	if v, ok := h.Version(h.Current); ok && !v.Live(r.now()) {
		return DueGone, nil
	}
	ref := job.Source
	ref.Version = h.Current
	m, err := r.cfg.Source.Fetch(ctx, ref)
	if err != nil {
		if f := AsFailure(err); f.Class == ClassPermanent && unusableCodes[f.Code] {
			return DueUnreadable, nil
		}
		return "", err // the source names the bundle and version (see Source)
	}
	src := r.decoded(ctx, ref, m)
	if src.err != nil {
		if ctx.Err() != nil {
			return "", src.err
		}
		return DueUnreadable, nil
	}
	b := src.b
	now := r.now()
	active := Certificate{NotBefore: b.Leaf.NotBefore, NotAfter: b.Leaf.NotAfter}
	if due(active, job.RenewBefore, now) || b.Leaf.NotAfter.Sub(now) < job.MinValidity {
		return DueRenewWindow, nil
	}
	return "", nil
}

// issueAndWrite issues a certificate, builds its bundle and writes it as
// the version after cas. A write that fails is settled by reading version
// cas+1, the only one this run's check-and-set can have made (see
// settleWrite): the serial is revoked only when that proves it was not
// stored, so that a lost answer never revokes the certificate rolled out.
func (r *Rotator) issueAndWrite(ctx context.Context, job Job, cas int) (IssueResult, error) {
	pki := *job.Source.PKI
	iss, err := r.cfg.Issuer.Issue(ctx, pki)
	if err != nil {
		return IssueResult{}, fmt.Errorf("issuing from %s/issue/%s: %w", pki.Mount, pki.Role, err)
	}
	res := IssueResult{Issued: true, Serial: iss.Serial}
	nv, err := buildVersion(iss, pki)
	if err != nil {
		r.revoke(ctx, job, pki.Mount, iss, "issued certificate unusable")
		return res, err
	}
	// The bundle is in KV after this (or lost); the run reads it back from
	// there, and settling a failed write may send it once more.
	defer clear(nv.PFX)
	v, err := r.cfg.Writer.Write(ctx, job.Source, cas, nv)
	if err != nil {
		return r.settleWrite(ctx, job, cas, iss, nv, res, err)
	}
	res.Version = v
	r.log.LogAttrs(ctx, slog.LevelInfo, "certificate issued", slog.String("job", job.Name),
		slog.String("serial", iss.Serial), slog.Int("vault_version", v), slog.Time("not_after", nv.NotAfter))
	return res, nil
}

// revoke revokes a certificate this run issued and proved it will not roll
// out, with its own key. A failed revocation is logged, not returned: the
// run's own result matters more, and the certificate's short life bounds
// the harm.
func (r *Rotator) revoke(ctx context.Context, job Job, mount string, iss Issued, why string) {
	// A canceled run still revokes: the certificate exists either way.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	level, msg := slog.LevelInfo, "issued certificate revoked"
	attrs := []slog.Attr{slog.String("job", job.Name), slog.String("serial", iss.Serial), slog.String("why", why)}
	if err := r.cfg.Issuer.Revoke(ctx, mount, iss); err != nil {
		level, msg = slog.LevelWarn, "revoking issued certificate"
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	r.log.LogAttrs(ctx, level, msg, attrs...)
}
