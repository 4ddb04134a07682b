package bundle

import (
	"errors"
	"fmt"
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

// JudgeFile is Judge for the contents of a file given by an operator, such
// as `certrotator inspect` reads. A file of base64 text is base64-encoded
// once (the text the Vault field holds), where the same text reached
// through the Vault field would have been encoded twice; JudgeFile says
// so. data may be cut short after Base64SizeMax bytes: the caller need not
// read a larger file whole, and JudgeFile then reports it as too large.
func JudgeFile(data []byte, password string, now time.Time, minValidity time.Duration) Report {
	var e *Error
	switch {
	case len(data) > Base64SizeMax:
		e = errTooLarge(fmt.Sprintf("more than %d bytes", Base64SizeMax), fmt.Sprintf("%d bytes", SizeMax))
	case isBase64Text(data):
		e = errBase64File()
	default:
		return Judge(data, password, now, minValidity)
	}
	return Report{Verdict: VerdictReject, Problems: []Problem{problemOf(e)}}
}

// problemOf turns an error from Decode or Validate into a Problem.
func problemOf(err error) Problem {
	if e, ok := errors.AsType[*Error](err); ok {
		return Problem{Code: e.Code, Message: e.Message}
	}
	return Problem{Code: CodeMalformed, Message: err.Error()}
}
