package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// CodeWriteUnsettled: a write of an issued bundle failed and reading the
// path back could not tell whether it was stored. Transient: the retry
// reads the path again; the serial is left unrevoked, since it may be the
// one in KV.
const CodeWriteUnsettled = "issued_write_unsettled"

// settleTimeout bounds the reads that settle a write, which run even when
// the run's context ended: the certificate exists either way.
const settleTimeout = 30 * time.Second

// settleWrite decides what a failed write of nv (issued as iss, with
// check-and-set on cas) did, by reading version cas+1: a check-and-set on
// cas can only ever have made that version, so
//
//   - version cas+1 holds this run's certificate (same thumbprint): the
//     write was applied and only its answer was lost. It is rolled out.
//   - version cas+1 holds another certificate: another writer won. The
//     serial is revoked (with its key) and the winner's latest is rolled out.
//   - there is no version cas+1 and Vault refused the write (a 4xx): nothing
//     was stored; the serial is revoked and the refusal returned.
//   - there is no version cas+1 and the answer was lost: the write may still
//     land, so it is sent once more with the same check-and-set (which can
//     never make a second version) and that answer settled again.
//   - the path cannot be read: nothing is proven, nothing is revoked, and
//     the run fails transient with CodeWriteUnsettled.
func (r *Rotator) settleWrite(ctx context.Context, job Job, cas int, iss Issued, nv NewVersion, res IssueResult, werr error) (IssueResult, error) {
	return r.settle(ctx, job, cas, iss, nv, res, werr, true)
}

func (r *Rotator) settle(ctx context.Context, job Job, cas int, iss Issued, nv NewVersion, res IssueResult, werr error, again bool) (IssueResult, error) {
	where := job.Source.Mount + "/" + job.Source.Path
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	state, err := r.readBack(sctx, job, cas+1, nv.Thumbprint)
	attrs := []slog.Attr{slog.String("job", job.Name), slog.String("serial", iss.Serial), slog.Int("vault_version", cas+1),
		slog.String("write_error", werr.Error())}
	switch {
	case err != nil:
		r.log.LogAttrs(ctx, slog.LevelWarn, "issued bundle's write unsettled: serial left unrevoked", append(attrs, slog.String("error", err.Error()))...)
		return res, Transient(CodeWriteUnsettled, fmt.Errorf("writing issued bundle to %s with check-and-set on version %d: %w; reading version %d back to settle it: %w",
			where, cas, werr, cas+1, err))
	case state == writeOurs:
		r.log.LogAttrs(ctx, slog.LevelInfo, "issued bundle's write confirmed by reading it back", attrs...)
		res.Version = cas + 1
		return res, nil
	case state == writeTheirs:
		r.revoke(ctx, job, job.Source.PKI.Mount, iss, "another writer's version won the check-and-set")
		res.Lost = true // Version 0: the latest, the winner's or later
		return res, nil
	case errors.Is(werr, ErrWriteUnclear) || errors.Is(werr, ErrWriteConflict):
		if !again {
			r.log.LogAttrs(ctx, slog.LevelWarn, "issued bundle's write unsettled: serial left unrevoked", attrs...)
			return res, Transient(CodeWriteUnsettled, fmt.Errorf("writing issued bundle to %s with check-and-set on version %d: %w; version %d does not exist",
				where, cas, werr, cas+1))
		}
		// Nothing at cas+1: the same check-and-set again cannot make two.
		v, err := r.cfg.Writer.Write(ctx, job.Source, cas, nv)
		if err != nil {
			return r.settle(ctx, job, cas, iss, nv, res, err, false)
		}
		res.Version = v
		r.log.LogAttrs(ctx, slog.LevelInfo, "certificate issued", slog.String("job", job.Name),
			slog.String("serial", iss.Serial), slog.Int("vault_version", v), slog.Time("not_after", nv.NotAfter))
		return res, nil
	default:
		// Vault refused the write and nothing was stored.
		r.revoke(ctx, job, job.Source.PKI.Mount, iss, "the write was refused")
		return res, fmt.Errorf("writing issued bundle to %s/%s: %w", job.Source.Mount, job.Source.Path, werr)
	}
}

// What reading version cas+1 back says about a write.
const (
	writeAbsent = iota // no such version: nothing was stored (or not yet)
	writeOurs          // the run's own certificate
	writeTheirs        // another certificate
)

// readBack reads version n of the job's path and compares its leaf's
// thumbprint with thumb.
func (r *Rotator) readBack(ctx context.Context, job Job, n int, thumb string) (int, error) {
	h, err := r.cfg.Versions.Versions(ctx, job.Source)
	if err != nil {
		return 0, fmt.Errorf("reading versions: %w", err)
	}
	if h.Current < n {
		return writeAbsent, nil
	}
	ref := job.Source
	ref.Version = n
	m, err := r.cfg.Source.Fetch(ctx, ref)
	if err != nil {
		return 0, err // a deleted version cannot be compared: not proven
	}
	src := r.decoded(ctx, ref, m)
	switch {
	case src.err != nil && AsFailure(src.err).Class == ClassPermanent:
		return writeTheirs, nil // not a bundle: certainly not the one this run built
	case src.err != nil:
		return 0, src.err
	}
	if strings.EqualFold(src.b.Thumbprint(), thumb) {
		return writeOurs, nil
	}
	return writeTheirs, nil
}
