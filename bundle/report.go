package bundle

import (
	"errors"
	"time"
)

// Verdicts of a Report.
const (
	VerdictOK     = "ok"
	VerdictStaged = "staged"
	VerdictReject = "reject"
)

// Problem is an Error as JSON.
type Problem struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// Report is the judgement `certrotator inspect` and `check-source` print.
type Report struct {
	Thumbprint  string     `json:"thumbprint,omitempty"`
	Subject     string     `json:"subject,omitempty"`
	Issuer      string     `json:"issuer,omitempty"`
	NotBefore   *time.Time `json:"not_before,omitempty"`
	NotAfter    *time.Time `json:"not_after,omitempty"`
	Key         string     `json:"key,omitempty"`
	ChainLength int        `json:"chain_length"` // certificates in the file, the leaf included
	Verdict     string     `json:"verdict"`
	Problems    []Problem  `json:"problems"` // never nil
}

// Judge decodes and validates a PFX and reports on it. It never fails:
// problems go into the report. The verdict is reject when there is any
// problem, staged when the leaf's notBefore is after now, else ok.
func Judge(pfx []byte, password string, now time.Time, minValidity time.Duration) Report {
	b, err := Decode(pfx, password)
	if err != nil {
		return Report{Verdict: VerdictReject, Problems: []Problem{problemOf(err)}}
	}
	nb, na := b.Leaf.NotBefore.UTC(), b.Leaf.NotAfter.UTC()
	r := Report{
		Thumbprint:  b.Thumbprint(),
		Subject:     b.Leaf.Subject.String(),
		Issuer:      b.Leaf.Issuer.String(),
		NotBefore:   &nb,
		NotAfter:    &na,
		Key:         b.KeyType(),
		ChainLength: 1 + len(b.Chain),
		Problems:    []Problem{},
	}
	for _, e := range b.Validate(now, minValidity) {
		r.Problems = append(r.Problems, problemOf(e))
	}
	switch {
	case len(r.Problems) > 0:
		r.Verdict = VerdictReject
	case b.Staged(now):
		r.Verdict = VerdictStaged
	default:
		r.Verdict = VerdictOK
	}
	return r
}

// problemOf turns an error from Decode or Validate into a Problem.
func problemOf(err error) Problem {
	if e, ok := errors.AsType[*Error](err); ok {
		return Problem{Code: e.Code, Message: e.Message}
	}
	return Problem{Code: CodeMalformed, Message: err.Error()}
}
