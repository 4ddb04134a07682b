package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// ConcurrencyDefault bounds how many connectors of one job are handled at once.
const ConcurrencyDefault = 4

// Warnings remembers which expiry warnings were already published, so that
// each threshold is announced once per certificate. First reports whether
// key is new (and records it). A nil Warnings announces every time.
type Warnings interface {
	First(ctx context.Context, key string) (bool, error)
}

// Config configures a Rotator. Source and Connector are required.
type Config struct {
	Source      Source
	Connector   Connector
	Warnings    Warnings         // optional
	NowFunc     func() time.Time // defaults to time.Now
	Concurrency int              // connectors at once per run; defaults to ConcurrencyDefault
	Logger      *slog.Logger     // defaults to a discarding logger
}

// Rotator runs the rotation pipeline. It is safe for concurrent use.
type Rotator struct {
	cfg Config
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Rotator, error) {
	return nil, errors.New("jobs: not implemented")
}

// Rotate runs one request for one job and returns one Outcome per connector
// in play (plus expiring warnings). A request naming a connector the job does
// not bind yields a single bad_request outcome. It never returns an empty
// slice.
func (r *Rotator) Rotate(ctx context.Context, job Job, req Request) []Outcome {
	return nil
}

// Decision is what a rotation would do for one connector; Plan returns them.
type Decision struct {
	Job            string     `json:"job"`
	Tenant         string     `json:"tenant"`
	Connector      string     `json:"connector"`
	Active         *CertInfo  `json:"active"`           // the connector's active certificate, nil when none
	ActiveDaysLeft *int       `json:"active_days_left"` // days until Active expires
	Bundle         *CertInfo  `json:"bundle"`           // nil when the bundle could not be read or decoded
	Action         string     `json:"action"`           // "upload", "skip" or "fail"
	Reason         string     `json:"reason"`           // skip reason, or "" for upload
	Staged         bool       `json:"staged"`
	Error          *ErrorInfo `json:"error"`
}

// Plan reads the bundle and every connector and says what Rotate would do,
// changing nothing.
func (r *Rotator) Plan(ctx context.Context, job Job, req Request) []Decision {
	return nil
}

// BadRequest builds the single failed outcome for a request that failed
// before any connector was in play.
func BadRequest(job string, req Request, err error) Outcome {
	return Outcome{}
}
