package jobs

import (
	"errors"
	"strings"
	"testing"
)

// TestSourceErrorIsNotWrappedTwice: the source already says which bundle it
// was reading; the outcome's message says it once.
func TestSourceErrorIsNotWrappedTwice(t *testing.T) {
	t.Parallel()
	job := testJob(1)
	g := newGraph()
	g.seed(job.Connectors[0].ID)
	cause := Permanent("source_not_found", errors.New("reading bundle secret/b2c/x: secret not found"))
	r := newTestRotator(t, failingSource(cause), g.connector(), nil)
	out := r.Rotate(t.Context(), job, Request{Job: job.Name})
	if len(out) != 1 || out[0].Error == nil {
		t.Fatalf("outcomes = %+v, want one failure", out)
	}
	if msg := out[0].Error.Message; strings.Count(msg, "reading bundle") != 1 || out[0].Error.Code != "source_not_found" {
		t.Errorf("error = %+v, want the source's words once and its code", out[0].Error)
	}
}
