package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// responseExcerptMax bounds how much of a receiver's error answer is kept
// in an error: enough for Slack's "invalid_payload", never a whole page.
const responseExcerptMax = 200

// sendError is a delivery that failed; RetryAfter is the wait the
// receiver asked for (429 Retry-After), zero when none.
type sendError struct {
	err        error
	RetryAfter time.Duration
}

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

// postJSON encodes payload, a chat service's message (what: "message",
// "card"), as JSON and posts it to the kind's webhook (slack, teams).
func postJSON(ctx context.Context, client *http.Client, kind, what, rawURL string, payload any) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("encoding the %s %s: %w", kind, what, err)
	}
	return post(ctx, client, kind, rawURL, http.Header{"Content-Type": {"application/json"}}, body)
}

// post sends body to a webhook URL and succeeds on any 2xx. The URL is a
// secret (a Slack or Teams webhook URL is its own credential): no error
// it returns holds it, only what (the sink kind) was being posted to.
func post(ctx context.Context, client *http.Client, what, rawURL string, header http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building the request to the %s webhook: the URL does not parse", what)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error quotes the URL: keep only what went wrong.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return &sendError{err: fmt.Errorf("posting to the %s webhook: %w", what, err)}
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, responseExcerptMax))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	e := &sendError{err: fmt.Errorf("posting to the %s webhook: answered %s: %q", what, resp.Status, excerpt)}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}
