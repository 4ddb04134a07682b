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

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/certrotator/certrotator/jobs"
)

// tenantClient holds one tenant's credential. azidentity caches the token
// inside the credential and refreshes it before it expires, so the
// credential is the token cache. A 401 from Graph means the cached token
// is no good although it has not expired (revoked, signing keys rolled):
// azcore offers no way to bypass the cache (TokenRequestOptions.Claims
// would, but it sends a claims challenge to Entra, which means something
// else), so refresh drops the credential and builds a new one, whose first
// GetToken asks Entra. A Credential given in Tenant cannot be rebuilt: it is
// asked again and expected to refresh on its own.
type tenantClient struct {
	key      string
	graphURL string // no trailing slash
	scope    string
	secret   string // for redacting token errors; never printed
	build    func() (azcore.TokenCredential, error)

	mu   sync.Mutex
	cred azcore.TokenCredential
	gen  uint64 // bumped at every rebuild
}

// token returns a bearer token and the credential generation it came from.
func (t *tenantClient) token(ctx context.Context) (string, uint64, error) {
	t.mu.Lock()
	cred, gen := t.cred, t.gen
	t.mu.Unlock()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{t.scope}})
	if err != nil {
		return "", gen, t.authFailure(err)
	}
	return tok.Token, gen, nil
}

// refresh rebuilds the credential unless another call already did since
// generation gen was handed out, so that a burst of 401s rebuilds once.
func (t *tenantClient) refresh(gen uint64) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen != gen || t.build == nil {
		return nil
	}
	cred, err := t.build()
	if err != nil {
		return jobs.Permanent("invalid_tenant", err)
	}
	t.cred = cred
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
		ae.Description = redact(oneLine(err.Error()), []string{t.secret})
		return &jobs.Failure{Class: jobs.ClassTransient, Code: ae.Code, Err: ae}
	}
	ae.Status = afe.RawResponse.StatusCode
	if body, rerr := runtime.Payload(afe.RawResponse); rerr == nil {
		var tb tokenErrorBody
		if json.Unmarshal(body, &tb) == nil {
			ae.OAuthError = tb.Error
			ae.Description = redact(oneLine(tb.Description), []string{t.secret})
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

// newTenantClient validates t and builds its credential once.
func newTenantClient(key string, t Tenant, hc *http.Client) (*tenantClient, error) {
	ep, err := t.endpoints()
	if err != nil {
		return nil, err
	}
	tc := &tenantClient{key: key, graphURL: ep.graph, scope: ep.graph + "/.default", secret: t.ClientSecret}
	if t.Credential != nil {
		tc.cred = t.Credential
		return tc, nil
	}
	opts := &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{
			Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: ep.authority},
			Transport: hc,
			// The Graph call's loop retries token failures with its own
			// backoff and injected sleep; azcore must not retry underneath.
			Retry: policy.RetryOptions{MaxRetries: -1},
		},
		DisableInstanceDiscovery: ep.customAuthority,
	}
	tc.build = func() (azcore.TokenCredential, error) {
		return azidentity.NewClientSecretCredential(t.TenantID, t.ClientID, t.ClientSecret, opts)
	}
	if tc.cred, err = tc.build(); err != nil {
		return nil, fmt.Errorf("building credential: %w", err)
	}
	return tc, nil
}
