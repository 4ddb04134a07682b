package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/certrotator/certrotator/contract"
)

// expiring applies rule 8 to a connector whose active certificate no bundle
// replaces in this run: when the certificate expires within one of the job's
// warning thresholds at now, it returns an expiring outcome for the smallest
// threshold crossed, unless Warnings says that threshold was already
// announced for this certificate. A Warnings error is logged and the warning
// is announced anyway: a duplicate beats a silent expiry.
func (r *Rotator) expiring(ctx context.Context, rn *run, ref ConnectorRef, active Certificate) (Outcome, bool) {
	now := r.now()
	threshold, ok := crossed(active.NotAfter.Sub(now), warnBefore(rn.job))
	if !ok {
		return Outcome{}, false
	}
	label := FormatThreshold(threshold)
	if !r.firstWarning(ctx, WarningKey(rn.job.Name, ref.ID, active.Thumbprint, label), "expiry") {
		return Outcome{}, false
	}
	info := activeInfo(&active)
	cert := *info
	return Outcome{
		Job:           rn.job.Name,
		Tenant:        ref.Tenant,
		Connector:     ref.ID,
		TargetKind:    KindConnector, // rotateKeySet sets KindKeySet
		RequestID:     rn.req.ID,
		Trigger:       rn.req.Trigger,
		RequestReason: rn.req.Reason,
		RequestedBy:   rn.req.RequestedBy,
		Status:        contract.StatusExpiring,
		Certificate:   &cert,
		Previous:      info,
		Attempt:       rn.req.Attempt,
		Final:         true,
		DaysLeft:      daysLeft(active.NotAfter.Sub(now)),
		Threshold:     label,
	}, true
}

// firstWarning reports whether the warning under key (what: expiry,
// superseded, unauthenticated) is announced: the first time its key is
// seen, or every time when there is no Warnings store. A store that cannot
// answer is logged and the warning announced anyway: a duplicate beats a
// silent one.
func (r *Rotator) firstWarning(ctx context.Context, key, what string) bool {
	if r.cfg.Warnings == nil {
		return true
	}
	first, err := r.cfg.Warnings.First(ctx, key)
	if err != nil {
		r.log.LogAttrs(ctx, slog.LevelWarn, "checking "+what+" warning", slog.String("key", key), slog.String("error", err.Error()))
		return true
	}
	return first
}

// warnBefore returns the job's thresholds: WarnBeforeDefault when the job
// sets none (nil); an empty, non-nil list turns warnings off.
func warnBefore(job Job) []time.Duration {
	if job.WarnBefore == nil {
		return WarnBeforeDefault()
	}
	return job.WarnBefore
}

// crossed returns the smallest threshold that left (the time until expiry)
// is within.
func crossed(left time.Duration, thresholds []time.Duration) (time.Duration, bool) {
	var best time.Duration
	found := false
	for _, t := range thresholds {
		if left <= t && (!found || t < best) {
			best, found = t, true
		}
	}
	return best, found
}

// daysLeft is the whole number of days in left, rounded down.
func daysLeft(left time.Duration) int {
	return int(math.Floor(left.Hours() / 24))
}

// Crossed is the smallest threshold that left is within, for the warnings
// the worker publishes beside a job's (its own credentials, certificates
// no job manages), so that all of them cross thresholds alike.
func Crossed(left time.Duration, thresholds []time.Duration) (time.Duration, bool) {
	return crossed(left, thresholds)
}

// DaysLeft is the whole number of days in left, rounded down.
func DaysLeft(left time.Duration) int { return daysLeft(left) }

// FormatThreshold writes a warning threshold as whole days ("7d") when it is
// one, else as whole hours ("36h"), else as time.Duration does.
func FormatThreshold(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d > 0 && d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	case d > 0 && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}

// WarningKey names one expiry warning for Warnings (contract.ExpiringKey).
func WarningKey(job, connector, thumbprint, threshold string) string {
	return contract.ExpiringKey(job, connector, thumbprint, threshold)
}
