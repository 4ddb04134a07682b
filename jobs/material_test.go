package jobs

import (
	"context"
	"errors"
	"testing"

	"github.com/certrotator/certrotator/bundle"
)

// TestDecodeFailureClass checks that a bundle problem fails a run for
// good, while a run whose context ended during decoding may be retried.
func TestDecodeFailureClass(t *testing.T) {
	t.Parallel()
	_, problem := bundle.Decode([]byte("not a pfx at all"), "")
	tests := []struct {
		name  string
		err   error
		class Class
		code  string
	}{
		{"bundle problem", problem, ClassPermanent, string(bundle.CodeMalformed)},
		{"canceled", context.Canceled, ClassTransient, "canceled"},
		{"deadline", context.DeadlineExceeded, ClassTransient, "timeout"},
	}
	for _, tt := range tests {
		err := decodeFailure(tt.err)
		f := AsFailure(err)
		if f.Class != tt.class || f.Code != tt.code || !errors.Is(err, tt.err) {
			t.Errorf("%s: decodeFailure() = %v (%s, %s), want %s, %s wrapping the error", tt.name, err, f.Class, f.Code, tt.class, tt.code)
		}
	}
}
