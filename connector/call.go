package connector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// bodyMax bounds how much of an answer is read.
const bodyMax = 4 << 20

// Get reads the API connector id of the tenant key tenant. Failures are
// *jobs.Failure: an unknown tenant key, a malformed id or a 4xx answer
// (ErrNotFound, ErrDenied…) are permanent; throttling, 5xx and network
// errors that outlast the retries are transient.
func (c *Client) Get(ctx context.Context, tenant, id string) (jobs.ConnectorState, error) {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	st, err := c.get(ctx, tenant, id)
	if err != nil {
		return jobs.ConnectorState{}, fmt.Errorf("getting connector %s: %w", id, err)
	}
	return st, nil
}

func (c *Client) get(ctx context.Context, tenant, id string) (jobs.ConnectorState, error) {
	tc, err := c.target(tenant, id)
	if err != nil {
		return jobs.ConnectorState{}, err
	}
	body, err := c.do(ctx, &request{tenant: tc, method: http.MethodGet, path: connectorPath(id), safe: true})
	if err != nil {
		return jobs.ConnectorState{}, err
	}
	return stateOf(body)
}

// Upload sends pfx (raw PKCS#12 bytes, base64-encoded here) and its
// password ("" for none) to the connector and returns the state Graph
// answered with. Failures are classified as for Get. A failure after which
// the upload may have taken effect (a network error once the request was
// sent, 500, 502, 504) is returned as transient at once rather than retried
// here: only a fresh read can tell whether the certificate arrived, and
// jobs makes that read before it uploads again.
func (c *Client) Upload(ctx context.Context, tenant, id string, pfx []byte, password string) (jobs.ConnectorState, error) {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	st, err := c.upload(ctx, tenant, id, pfx, password)
	if err != nil {
		return jobs.ConnectorState{}, fmt.Errorf("uploading certificate to connector %s: %w", id, err)
	}
	return st, nil
}

func (c *Client) upload(ctx context.Context, tenant, id string, pfx []byte, password string) (jobs.ConnectorState, error) {
	tc, err := c.target(tenant, id)
	if err != nil {
		return jobs.ConnectorState{}, err
	}
	payload, secrets, err := c.bodies.get(pfx, password)
	if err != nil {
		return jobs.ConnectorState{}, err
	}
	r := &request{tenant: tc, method: http.MethodPost, path: connectorPath(id) + "/uploadClientCertificate",
		body: payload, secrets: secrets}
	body, err := c.do(ctx, r)
	if err != nil {
		return jobs.ConnectorState{}, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		// Documented as 200 with the entity; read it if Graph sent none.
		return c.get(ctx, tenant, id)
	}
	return stateOf(body)
}

// uploadBody is the uploadClientCertificate action's parameters; both are
// required, so password is sent even when empty.
type uploadBody struct {
	PKCS12Value string `json:"pkcs12Value"`
	Password    string `json:"password"`
}

func connectorPath(id string) string {
	return "/v1.0/identity/apiConnectors/" + url.PathEscape(id)
}

func stateOf(body []byte) (jobs.ConnectorState, error) {
	st, err := parseState(body)
	if err != nil {
		return jobs.ConnectorState{}, jobs.Transient(CodeInvalidResponse, err)
	}
	return st, nil
}

// callContext applies Config.CallTimeout to one call.
func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.cfg.CallTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, c.cfg.CallTimeout)
}

// target finds the tenant and checks the id before any request is made.
func (c *Client) target(tenant, id string) (*tenantClient, error) {
	if !jobs.IsGUID(id) {
		return nil, jobs.Permanent(CodeInvalidConnectorID, fmt.Errorf("connector id %q is not a GUID", id))
	}
	return c.tenantNamed(tenant)
}

// tenantNamed is the configured tenant of that name; an unknown one is a
// permanent failure (the config names no such tenant).
func (c *Client) tenantNamed(tenant string) (*tenantClient, error) {
	tc, ok := c.tenants[tenant]
	if !ok {
		return nil, jobs.Permanent(CodeUnknownTenant, fmt.Errorf("no tenant %q configured", tenant))
	}
	return tc, nil
}

// request is one logical call; its attempts share it.
type request struct {
	tenant  *tenantClient
	method  string
	path    string // escaped, after the Graph root
	body    []byte
	secrets []string // values to scrub from error messages
	safe    bool     // retrying cannot repeat an effect
}

// callState is what the attempts of one call remember.
type callState struct {
	attempt      int    // HTTP attempts so far
	retries      int    // waits so far
	serverErrors int    // 500/502 retried so far
	refreshed    bool   // the token was refreshed after a 401
	callID       string // the first attempt's client-request-id, to chain the log lines
}

// attemptResult is one attempt's answer and what to do next.
type attemptResult struct {
	body            []byte // 2xx answer
	err             error  // *jobs.Failure, or a context error
	verdict         verdict
	gen             uint64 // credential generation of the token used
	status          int
	clientRequestID string
	requestID       string
	retryAfter      time.Duration
	hasRetryAfter   bool
}

// do runs the attempts of one call until success, a final failure, the
// retry budget or ctx ends it.
func (c *Client) do(ctx context.Context, r *request) ([]byte, error) {
	st := &callState{}
	for {
		st.attempt++
		res := c.attempt(ctx, r, st)
		if st.callID == "" {
			st.callID = res.clientRequestID
		}
		switch res.verdict {
		case verdictDone, verdictTransient:
			c.logAttempt(ctx, r, st, res, 0)
			return res.body, res.err
		case verdictRefresh:
			c.logAttempt(ctx, r, st, res, 0)
			st.refreshed = true
			if err := r.tenant.refresh(res.gen); err != nil {
				return nil, err
			}
			continue
		}
		wait, err := c.nextWait(ctx, st, res)
		c.logAttempt(ctx, r, st, res, wait)
		if err != nil {
			return nil, err
		}
		st.retries++
		if err := c.cfg.SleepFunc(ctx, wait); err != nil {
			return nil, interrupted(err, res.err)
		}
	}
}

// nextWait says how long to wait before the next attempt, or returns the
// failure to give up with (budget spent, or Retry-After too long to wait
// here, or past ctx's deadline), carrying the Retry-After when Graph sent
// one.
func (c *Client) nextWait(ctx context.Context, st *callState, res attemptResult) (time.Duration, error) {
	giveUp := func() error {
		f := jobs.AsFailure(res.err)
		return &jobs.Failure{Class: jobs.ClassTransient, Code: f.Code, RequestID: f.RequestID, RetryAfter: res.retryAfter, Err: f.Err}
	}
	if err := ctx.Err(); err != nil {
		// The answer raced the deadline: say that the call ran out of time.
		return 0, interrupted(err, res.err)
	}
	if st.retries >= c.cfg.MaxRetries {
		return 0, giveUp()
	}
	if !res.hasRetryAfter {
		wait := callBackoff.Delay(st.retries + 1)
		if outlasts(ctx, wait) {
			return 0, giveUp()
		}
		return wait, nil
	}
	if res.retryAfter > c.cfg.MaxRetryWait || outlasts(ctx, res.retryAfter) {
		return 0, giveUp()
	}
	return res.retryAfter, nil
}

// outlasts reports whether waiting d would end after ctx's deadline, in
// which case the wait is pointless: the call gives up at once and leaves
// the retry to a caller with time left.
func outlasts(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < d
}

// interrupted is the failure of a call whose wait ctx ended. It keeps the
// last answer's code and request id.
func interrupted(ctxErr, last error) error {
	code := contract.CodeCanceled
	if errors.Is(ctxErr, context.DeadlineExceeded) {
		code = contract.CodeTimeout
	}
	f := jobs.AsFailure(last)
	return &jobs.Failure{Class: jobs.ClassTransient, Code: code, RequestID: f.RequestID,
		Err: fmt.Errorf("waiting to retry: %w (last answer: %w)", ctxErr, f.Err)}
}

func (c *Client) logAttempt(ctx context.Context, r *request, st *callState, res attemptResult, wait time.Duration) {
	attrs := []any{
		"tenant", r.tenant.key, "method", r.method, "path", r.path, "status", res.status,
		"client_request_id", res.clientRequestID, "request_id", res.requestID, "call_id", st.callID,
		"attempt", st.attempt, "retry_in", wait,
	}
	if res.err != nil {
		f := jobs.AsFailure(res.err)
		attrs = append(attrs, "code", f.Code, "class", string(f.Class))
	}
	c.logger.DebugContext(ctx, "graph request", attrs...)
}
