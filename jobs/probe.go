package jobs

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/contract"
)

// Probe codes and the warning status. A rejection is transient: the API's
// owner may add the trust later, and the job's last attempt is final.
const (
	// CodeAPIRejectsCertificate: the API behind the connector refused the
	// bundle's certificate (a TLS alert or a status not accepted); nothing
	// was uploaded.
	CodeAPIRejectsCertificate = contract.CodeAPIRejectsCertificate
	// CodeProbeFailed: the probe got no verdict (the API unreachable, its
	// server certificate untrusted, no URL to call); nothing was uploaded.
	CodeProbeFailed = contract.CodeProbeFailed
	// StatusUnauthenticated is the status of the warning that the API
	// accepted a call with no client certificate at all (event type
	// certrotator.api.unauthenticated): the certificate then protects
	// nothing. It is announced once per connector per day.
	StatusUnauthenticated = contract.StatusUnauthenticated
	// ProbeTimeoutDefault bounds one probe call when the job sets none.
	ProbeTimeoutDefault = 10 * time.Second
)

// ProbeSpec is a job's `probe`: how to ask the API behind its connectors
// whether it accepts a certificate before that certificate is uploaded.
type ProbeSpec struct {
	URL          string        // "" calls the connector's targetUrl as Graph returns it
	Method       string        // POST by default
	Body         string        // `{}` by default, sent as application/json
	AcceptStatus []int         // exactly the statuses that mean accepted; nil: any but RejectStatuses
	CAFile       string        // the API's server CA; "" trusts the system roots
	Timeout      time.Duration // one call's bound; ProbeTimeoutDefault when 0
}

// RejectStatuses are the HTTP answers that mean "certificate refused" when
// a job sets no accept_status: 401, 403, and nginx's 495 and 496.
var RejectStatuses = []int{401, 403, 495, 496}

// ProbeCall is one call of the API: with Client nil, the call carries no
// client certificate (the unauthenticated check).
type ProbeCall struct {
	URL    string
	Spec   ProbeSpec
	Client *bundle.Bundle `json:"-"`
}

// ProbeAnswer is what the API answered: an HTTP status, or the TLS alert
// with which it ended the handshake. Excerpt is a bounded, escaped start of
// the body, never more.
type ProbeAnswer struct {
	Status  int
	Alert   string // e.g. "bad certificate", "unknown certificate authority"
	Excerpt string
}

// Accepted reports whether the answer means the API accepts the
// certificate under spec.
func (a ProbeAnswer) Accepted(spec ProbeSpec) bool {
	switch {
	case a.Alert != "" || a.Status == 0:
		return false
	case len(spec.AcceptStatus) > 0:
		return slices.Contains(spec.AcceptStatus, a.Status)
	}
	return !slices.Contains(RejectStatuses, a.Status)
}

// String says what the API answered, for an outcome's message.
func (a ProbeAnswer) String() string {
	var parts []string
	if a.Alert != "" {
		parts = append(parts, "TLS alert "+a.Alert)
	}
	if a.Status != 0 {
		parts = append(parts, fmt.Sprintf("HTTP %d", a.Status))
	}
	if a.Excerpt != "" {
		parts = append(parts, "body "+a.Excerpt)
	}
	return strings.Join(parts, ", ")
}

// Prober calls the API behind a connector over HTTPS. It returns the API's
// answer, or an error when it got none (unreachable, timed out, the
// server's certificate untrusted). The HTTPS implementation lives in package
// probe so that jobs stays free of net/http.
type Prober interface {
	Probe(ctx context.Context, call ProbeCall) (ProbeAnswer, error)
}

// ProbeVerdict is the probe's judgment of one connector, for plan and
// doctor: Err nil means accepted.
type ProbeVerdict struct {
	URL             string // ShownURL of the URL called
	Answer          ProbeAnswer
	Err             error
	Unauthenticated bool // the API accepted a call with no client certificate
}

// ShownURL is a probe URL fit for outcomes, logs and pages: without its
// query, fragment and user info, which may hold a key (an Azure Functions
// targetUrl carries ?code=<function key>).
func ShownURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// probeURL is the URL to call for a connector: the job's override or the
// connector's targetUrl.
func probeURL(spec ProbeSpec, st ConnectorState) string {
	if spec.URL != "" {
		return spec.URL
	}
	return st.TargetURL
}

// RunProbe asks the API behind a connector (state st) whether it accepts
// b's certificate, then whether it accepts a call with none. Err is
// classified: transient CodeAPIRejectsCertificate for a rejection,
// transient CodeProbeFailed when there was no verdict.
func RunProbe(ctx context.Context, p Prober, spec ProbeSpec, st ConnectorState, b *bundle.Bundle) ProbeVerdict {
	target := probeURL(spec, st)
	v := ProbeVerdict{URL: ShownURL(target)}
	if target == "" {
		v.Err = Transient(CodeProbeFailed, fmt.Errorf("probing the API of connector %s: no probe.url and Graph returned no targetUrl", st.ID))
		return v
	}
	ans, err := p.Probe(ctx, ProbeCall{URL: target, Spec: spec, Client: b})
	v.Answer = ans
	switch {
	case err != nil:
		v.Err = Transient(CodeProbeFailed, fmt.Errorf("probing %s with certificate %s: %w", v.URL, b.Thumbprint(), err))
		return v
	case !ans.Accepted(spec):
		v.Err = Transient(CodeAPIRejectsCertificate, fmt.Errorf("the API at %s rejects certificate %s: %s", v.URL, b.Thumbprint(), ans))
		return v
	}
	// The same call without a certificate: when it is accepted too, the
	// certificate protects nothing. No verdict here is no warning.
	if anon, err := p.Probe(ctx, ProbeCall{URL: target, Spec: spec}); err == nil && anon.Accepted(spec) {
		v.Unauthenticated = true
	}
	return v
}

// probeGate runs the job's probe right before an upload the rules decided
// is due. ok false means the upload must not happen; res says why.
func (r *Rotator) probeGate(ctx context.Context, rn *run, ref ConnectorRef, st ConnectorState, active *Certificate) (res result, ok bool) {
	if rn.job.Probe == nil || r.cfg.Prober == nil {
		return result{}, true
	}
	v := RunProbe(ctx, r.cfg.Prober, *rn.job.Probe, st, rn.b.bundle)
	if v.Err != nil {
		return result{status: contract.StatusFailed, err: canceled(ctx, v.Err), active: active, warn: true}, false
	}
	return result{unauthenticated: v.Unauthenticated}, true
}

// unauthenticated returns the warning that the API behind ref accepted a
// call with no client certificate, once per connector per day (Warnings).
func (r *Rotator) unauthenticated(ctx context.Context, rn *run, ref ConnectorRef) (Outcome, bool) {
	if !r.firstWarning(ctx, UnauthenticatedKey(rn.job.Name, ref.ID, r.now()), "unauthenticated") {
		return Outcome{}, false
	}
	return Outcome{
		Job: rn.job.Name, Tenant: ref.Tenant, Connector: ref.ID, TargetKind: KindConnector,
		RequestID: rn.req.ID, Trigger: rn.req.Trigger, RequestReason: rn.req.Reason, RequestedBy: rn.req.RequestedBy,
		Status:  StatusUnauthenticated,
		Reason:  "the API behind the connector accepted a call without a client certificate: the certificate protects nothing",
		Attempt: rn.req.Attempt, Final: true,
	}, true
}

// UnauthenticatedKey names one day's unauthenticated warning for Warnings
// (contract.UnauthenticatedKey).
func UnauthenticatedKey(job, connector string, now time.Time) string {
	return contract.UnauthenticatedKey(job, connector, now)
}

// ProbeInfo is a probe's verdict in a plan: what was called, what the API
// answered, and whether it accepted the bundle's certificate.
type ProbeInfo struct {
	URL             string     `json:"url"`
	Accepted        bool       `json:"accepted"`
	Answer          string     `json:"answer,omitempty"` // e.g. "HTTP 403, body \"…\"" or "TLS alert bad certificate"
	Unauthenticated bool       `json:"unauthenticated"`
	Error           *ErrorInfo `json:"error,omitempty"`
}

// planProbe runs the job's probe for a plan, whatever the rules decided:
// the verdict tells the operator whether the API trusts the bundle before
// any run needs it. When an upload was due and the API rejects the
// certificate, the plan says the run would fail, as it would.
func (r *Rotator) planProbe(ctx context.Context, rn *run, st ConnectorState, d *Decision) {
	if rn.job.Probe == nil || r.cfg.Prober == nil || rn.b.bundle == nil {
		return
	}
	v := RunProbe(ctx, r.cfg.Prober, *rn.job.Probe, st, rn.b.bundle)
	d.Probe = &ProbeInfo{URL: v.URL, Accepted: v.Err == nil, Answer: v.Answer.String(), Unauthenticated: v.Unauthenticated, Error: errorInfo(v.Err)}
	if v.Err != nil && d.Action == ActionUpload {
		d.Action, d.Error = ActionFail, errorInfo(v.Err)
	}
}
