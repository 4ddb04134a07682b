package worker

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/retry"
)

// A connector (or a job) removed from the config leaves its entry in the
// status bucket, where `status` and the status page would show it for
// ever. The worker removes such an entry, but only once it is safe under a
// rolling config change, when replicas with the old and the new config run
// at once:
//
//   - an entry is a candidate when this replica's config has neither its
//     connector (<job>.<connector>) nor, for <job>._, its job;
//   - and it was last written StatusPruneAfter ago or more, judged from
//     the KV entry's own time (the server's, the same for every replica):
//     a replica that still has the connector rewrites its entry at each
//     run, and one that has just been given a new connector sees a fresh
//     entry;
//   - a replica looks first statusPruneEvery after it started, by when a
//     rolling change is over, then at that period;
//   - the delete names the revision it judged (compare-and-delete): an
//     entry rewritten meanwhile stays.
//
// Until then the page and `status` mark the entry "not configured".

// StatusPruneAfter is how long an entry absent from the config stays,
// counted from its last update (the contract's).
const StatusPruneAfter = contract.StatusPruneAfter

// statusPruneEvery is the period of the look for entries to remove.
const statusPruneEvery = time.Hour

// configured reports whether the status entry belongs to this replica's
// config: a configured connector or key set of a configured job (matched as the
// metrics match it, ignoring case), or the job's <job>._ entry (a request
// that failed before any connector).
func (s *shared) configured(e *statusEntry) bool {
	o := e.Record
	j, ok := s.job(o.Job)
	if !ok {
		return false
	}
	if o.Connector == "" {
		return true
	}
	return configuredTarget(j, o.TargetKind, o.Connector) // a connector, or a key set
}

// pruneLoop removes stale entries every statusPruneEvery until ctx ends.
func (v *statusView) pruneLoop(ctx context.Context) {
	clock := v.pruneClock
	if clock == nil {
		clock = retry.System
	}
	for {
		if err := retry.Sleep(ctx, clock, statusPruneEvery); err != nil {
			return
		}
		v.prune(ctx, clock.Now())
	}
}

// prune deletes every entry of the view that is not configured here and
// was last written StatusPruneAfter before now or earlier, each only at
// the revision the view holds. It returns the keys it deleted.
func (v *statusView) prune(ctx context.Context, now time.Time) []string {
	b := v.bus()
	if b == nil {
		return nil
	}
	entries, _ := v.snapshot()
	var deleted []string
	for _, e := range entries {
		if v.configured(e) || now.Sub(e.Updated) < StatusPruneAfter || e.rev == 0 {
			continue // a zero revision would make the delete unconditional
		}
		opCtx, cancel := context.WithTimeout(ctx, v.tune.opTimeout)
		err := b.status.Delete(opCtx, e.Key, jetstream.LastRevision(e.rev))
		cancel()
		var apiErr *jetstream.APIError
		switch {
		case err == nil:
			v.log.Info("removed the status entry of a connector no longer configured", "key", e.Key,
				"last_update", e.Updated.UTC())
			deleted = append(deleted, e.Key)
		case errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant):
			// rewritten since: a replica still has it, or another pruned it
		case ctx.Err() != nil:
			return deleted
		default:
			v.log.Warn("removing the status entry of a connector no longer configured", "key", e.Key, "error", err)
		}
	}
	return deleted
}
