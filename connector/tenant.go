package connector

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/certrotator/certrotator/jobs"
)

// tenantClient holds one tenant's credential and HTTP client. azidentity
// caches the token inside the credential and refreshes it before it
// expires, so the credential is the token cache. A 401 from Graph means the
// cached token is no good although it has not expired (revoked, signing
// keys rolled): azcore offers no way to bypass the cache
// (TokenRequestOptions.Claims would, but it sends a claims challenge to
// Entra, which means something else), so refresh drops the credential and
// the next token request builds a new one, whose first GetToken asks Entra
// (and re-reads a certificate file or calls the CertificateFunc); a failed
// token request drops the credential the same way. A
// Credential given in Tenant cannot be rebuilt: it is asked again and
// expected to refresh on its own.
type tenantClient struct {
	key      string
	graphURL string // no trailing slash
	scope    string
	secrets  []string     // for redacting token errors; never printed
	http     *http.Client // the credential's: Config.Timeout is its Timeout
	// graph carries Graph calls: http's transport without a Timeout, since
	// attempt bounds each exchange through its context.
	graph *http.Client
	build func(context.Context) (azcore.TokenCredential, error)
	// rebuildable is false for a Credential given in Tenant.
	rebuildable bool

	mu   sync.Mutex
	cred azcore.TokenCredential // nil until built, and after refresh
	gen  uint64                 // bumped at every refresh
	// tok is the last token the credential gave, kept until tokenMargin
	// before it expires (or a 401 refreshes): asking azidentity's cache on
	// every Graph call cost a lock, option structs and a cache walk each,
	// 6 % of the worker's CPU at 10,000 connectors.
	tok azcore.AccessToken
}

// tokenMargin is how long before its expiry a kept token is asked for
// again, as azidentity refreshes its own: a call never leaves with a token
// about to lapse.
const tokenMargin = 5 * time.Minute

// token returns a bearer token and the credential generation it came from.
func (t *tenantClient) token(ctx context.Context) (string, uint64, error) {
	if tok, gen, ok := t.kept(); ok {
		return tok, gen, nil
	}
	cred, gen, err := t.credential(ctx)
	if err != nil {
		return "", gen, err
	}
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{t.scope}})
	if err != nil {
		// A failed credential caches nothing worth keeping, and the next
		// build re-reads a certificate file that may have been renewed
		// since (the one Entra knows no longer being the one in memory).
		_ = t.refresh(gen) // never fails
		return "", gen, t.authFailure(err)
	}
	t.keep(tok, gen)
	return tok.Token, gen, nil
}

// kept returns the kept token while it is good for more than tokenMargin.
func (t *tenantClient) kept() (string, uint64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cred == nil || t.tok.Token == "" || time.Until(t.tok.ExpiresOn) <= tokenMargin {
		return "", t.gen, false
	}
	return t.tok.Token, t.gen, true
}

// keep keeps tok unless the credential was refreshed since gen.
func (t *tenantClient) keep(tok azcore.AccessToken, gen uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen == gen {
		t.tok = tok
	}
}

// credential returns the current credential, building it first when there
// is none. The lock is held while building so that concurrent calls build
// once.
func (t *tenantClient) credential(ctx context.Context) (azcore.TokenCredential, uint64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cred != nil {
		return t.cred, t.gen, nil
	}
	cred, err := t.build(ctx)
	if err != nil {
		if f := (*jobs.Failure)(nil); errors.As(err, &f) {
			return nil, t.gen, fmt.Errorf("building credential for tenant %s: %w", t.key, err)
		}
		return nil, t.gen, jobs.Permanent(CodeInvalidCredential, fmt.Errorf("building credential for tenant %s: %w", t.key, err))
	}
	t.cred = cred
	return cred, t.gen, nil
}

// refresh drops the credential unless another call already did since
// generation gen was handed out, so that a burst of 401s rebuilds once.
func (t *tenantClient) refresh(gen uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen != gen {
		return nil
	}
	// The kept token is the one refused: a Credential given in Tenant is
	// asked again, and expected to refresh on its own.
	t.tok = azcore.AccessToken{}
	if !t.rebuildable {
		return nil
	}
	t.cred = nil
	t.gen++
	return nil
}

// aadstsCode finds the AADSTS code in an error_description.
var aadstsCode = regexp.MustCompile(`AADSTS\d+`)

// tokenErrorBody is the OAuth error answer of the token endpoint.
type tokenErrorBody struct {
	Error         string `json:"error"`
	Description   string `json:"error_description"`
	CorrelationID string `json:"correlation_id"`
}

// authFailure classifies a GetToken error. An answer of the token
// endpoint in 4xx (other than 408 and 429) is permanent: the app, secret or
// tenant is wrong and retrying will not change it. No answer, 408, 429 and
// 5xx are transient.
func (t *tenantClient) authFailure(err error) error {
	ae := &AuthError{Tenant: t.key, Code: CodeTokenUnavailable, err: err}
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) || afe.RawResponse == nil {
		ae.Description = redact(oneLine(err.Error()), t.secrets)
		return &jobs.Failure{Class: jobs.ClassTransient, Code: ae.Code, Err: ae}
	}
	ae.Status = afe.RawResponse.StatusCode
	if body, rerr := runtime.Payload(afe.RawResponse); rerr == nil {
		var tb tokenErrorBody
		if json.Unmarshal(body, &tb) == nil {
			ae.OAuthError = tb.Error
			ae.Description = redact(oneLine(tb.Description), t.secrets)
			ae.CorrelationID = tb.CorrelationID
			ae.Code = cmp.Or(aadstsCode.FindString(tb.Description), tb.Error, CodeTokenUnavailable)
		}
	}
	class := jobs.ClassPermanent
	if s := ae.Status; s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500 {
		class = jobs.ClassTransient
	}
	return &jobs.Failure{Class: class, Code: ae.Code, RequestID: ae.CorrelationID, Err: ae}
}

// oneLine collapses runs of white space, newlines included.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// newTenantClient resolves t's endpoints and HTTP client and, unless its
// certificate comes from a CertificateFunc (which may do network I/O),
// builds its credential once so that a bad file or id fails at New.
func newTenantClient(key string, t Tenant, hc *http.Client) (*tenantClient, error) {
	ep, err := t.endpoints()
	if err != nil {
		return nil, err
	}
	if t.CAFile != "" {
		if hc, err = withCAFile(hc, t.CAFile); err != nil {
			return nil, err
		}
	}
	tc := &tenantClient{key: key, graphURL: ep.graph, scope: ep.graph + "/.default", http: hc, graph: &http.Client{Transport: hc.Transport},
		secrets: []string{t.ClientSecret, t.ClientCertificatePassword}, build: t.credentialBuilder(ep, hc),
		rebuildable: t.Credential == nil}
	if t.Certificate != nil {
		return tc, nil
	}
	if tc.cred, err = tc.build(context.Background()); err != nil {
		return nil, fmt.Errorf("building credential: %w", err)
	}
	return tc, nil
}

// cloudError refuses a cloud by name; the US Government clouds get their
// own words, because users will try them and Graph cannot serve them.
func cloudError(name string) error {
	switch strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "").Replace(name)) {
	case "usgov", "usgovernment", "usgovernmentl4", "usgovernmentl5", "dod", "gcchigh", "azureusgovernment":
		return fmt.Errorf("cloud %q: US Government clouds are not supported: Microsoft Graph's uploadClientCertificate for API connectors is available in the global and China clouds only", name)
	}
	return fmt.Errorf("cloud %q: want %q or %q", name, CloudGlobal, CloudChina)
}
