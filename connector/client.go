// Package connector is certrotator's Microsoft Graph client for Entra API
// connectors: it reads a connector's certificate list (Get), every
// connector of a tenant (List, following @odata.nextLink) and uploads a
// PKCS#12 bundle to a connector, with client-credential tokens from
// azidentity, Graph's retry rules (Retry-After, bounded backoff, one token
// refresh on 401) and errors classified as jobs.Failure. Every Graph
// request is paced under the tenant's throttling limits through a Budget
// (per app per tenant and per tenant), and no call outlives its ctx's
// deadline. It implements jobs.Connector.
package connector

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/certrotator/certrotator/jobs"
)

var _ jobs.Connector = (*Client)(nil)

// Defaults of Config.
const (
	MaxRetriesDefault   = 4
	MaxRetryWaitDefault = 30 * time.Second
	TimeoutDefault      = 60 * time.Second
	RateWindowDefault   = time.Minute
)

// Cloud names of Tenant.Cloud.
const (
	CloudGlobal = "global"
	CloudChina  = "china"
)

// clouds maps a cloud name to its authority host and Graph root.
var clouds = map[string]endpoints{
	CloudGlobal: {authority: "https://login.microsoftonline.com/", graph: "https://graph.microsoft.com"},
	CloudChina:  {authority: "https://login.chinacloudapi.cn/", graph: "https://microsoftgraph.chinacloudapi.cn"},
}

// Tenant is one Entra tenant and the app registration that acts in it.
type Tenant struct {
	TenantID string // directory (tenant) id or domain
	ClientID string // application (client) id
	// ClientSecret is the app's secret. It is never logged or put in an
	// error. Required unless Credential is set.
	ClientSecret string `json:"-"`
	// Cloud is "global" or "china". Defaults to "global".
	Cloud string
	// AuthorityURL overrides the cloud's Entra authority host (the emulator,
	// a sovereign cloud). It must be https. Defaults to the cloud's.
	AuthorityURL string
	// GraphURL overrides the cloud's Graph root, e.g.
	// https://graph.microsoft.com. It must be https. Defaults to the cloud's.
	GraphURL string
	// RateLimit is the tenant's throttling limits, which every Graph call
	// is paced under (see Config.Budget). Defaults to Graph's documented
	// 200 per minute per app and 300 per minute per tenant.
	RateLimit RateLimit
	// Credential, when set, is used as is: a credential of the caller's
	// own making. Defaults to the one kind set below or ClientSecret.
	Credential azcore.TokenCredential `json:"-"`
	// ClientCertificateFile is a PEM (certificate and unencrypted key) or
	// PKCS#12 file the app authenticates with, re-read whenever the
	// credential is rebuilt. The key must be RSA (Entra's rule).
	ClientCertificateFile string
	// ClientCertificatePassword opens a PKCS#12 ClientCertificateFile.
	ClientCertificatePassword string `json:"-"`
	// Certificate supplies the certificate from elsewhere (a bundle in
	// Vault KV); see CertificateFunc.
	Certificate CertificateFunc `json:"-"`
	// SendCertificateChain sends the chain in the assertion's x5c header,
	// for subject-name/issuer authentication. Defaults to false.
	SendCertificateChain bool
	// WorkloadIdentity selects workload identity federation; it needs
	// FederatedTokenFile. Setting FederatedTokenFile alone implies it.
	WorkloadIdentity bool
	// FederatedTokenFile is the workload identity token file: the file
	// (as AKS projects it, AZURE_FEDERATED_TOKEN_FILE) holds a token Entra
	// trusts through a federated credential of the app. It is re-read at
	// every token request, so the kubelet's rotation is picked up.
	FederatedTokenFile string
	// ManagedIdentity selects the managed identity of the host (IMDS, App
	// Service and the other hosts azidentity detects); ClientID is then
	// unused. ManagedIdentityClientID picks a user-assigned identity;
	// empty means the system-assigned one.
	ManagedIdentity         bool
	ManagedIdentityClientID string
	// CAFile is a PEM bundle of CAs trusted, in addition to the roots the
	// transport trusts, for this tenant's token and Graph calls (an
	// emulator, a TLS-inspecting proxy). It needs Config.Transport to be
	// an *http.Transport (the default is). Defaults to none.
	CAFile string
}

// LogValue keeps the secret out of logs.
func (t Tenant) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tenant_id", t.TenantID), slog.String("client_id", t.ClientID),
		slog.String("cloud", t.Cloud), slog.String("client_secret", "REDACTED"))
}

// String keeps the secret out of %v and %+v.
func (t Tenant) String() string {
	return fmt.Sprintf("{TenantID:%s ClientID:%s Cloud:%s AuthorityURL:%s GraphURL:%s ClientSecret:REDACTED}",
		t.TenantID, t.ClientID, t.Cloud, t.AuthorityURL, t.GraphURL)
}

// GoString keeps the secret out of %#v.
func (t Tenant) GoString() string { return "connector.Tenant" + t.String() }

// endpoints are a tenant's resolved hosts.
type endpoints struct {
	authority       string // with a trailing slash
	graph           string // without one
	customAuthority bool
}

// endpoints resolves the cloud and the overrides, validating them.
func (t Tenant) endpoints() (endpoints, error) {
	name := strings.ToLower(cmp.Or(t.Cloud, CloudGlobal))
	ep, ok := clouds[name]
	if !ok {
		return endpoints{}, cloudError(t.Cloud)
	}
	if t.AuthorityURL != "" {
		if err := checkHTTPS(t.AuthorityURL); err != nil {
			return endpoints{}, fmt.Errorf("authority_url: %w", err)
		}
		ep.authority, ep.customAuthority = strings.TrimRight(t.AuthorityURL, "/")+"/", true
	}
	if t.GraphURL != "" {
		if err := checkHTTPS(t.GraphURL); err != nil {
			return endpoints{}, fmt.Errorf("graph_url: %w", err)
		}
		ep.graph = strings.TrimRight(t.GraphURL, "/")
	}
	return ep, nil
}

// validateRateLimit refuses negative limits; zero takes Graph's.
func validateRateLimit(rl RateLimit) error {
	if rl.AppPerMinute < 0 || rl.TenantPerMinute < 0 {
		return fmt.Errorf("rate limit %d/%d per minute: want positive numbers, or 0 for Graph's", rl.AppPerMinute, rl.TenantPerMinute)
	}
	return nil
}

// checkHTTPS insists on an absolute https URL: Entra's client refuses to
// send a secret over plain HTTP, and a bearer token must not travel in
// clear either.
func checkHTTPS(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("parsing %q: %w", raw, err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q is not an absolute https URL", raw)
	}
	return nil
}

// Config configures a Client. Its zero value is a client without tenants.
type Config struct {
	// Tenants are keyed by the tenant key used in jobs.ConnectorRef.Tenant.
	Tenants map[string]Tenant
	// Transport carries every request, to Entra and to Graph. Defaults to
	// defaultTransport: a clone of http.DefaultTransport, which trusts the
	// system roots and so honours SSL_CERT_FILE and SSL_CERT_DIR, keeping
	// IdleConnsPerHostDefault idle connections per host and opening at most
	// that many. Either way it is used behind a warmTransport (one first
	// connection per host before the others go).
	Transport http.RoundTripper
	// MaxRetries bounds the retries of one call (500 and 502 are retried at
	// most twice within it); negative means none. Defaults to 4.
	MaxRetries int
	// MaxRetryWait is the longest Retry-After the client waits itself; a
	// longer one ends the call with a transient jobs.Failure carrying it, so
	// that the worker naks with that delay. Defaults to 30s.
	MaxRetryWait time.Duration
	// Timeout bounds each HTTP exchange. Defaults to 60s.
	Timeout time.Duration
	// CallTimeout bounds one call (Get, List, Upload) with its retries and
	// pacing waits, on top of ctx's own deadline: whichever comes first ends
	// it. A wait that would end after the deadline is not begun; the call
	// fails transient at once, with the wait as RetryAfter when it is known.
	// Defaults to none beyond ctx's.
	CallTimeout time.Duration
	// Budget paces every Graph request under its tenant's RateLimit.
	// Defaults to a Pacer of its own (90 % of each limit, wall clock); pass
	// a shared one to pace several Clients together, or Unpaced.
	Budget Budget
	// RateWindow is the period the per-minute limits count over. Benchmarks
	// against an emulator with a compressed clock shorten it. Defaults to a
	// minute.
	RateWindow time.Duration
	// ListTop is the $top sent with List, a page size hint Graph may cap;
	// 0 sends none. Defaults to 0.
	ListTop int
	// ObserveFunc is told the HTTP status of every Graph exchange (0 when
	// none came back), for metrics. Defaults to nil.
	ObserveFunc func(status int)
	// Logger gets one debug line per HTTP attempt. Defaults to discarding.
	Logger *slog.Logger
	// NowFunc reads the clock for HTTP-date Retry-After. Defaults to time.Now.
	NowFunc func() time.Time
	// SleepFunc waits between attempts. Defaults to a timer that stops
	// early with ctx's error.
	SleepFunc func(ctx context.Context, d time.Duration) error
}

// Client talks to Microsoft Graph for every configured tenant. It is safe
// for concurrent use.
type Client struct {
	cfg     Config
	http    *http.Client
	tenants map[string]*tenantClient
	limits  map[string][]Limit // by tenant key
	logger  *slog.Logger
	bodies  uploadBodies
}

// New checks cfg, fills its defaults and builds one credential per tenant.
// It makes no network call. The error names the tenant and field at fault.
func New(cfg Config) (*Client, error) {
	cfg = cfg.withDefaults()
	c := &Client{
		cfg:     cfg,
		http:    &http.Client{Transport: newWarmTransport(cfg.Transport), Timeout: cfg.Timeout},
		tenants: make(map[string]*tenantClient, len(cfg.Tenants)),
		limits:  make(map[string][]Limit, len(cfg.Tenants)),
		logger:  cfg.Logger.With("component", "connector"),
	}
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(cfg.Tenants)) {
		t := cfg.Tenants[key]
		if err := errors.Join(validateTenant(t), validateRateLimit(t.RateLimit)); err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", key, err))
			continue
		}
		tc, err := newTenantClient(key, t, c.http)
		if err != nil {
			errs = append(errs, fmt.Errorf("tenant %s: %w", key, err))
			continue
		}
		c.tenants[key] = tc
		c.limits[key] = limitsOf(key, t, cfg.RateWindow)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("configuring graph client: %w", err)
	}
	agreeLimits(c.limits)
	return c, nil
}

// withDefaults fills the zero fields of cfg.
func (cfg Config) withDefaults() Config {
	if cfg.Transport == nil {
		cfg.Transport = defaultTransport()
	}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = MaxRetriesDefault
	}
	cfg.MaxRetries = max(cfg.MaxRetries, 0)
	cfg.MaxRetryWait = cmp.Or(cfg.MaxRetryWait, MaxRetryWaitDefault)
	cfg.Timeout = cmp.Or(cfg.Timeout, TimeoutDefault)
	cfg.RateWindow = cmp.Or(cfg.RateWindow, RateWindowDefault)
	if cfg.Budget == nil {
		cfg.Budget = NewPacer(PacerConfig{})
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.SleepFunc == nil {
		cfg.SleepFunc = sleepCtx
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// IdleConnsPerHostDefault is how many connections the default transport
// keeps idle per host, and opens at most per host: the worker's default
// connector calls in flight at 64 requests, since every
// tenant's calls go to the same two hosts (Entra and Graph).
// http.DefaultTransport keeps 2, so with 64 calls in flight over HTTP/1.1
// (a TLS-inspecting proxy, an emulator) nearly every call closed its
// connection and the next one paid a new TLS handshake on both sides; and
// it opens without bound, so a burst of hundreds of calls opened hundreds
// of connections it then closed. Calls beyond the bound wait for a
// connection. HTTP/2 multiplexes: one connection per host carries the
// calls once warmTransport has let the first one make it.
const IdleConnsPerHostDefault = 64

// defaultTransport is http.DefaultTransport's clone with room for
// IdleConnsPerHostDefault idle connections per host (and for both hosts in
// the total), and at most that many per host.
func defaultTransport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = IdleConnsPerHostDefault
	tr.MaxConnsPerHost = IdleConnsPerHostDefault
	tr.MaxIdleConns = max(tr.MaxIdleConns, 2*IdleConnsPerHostDefault)
	return tr
}

func validateTenant(t Tenant) error {
	var errs []error
	if t.TenantID == "" {
		errs = append(errs, errors.New("tenant_id is empty"))
	}
	errs = append(errs, t.validateCredential())
	return errors.Join(errs...)
}
