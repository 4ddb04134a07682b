package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/contract"
)

// CodeReencode is the error code when re-encoding a valid bundle fails.
const CodeReencode = "bundle_reencode"

// prepared is a job's bundle as read, decoded, validated and re-encoded
// once per run, shared read-only by every connector of the run.
type prepared struct {
	bundle   *bundle.Bundle // nil when the bundle could not be read or decoded
	cert     *CertInfo      // the leaf's description; nil when bundle is nil
	pfx      []byte         // what to upload: the re-encoded or the original bytes
	password string
	// err is set when no connector may be uploaded to: the source failed,
	// or the bundle is invalid (then bundle and cert may still be set).
	err error
}

// thumbprint returns the leaf's thumbprint, or "" when it is unknown.
func (p prepared) thumbprint() string {
	if p.cert == nil {
		return ""
	}
	return p.cert.Thumbprint
}

// candidate is the leaf as the rotation rules weigh it against what a
// connector or key set holds. Only for a bundle that was read (cert set).
func (p prepared) candidate() candidate {
	return candidate{Thumbprint: p.thumbprint(), NotBefore: p.cert.NotBefore, NotAfter: p.cert.NotAfter}
}

// prepareRun runs the issuance step (for jobs with source.pki), then reads
// the bundle to roll out: the version the request pins, the version just
// written, or the latest.
func (r *Rotator) prepareRun(ctx context.Context, job Job, req Request, dryRun bool) (prepared, IssueResult) {
	res, err := r.ensureIssued(ctx, job, req, dryRun)
	if err != nil {
		return prepared{err: err}, res
	}
	ref := job.Source
	ref.Version = cmp.Or(req.Version, res.Version)
	// Scheduled runs of one tick share their bundle reads; any other
	// trigger reads afresh.
	return r.prepare(ctx, job, ref, req.Trigger == contract.TriggerCron), res
}

// prepare reads the job's bundle at ref from the source, decodes and
// validates it at now, and re-encodes it when the job asks for it. Failures
// are classified: the source's own class, or permanent with the bundle
// problem's code.
func (r *Rotator) prepare(ctx context.Context, job Job, ref SourceRef, shared bool) prepared {
	var src *sourced
	if shared {
		src = r.cache.get(ctx, ref, r.now(), r.load(ref))
	} else {
		src = r.load(ref)(ctx)
	}
	if src.err != nil {
		return prepared{err: src.err}
	}
	b, m := src.b, src.m
	p := prepared{bundle: b, cert: bundleInfo(b, m.Version), pfx: m.PFX, password: m.Password}
	if errs := b.Validate(r.now(), cmp.Or(job.MinValidity, MinValidityDefault)); len(errs) > 0 {
		p.err = Permanent(string(errs[0].Code), fmt.Errorf("validating bundle %s: %w", p.cert.Thumbprint, problems(errs)))
		return p
	}
	if job.Reencode {
		enc, err := src.encoded()
		if err != nil {
			p.err = Permanent(CodeReencode, fmt.Errorf("re-encoding bundle %s: %w", p.cert.Thumbprint, err))
			return p
		}
		p.pfx = enc
	}
	return p
}

// load reads the bundle at ref and decodes it.
func (r *Rotator) load(ref SourceRef) func(context.Context) *sourced {
	return func(ctx context.Context) *sourced {
		m, err := r.cfg.Source.Fetch(ctx, ref)
		if err != nil {
			// The source names the bundle it was reading (see Source):
			// wrapping again printed "reading bundle X: reading bundle X: …".
			return &sourced{err: err}
		}
		return r.decoded(ctx, ref, m)
	}
}

// decoded returns the bundle m holds, decoding it unless the same version
// of the same path, with the same bytes and password, was decoded lately.
func (r *Rotator) decoded(ctx context.Context, ref SourceRef, m Material) *sourced {
	return r.decodes.get(ctx, decodeKeyOf(ref, m.Version), m, r.now(), func(ctx context.Context) *sourced {
		b, err := r.decode(ctx, m.PFX, m.Password)
		if err != nil {
			return &sourced{err: decodeFailure(err)}
		}
		return &sourced{m: m, b: b}
	})
}

// decodeFailure classifies a bundle.DecodeContext error: a bundle problem
// is permanent with the problem's code; the run's context ending is not the
// bundle's fault, and AsFailure makes it transient.
func decodeFailure(err error) error {
	be, ok := errors.AsType[*bundle.Error](err)
	if !ok {
		return fmt.Errorf("decoding bundle: %w", err)
	}
	return Permanent(string(be.Code), fmt.Errorf("decoding bundle: %w", err))
}

// bundleInfo describes the bundle's leaf for outcomes.
func bundleInfo(b *bundle.Bundle, version int) *CertInfo {
	return &CertInfo{
		Thumbprint:    strings.ToUpper(b.Thumbprint()),
		Subject:       b.Leaf.Subject.String(),
		NotBefore:     b.Leaf.NotBefore.UTC(),
		NotAfter:      b.Leaf.NotAfter.UTC(),
		SourceVersion: version,
	}
}

// problems lists every validation problem of a bundle on one line.
type problems []*bundle.Error

func (ps problems) Error() string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = p.Error()
	}
	return strings.Join(parts, "; ")
}

func (ps problems) Unwrap() []error {
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errs
}
