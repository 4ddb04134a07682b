package connector

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestReadBody(t *testing.T) {
	t.Parallel()
	const answer = `{"id":"c1","authenticationConfiguration":{}}`
	for _, c := range []struct {
		name   string
		length int64
	}{
		{"length as said", int64(len(answer))},
		{"unknown length", -1},
		{"longer than said", 10},
		{"shorter than said", int64(len(answer)) + 100},
	} {
		resp := &http.Response{ContentLength: c.length, Body: io.NopCloser(strings.NewReader(answer))}
		got, err := readBody(resp)
		if err != nil || string(got) != answer {
			t.Errorf("%s: readBody = %q, %v; want the whole answer", c.name, got, err)
		}
		if c.length == int64(len(answer)) && cap(got) != len(answer)+1 {
			t.Errorf("%s: buffer of %d bytes, want %d (one allocation of the said length)", c.name, cap(got), len(answer)+1)
		}
	}
	long := strings.Repeat("x", bodyMax+10)
	got, _ := readBody(&http.Response{ContentLength: -1, Body: io.NopCloser(strings.NewReader(long))})
	if len(got) != bodyMax {
		t.Errorf("an endless answer read %d bytes, want at most %d", len(got), bodyMax)
	}
}
