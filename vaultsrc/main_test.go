package vaultsrc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certrotator/certrotator/jobs"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testPFX stands for a PKCS#12 file: Fetch does not parse bundles, so any
// bytes do, and these include every base64 alphabet edge.
var testPFX = func() []byte {
	b := make([]byte, 1500)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}()

// logBuffer collects a client's logs so that tests can check no secret
// reaches them; it also echoes them to the test's output.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	out io.Writer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	return b.out.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testLogger returns a debug logger writing to the test and to a buffer.
func testLogger(t *testing.T) (*slog.Logger, *logBuffer) {
	t.Helper()
	lb := &logBuffer{out: t.Output()}
	return slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})), lb
}

// testContext is a context bounded well under the test binary's timeout.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// stopOnCleanup stops c when the test ends, so goleak sees no renewal loop
// and no idle connection.
func stopOnCleanup(t *testing.T, c *Client) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
}

// wantFailure checks err is a jobs.Failure of the class and code, whose
// message holds every want string and none of the secrets.
func wantFailure(t *testing.T, err error, class jobs.Class, code string, want []string, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s %s", class, code)
	}
	var f *jobs.Failure
	if !errors.As(err, &f) {
		t.Fatalf("error %q is not a jobs.Failure", err)
	}
	if f.Class != class || f.Code != code {
		t.Errorf("got %s %s, want %s %s (error: %s)", f.Class, f.Code, class, code, err)
	}
	msg := err.Error()
	t.Logf("error: %s", msg)
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			t.Errorf("error %q holds a secret", msg)
		}
	}
}
