package jobs

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
)

// ruleCase is one connector, one bundle, one run.
type ruleCase struct {
	name     string
	spec     func(t testing.TB) bundleSpec                  // nil: validBundle's
	material func(b testkit.Bundle) Material                // nil: the bundle as generated, version 3
	source   func(b testkit.Bundle) Source                  // nil: the material
	seed     func(b testkit.Bundle) []Certificate           // conn1's list before the run
	job      func(j *Job)                                   // tweaks testJob(1)
	req      Request                                        // Job and ID are filled in
	upload   func(g *graph, b testkit.Bundle) fakeConnector // nil: g.connector()
	want     ruleWant
}

type ruleWant struct {
	status, reason string
	code           string // error code; "" when no error
	class          Class
	final          bool
	staged         bool
	retryAfter     time.Duration
	requestID      string // error's request id
	previous       string // thumbprint of Previous, "bundle" for the bundle's; "" for none
	noCert         bool   // Certificate is nil (bundle undecodable)
	uploads        int
	warn           string // threshold of the expiring warning; "" for none
	activeAfter    string // "bundle" or a thumbprint that conn1's active certificate must be after the run
}

var (
	oldCert  = cert("old", testNow.Add(-300*day), testNow.Add(60*day))  // active, far from expiry
	soonCert = cert("soon", testNow.Add(-300*day), testNow.Add(10*day)) // active, within 14d
	newer    = cert("newer", testNow.Add(-day), testNow.Add(200*day))   // later than validBundle
)

func seedOf(cs ...Certificate) func(testkit.Bundle) []Certificate {
	return func(testkit.Bundle) []Certificate { return cs }
}

func specOf(nb, na time.Duration) func(testing.TB) bundleSpec {
	return func(testing.TB) bundleSpec {
		return bundleSpec{notBefore: testNow.Add(nb), notAfter: testNow.Add(na)}
	}
}

func bundleCert(b testkit.Bundle) Certificate {
	return Certificate{Thumbprint: b.Thumbprint, NotBefore: b.NotBefore, NotAfter: b.NotAfter}
}

// uploadReturning uploads nothing and answers with what answer makes of the
// current state.
func uploadReturning(answer func(st ConnectorState, b testkit.Bundle) ConnectorState) func(*graph, testkit.Bundle) fakeConnector {
	return func(g *graph, b testkit.Bundle) fakeConnector {
		c := g.connector()
		c.UploadFunc = func(_ context.Context, _, id string, _ []byte, _ string) (ConnectorState, error) {
			return answer(g.state(id), b), nil
		}
		return c
	}
}

func uploadFailing(err error) func(*graph, testkit.Bundle) fakeConnector {
	return func(g *graph, _ testkit.Bundle) fakeConnector {
		c := g.connector()
		c.UploadFunc = func(context.Context, string, string, []byte, string) (ConnectorState, error) {
			return ConnectorState{}, err
		}
		return c
	}
}

func throttled() error {
	return RetryAfter(&Failure{Class: ClassTransient, Code: "TooManyRequests", RequestID: "req-429",
		Err: errors.New("graph: 429 too many requests")}, 7*time.Second)
}

func TestRotateRules(t *testing.T) {
	t.Parallel()
	for _, tc := range ruleCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runRuleCase(t, tc)
		})
	}
}

func runRuleCase(t *testing.T, tc ruleCase) {
	t.Helper()
	spec := bundleSpec{notBefore: testNow.Add(-day), notAfter: testNow.Add(90 * day)}
	if tc.spec != nil {
		spec = tc.spec(t)
	}
	b := makeBundle(t, spec)
	m := materialOf(b, 3)
	if tc.material != nil {
		m = tc.material(b)
	}
	var src Source = sourceOf(m)
	if tc.source != nil {
		src = tc.source(b)
	}
	g := newGraph()
	g.seed(conn1)
	if tc.seed != nil {
		g.seed(conn1, tc.seed(b)...)
	}
	c := g.connector()
	if tc.upload != nil {
		c = tc.upload(g, b)
	}
	job := testJob(1)
	if tc.job != nil {
		tc.job(&job)
	}
	req := tc.req
	req.Job, req.ID = job.Name, "msg-1"
	out := newTestRotator(t, src, c, nil).Rotate(t.Context(), job, req)
	checkRuleOutcome(t, tc.want, b, out)
	gets, uploads := g.counts(conn1)
	if uploads != tc.want.uploads {
		t.Errorf("uploads = %d, want %d", uploads, tc.want.uploads)
	}
	if gets != 1 {
		t.Errorf("gets = %d, want exactly 1", gets)
	}
	checkActiveAfter(t, tc.want.activeAfter, b, g.state(conn1))
}

func checkRuleOutcome(t *testing.T, w ruleWant, b testkit.Bundle, out []Outcome) {
	t.Helper()
	wantN := 1
	if w.warn != "" {
		wantN = 2
	}
	if len(out) != wantN {
		t.Fatalf("got %d outcomes, want %d: %+v", len(out), wantN, out)
	}
	o := out[0]
	if o.Status != w.status || o.Reason != w.reason || o.Staged != w.staged || o.Final != w.final || o.RetryAfter != w.retryAfter {
		t.Errorf("outcome = %s/%q staged=%v final=%v retry_after=%s, want %s/%q staged=%v final=%v retry_after=%s",
			o.Status, o.Reason, o.Staged, o.Final, o.RetryAfter, w.status, w.reason, w.staged, w.final, w.retryAfter)
	}
	if o.Job != "contoso-api" || o.Tenant != tenant || o.Connector != conn1 || o.RequestID != "msg-1" || o.Attempt < 1 || o.Trigger == "" {
		t.Errorf("identity = %q %q %q %q attempt %d trigger %q", o.Job, o.Tenant, o.Connector, o.RequestID, o.Attempt, o.Trigger)
	}
	checkError(t, o.Error, w)
	switch {
	case w.noCert && o.Certificate != nil:
		t.Errorf("certificate = %+v, want nil", o.Certificate)
	case !w.noCert && (o.Certificate == nil || o.Certificate.Thumbprint != b.Thumbprint || o.Certificate.SourceVersion != 3 ||
		!o.Certificate.NotAfter.Equal(b.NotAfter) || o.Certificate.Subject != "CN=api.contoso.example"):
		t.Errorf("certificate = %+v, want thumbprint %s version 3", o.Certificate, b.Thumbprint)
	}
	if w.previous == "bundle" {
		w.previous = b.Thumbprint
	}
	if got := thumbOf(o.Previous); got != w.previous {
		t.Errorf("previous = %q, want %q", got, w.previous)
	}
	if w.warn != "" {
		x := out[1]
		if x.Status != contract.StatusExpiring || x.Threshold != w.warn || x.Connector != conn1 || x.Previous == nil || thumbOf(x.Certificate) != x.Previous.Thumbprint {
			t.Errorf("warning = %+v, want expiring at %s", x, w.warn)
		}
		if x.EventType() != "certrotator.certificate.expiring" {
			t.Errorf("warning event type = %s", x.EventType())
		}
	}
}

func checkError(t *testing.T, e *ErrorInfo, w ruleWant) {
	t.Helper()
	if w.code == "" {
		if e != nil {
			t.Errorf("error = %+v, want none", e)
		}
		return
	}
	if e == nil {
		t.Fatalf("error = nil, want %s/%s", w.class, w.code)
	}
	if e.Code != w.code || e.Class != w.class || e.RequestID != w.requestID || e.Message == "" {
		t.Errorf("error = %+v, want %s/%s request id %q", e, w.class, w.code, w.requestID)
	}
	if strings.Contains(e.Message, testPassword) {
		t.Errorf("error message leaks the password: %s", e.Message)
	}
}

func checkActiveAfter(t *testing.T, want string, b testkit.Bundle, st ConnectorState) {
	t.Helper()
	if want == "" {
		return
	}
	if want == "bundle" {
		want = b.Thumbprint
	}
	a, ok := st.Active()
	if !ok || a.Thumbprint != want {
		t.Errorf("active after run = %q (%v), want %q", a.Thumbprint, ok, want)
	}
}

func thumbOf(c *CertInfo) string {
	if c == nil {
		return ""
	}
	return c.Thumbprint
}

func ruleCases() []ruleCase {
	return append(append(decisionCases(), errorCases()...), invalidBundleCases()...)
}

func succeeded(previous string, uploads int) ruleWant {
	return ruleWant{status: contract.StatusSucceeded, final: true, previous: previous, uploads: uploads, activeAfter: "bundle"}
}

func skipped(reason, previous string) ruleWant {
	return ruleWant{status: contract.StatusSkipped, reason: reason, final: true, previous: previous}
}

func beforeExpiry(rb RenewBefore) func(*Job) {
	return func(j *Job) { j.Policy, j.RenewBefore = PolicyBeforeExpiry, rb }
}

// decisionCases cover rules 2 to 4 and 6's staged case.
func decisionCases() []ruleCase {
	return []ruleCase{
		{name: "no certificate yet uploads", want: succeeded("", 1)},
		{name: "older active certificate uploads", seed: seedOf(oldCert), want: succeeded(oldCert.Thumbprint, 1)},
		{name: "already present", seed: func(b testkit.Bundle) []Certificate { return []Certificate{oldCert, bundleCert(b)} },
			want: skipped(contract.ReasonAlreadyPresent, "bundle")},
		{name: "already present lower case", seed: func(b testkit.Bundle) []Certificate {
			c := bundleCert(b)
			c.Thumbprint = strings.ToLower(c.Thumbprint)
			return []Certificate{c}
		}, want: skipped(contract.ReasonAlreadyPresent, "bundle")},
		{name: "staged and present: no warning", spec: specOf(2*day, 92*day),
			seed: func(b testkit.Bundle) []Certificate { return []Certificate{soonCert, bundleCert(b)} },
			want: skipped(contract.ReasonAlreadyPresent, soonCert.Thumbprint)},
		{name: "force re-uploads a present older bundle: rollback", req: Request{Force: true},
			seed: func(b testkit.Bundle) []Certificate { return []Certificate{bundleCert(b), newer} },
			want: succeeded(newer.Thumbprint, 1)},
		{name: "not newer", seed: seedOf(newer), want: skipped(contract.ReasonNotNewer, newer.Thumbprint)},
		{name: "same notAfter is not newer", seed: func(b testkit.Bundle) []Certificate {
			return []Certificate{cert("same", testNow.Add(-10*day), b.NotAfter)}
		}, want: skipped(contract.ReasonNotNewer, cert("same", time.Time{}, time.Time{}).Thumbprint)},
		{name: "force uploads an older bundle", req: Request{Force: true}, seed: seedOf(newer), want: succeeded(newer.Thumbprint, 1)},
		{name: "not newer and expiring warns", spec: specOf(-day, 5*day), job: func(j *Job) { j.MinValidity = day },
			seed: seedOf(cert("later", testNow.Add(-300*day), testNow.Add(6*day))),
			want: func() ruleWant {
				w := skipped(contract.ReasonNotNewer, cert("later", time.Time{}, time.Time{}).Thumbprint)
				w.warn = "7d"
				return w
			}()},
		{name: "before-expiry due", job: beforeExpiry(RenewBefore{Duration: 720 * time.Hour}), seed: seedOf(soonCert),
			want: succeeded(soonCert.Thumbprint, 1)},
		{name: "before-expiry not due", job: beforeExpiry(RenewBefore{Duration: 720 * time.Hour}), seed: seedOf(oldCert),
			want: skipped(contract.ReasonNotDue, oldCert.Thumbprint)},
		{name: "before-expiry not due within a warning threshold: no warning", job: beforeExpiry(RenewBefore{Duration: 168 * time.Hour}),
			seed: seedOf(soonCert), want: skipped(contract.ReasonNotDue, soonCert.Thumbprint)},
		{name: "before-expiry no active certificate", job: beforeExpiry(RenewBefore{Duration: 720 * time.Hour}),
			seed: seedOf(cert("gone", testNow.Add(-400*day), testNow.Add(-day))), want: succeeded("", 1)},
		{name: "before-expiry share due", job: beforeExpiry(RenewBefore{Fraction: 0.33}),
			seed: seedOf(cert("share", testNow.Add(-80*day), testNow.Add(20*day))),
			want: succeeded(cert("share", time.Time{}, time.Time{}).Thumbprint, 1)},
		{name: "before-expiry share not due", job: beforeExpiry(RenewBefore{Fraction: 0.33}),
			seed: seedOf(cert("share", testNow.Add(-50*day), testNow.Add(50*day))),
			want: skipped(contract.ReasonNotDue, cert("share", time.Time{}, time.Time{}).Thumbprint)},
		{name: "future notBefore is staged", spec: specOf(2*day, 92*day), seed: seedOf(oldCert),
			want: ruleWant{status: contract.StatusSucceeded, staged: true, final: true, previous: oldCert.Thumbprint, uploads: 1, activeAfter: oldCert.Thumbprint}},
	}
}

// errorCases cover verification and connector and source failures.
func errorCases() []ruleCase {
	failed := func(class Class, code string, final bool, previous string) ruleWant {
		return ruleWant{status: contract.StatusFailed, class: class, code: code, final: final, previous: previous}
	}
	withWarn := func(w ruleWant, threshold string) ruleWant { w.warn = threshold; return w }
	withRetry := func(w ruleWant) ruleWant { w.retryAfter, w.requestID = 7*time.Second, "req-429"; return w }
	unread := func(w ruleWant) ruleWant { w.noCert = true; return w }
	return []ruleCase{
		{name: "verify missing", seed: seedOf(soonCert),
			upload: uploadReturning(func(st ConnectorState, _ testkit.Bundle) ConnectorState { return st }),
			want:   withWarn(failed(ClassPermanent, CodeVerifyMissing, true, soonCert.Thumbprint), "14d")},
		{name: "verify inactive", seed: seedOf(oldCert),
			upload: uploadReturning(func(st ConnectorState, b testkit.Bundle) ConnectorState {
				st.Certificates = append(st.Certificates, bundleCert(b))
				return st
			}),
			want: failed(ClassPermanent, CodeVerifyInactive, true, oldCert.Thumbprint)},
		{name: "graph 429 keeps retry-after", seed: seedOf(soonCert), upload: uploadFailing(throttled()),
			want: withWarn(withRetry(failed(ClassTransient, "TooManyRequests", false, soonCert.Thumbprint)), "14d")},
		{name: "graph 429 on the last attempt is final", req: Request{Attempt: 8}, upload: uploadFailing(throttled()),
			want: withRetry(failed(ClassTransient, "TooManyRequests", true, ""))},
		{name: "transient below a job's max attempts", req: Request{Attempt: 2}, job: func(j *Job) { j.MaxAttempts = 3 },
			upload: uploadFailing(Transient("ServiceUnavailable", errors.New("graph: 503"))),
			want:   failed(ClassTransient, "ServiceUnavailable", false, "")},
		{name: "transient at a job's max attempts", req: Request{Attempt: 3}, job: func(j *Job) { j.MaxAttempts = 3 },
			upload: uploadFailing(Transient("ServiceUnavailable", errors.New("graph: 503"))),
			want:   failed(ClassTransient, "ServiceUnavailable", true, "")},
		{name: "graph 400 is permanent", upload: uploadFailing(Permanent("Request_BadRequest", errors.New("graph: 400 bad request"))),
			want: failed(ClassPermanent, "Request_BadRequest", true, "")},
		{name: "unclassified upload error is transient internal", upload: uploadFailing(errors.New("boom")),
			want: failed(ClassTransient, "internal", false, "")},
		{name: "graph read 503 is transient", upload: func(g *graph, _ testkit.Bundle) fakeConnector {
			c := g.connector()
			c.GetFunc = func(ctx context.Context, tn, id string) (ConnectorState, error) {
				_, _ = g.get(ctx, tn, id)
				return ConnectorState{}, Transient("ServiceUnavailable", errors.New("graph: 503"))
			}
			return c
		}, want: failed(ClassTransient, "ServiceUnavailable", false, "")},
		{name: "source transient", source: func(testkit.Bundle) Source {
			return failingSource(Transient("source_unavailable", errors.New("vault: sealed")))
		}, want: unread(failed(ClassTransient, "source_unavailable", false, oldCert.Thumbprint)), seed: seedOf(oldCert)},
		{name: "source permanent warns", source: func(testkit.Bundle) Source {
			return failingSource(Permanent("source_not_found", errors.New("vault: no secret")))
		}, seed: seedOf(soonCert), want: unread(withWarn(failed(ClassPermanent, "source_not_found", true, soonCert.Thumbprint), "14d"))},
	}
}

// invalidBundleCases cover rule 1: nothing is uploaded.
func invalidBundleCases() []ruleCase {
	bad := func(code bundle.Code, decoded bool) ruleWant {
		return ruleWant{status: contract.StatusFailed, class: ClassPermanent, code: string(code), final: true, noCert: !decoded}
	}
	withKey := func(key func(testing.TB) any) func(testing.TB) bundleSpec {
		return func(t testing.TB) bundleSpec {
			return bundleSpec{notBefore: testNow.Add(-day), notAfter: testNow.Add(90 * day), key: key(t)}
		}
	}
	return []ruleCase{
		{name: "malformed", material: func(testkit.Bundle) Material {
			return Material{PFX: []byte("not a pfx at all"), Password: testPassword}
		},
			want: bad(bundle.CodeMalformed, false)},
		{name: "wrong password", material: func(b testkit.Bundle) Material { return Material{PFX: b.PFX, Password: "wrong"} },
			want: bad(bundle.CodePassword, false)},
		{name: "no private key", spec: func(testing.TB) bundleSpec {
			return bundleSpec{notBefore: testNow.Add(-day), notAfter: testNow.Add(90 * day), noKey: true}
		}, want: bad(bundle.CodeNoKey, false)},
		{name: "key does not match", spec: func(t testing.TB) bundleSpec {
			return bundleSpec{notBefore: testNow.Add(-day), notAfter: testNow.Add(90 * day), pfxKey: testkit.ECKey(t)}
		}, want: bad(bundle.CodeKeyMismatch, false)},
		{name: "rsa 1024", spec: withKey(func(t testing.TB) any { return testkit.RSAKey(t, 1024) }), want: bad(bundle.CodeWeakKey, true)},
		{name: "ec p-224", spec: withKey(func(t testing.TB) any { return testkit.P224Key(t) }), want: bad(bundle.CodeWeakKey, true)},
		{name: "expired, still warns", spec: specOf(-100*day, -day), seed: seedOf(soonCert),
			want: func() ruleWant {
				w := bad(bundle.CodeExpired, true)
				w.previous, w.warn = soonCert.Thumbprint, "14d"
				return w
			}()},
		{name: "under default min validity", spec: specOf(-day, 3*day), want: bad(bundle.CodeShortValidity, true)},
		{name: "under the job's min validity", spec: specOf(-day, 30*day), job: func(j *Job) { j.MinValidity = 60 * day },
			want: bad(bundle.CodeShortValidity, true)},
	}
}
