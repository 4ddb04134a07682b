package connector

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/uuid"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// attempt makes one HTTP exchange: a token, the request, the answer judged.
func (c *Client) attempt(ctx context.Context, r *request, st *callState) attemptResult {
	tok, gen, err := r.tenant.token(ctx)
	if err != nil {
		return tokenResult(ctx, err, gen)
	}
	if err := c.cfg.Budget.Take(ctx, c.limits[r.tenant.key]); err != nil {
		return attemptResult{gen: gen, err: budgetFailure(r.tenant.key, err), verdict: verdictDone}
	}
	res := attemptResult{gen: gen, clientRequestID: uuid.NewString()}
	// Config.Timeout bounds the exchange through its context rather than
	// http.Client.Timeout, which costs two goroutines per request in flight
	// (its timer's and the transport's legacy cancel watcher): thousands
	// of them, and their stacks, in a big tick's burst.
	xctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := c.newRequest(xctx, r, tok, res.clientRequestID)
	if err != nil {
		res.err, res.verdict = jobs.Permanent("invalid_request", err), verdictDone
		return res
	}
	resp, err := r.tenant.graph.Do(req)
	if err != nil {
		c.observe(0)
		return transportResult(ctx, res, r, c.exchangeError(xctx, err), notSent(err))
	}
	c.observe(resp.StatusCode)
	defer resp.Body.Close()
	body, err := readBody(resp)
	res.status, res.requestID = resp.StatusCode, resp.Header.Get("request-id")
	if err != nil {
		return transportResult(ctx, res, r, fmt.Errorf("reading answer: %w", c.exchangeError(xctx, err)), false)
	}
	if resp.StatusCode/100 == 2 {
		res.body, res.verdict = body, verdictDone
		return res
	}
	return c.judge(res, r, st, resp.Header, body, tok)
}

// judge turns an error answer into a failure and a verdict.
func (c *Client) judge(res attemptResult, r *request, st *callState, h http.Header, body []byte, tok string) attemptResult {
	gerr := parseGraphError(res.status, h, body, append([]string{tok}, r.secrets...))
	gerr.ClientRequestID = cmp.Or(gerr.ClientRequestID, res.clientRequestID)
	gerr.RetryAfter, res.hasRetryAfter = parseRetryAfter(h.Get("Retry-After"), c.cfg.NowFunc())
	res.retryAfter, res.requestID = gerr.RetryAfter, gerr.RequestID
	res.verdict = judgeStatus(res.status, gerr, st, r.safe)
	class := jobs.ClassTransient
	if res.verdict == verdictDone {
		class = jobs.ClassPermanent
	}
	code := cmp.Or(gerr.Code, fmt.Sprintf("http_%d", res.status))
	res.err = &jobs.Failure{Class: class, Code: code, RequestID: gerr.RequestID, RetryAfter: gerr.RetryAfter, Err: gerr}
	return res
}

// newRequest builds the HTTP request of one attempt.
func (c *Client) newRequest(ctx context.Context, r *request, tok, clientRequestID string) (*http.Request, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.tenant.graphURL+r.path, body)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", r.method, r.path, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("client-request-id", clientRequestID)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "certrotator")
	if r.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// tokenResult judges a token failure: retry a transient one (no Graph
// request was sent, so it is always safe), stop on a permanent one.
func tokenResult(ctx context.Context, err error, gen uint64) attemptResult {
	res := attemptResult{gen: gen, err: err, verdict: verdictDone}
	if ctx.Err() != nil {
		res.err = fmt.Errorf("getting token: %w", ctx.Err())
		return res
	}
	if jobs.AsFailure(err).Class == jobs.ClassTransient {
		res.verdict = verdictRetry
	}
	return res
}

// transportResult judges an exchange that got no complete answer. sent
// is false when the request surely never left.
func transportResult(ctx context.Context, res attemptResult, r *request, err error, notSent bool) attemptResult {
	if ctx.Err() != nil {
		res.err, res.verdict = fmt.Errorf("sending %s %s: %w", r.method, r.path, ctx.Err()), verdictDone
		return res
	}
	res.err = jobs.Transient(CodeNetwork, fmt.Errorf("sending %s %s: %w", r.method, r.path, err))
	res.verdict = verdictTransient
	if r.safe || notSent {
		res.verdict = verdictRetry
	}
	return res
}

// exchangeError says that the exchange ran out of Config.Timeout when it
// did (the caller's own deadline is transportResult's to report).
func (c *Client) exchangeError(xctx context.Context, err error) error {
	if errors.Is(xctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %s: %w", c.cfg.Timeout, err)
	}
	return err
}

// budgetFailure is the failure of a call whose turn under the tenant's
// budget did not come before ctx ended. It is transient; when the budget
// said how long the turn was, that is the RetryAfter, so that the worker
// comes back once there is room rather than after a blind backoff.
func budgetFailure(tenant string, err error) error {
	f := &jobs.Failure{Class: jobs.ClassTransient, Code: CodeBudget, Err: fmt.Errorf("pacing calls to tenant %s: %w", tenant, err)}
	var be *BudgetError
	switch {
	case errors.As(err, &be):
		f.RetryAfter = be.Wait
	case errors.Is(err, context.Canceled):
		f.Code = contract.CodeCanceled
	case errors.Is(err, context.DeadlineExceeded):
		f.Code = contract.CodeTimeout
	}
	return f
}

// observe reports one Graph exchange's status (0: no answer) to the
// caller's metrics, when it asked.
func (c *Client) observe(status int) {
	if c.cfg.ObserveFunc != nil {
		c.cfg.ObserveFunc(status)
	}
}

// readBody reads an answer of at most bodyMax bytes. When Graph says how
// long it is, the buffer is made that size at once: io.ReadAll's doubling
// from 512 bytes allocated twice the answer, 33 MB over a 10,000-connector
// tick.
func readBody(resp *http.Response) ([]byte, error) {
	r := io.LimitReader(resp.Body, bodyMax)
	n := resp.ContentLength
	if n <= 0 || n > bodyMax {
		return io.ReadAll(r)
	}
	buf := make([]byte, 0, n+1) // one more: room to see EOF without growing
	for {
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		switch {
		case errors.Is(err, io.EOF):
			return buf, nil
		case err != nil:
			return buf, err
		case len(buf) == cap(buf):
			// Longer than it said: the rest as before.
			rest, err := io.ReadAll(r)
			return append(buf, rest...), err
		}
	}
}
