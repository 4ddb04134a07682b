// Package vaultsrc keeps certificate bundles in HashiCorp Vault: it reads
// them from KV v2 (latest or a pinned version), reads a path's version
// metadata without its data, writes new versions with check-and-set, and
// issues and revokes certificates with the PKI engine. Its Client logs in
// (token, token file, AppRole or Kubernetes auth), keeps its token alive
// while running, and implements jobs.Source, jobs.VersionLister,
// jobs.Writer and jobs.Issuer.
package vaultsrc

import (
	"cmp"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/certrotator/certrotator/jobs"
	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"
	"github.com/hashicorp/vault/api"
)

// Defaults applied by New.
const (
	// AddressDefault is Vault's own default address.
	AddressDefault = "https://127.0.0.1:8200"
	// RequestTimeoutDefault bounds one request, retries included.
	RequestTimeoutDefault = 60 * time.Second
	// JWTFileDefault is where Kubernetes mounts a pod's service account token.
	JWTFileDefault = "/var/run/secrets/kubernetes.io/serviceaccount/token"
)

// Auth methods.
const (
	MethodToken      = "token"
	MethodAppRole    = "approle"
	MethodKubernetes = "kubernetes"
)

// Config configures a Client. Its zero value talks to AddressDefault with an
// empty token, which New rejects.
type Config struct {
	// Address is Vault's base URL. Defaults to AddressDefault.
	Address string
	// Namespace is the Vault Enterprise namespace. Defaults to none.
	Namespace string
	// CACert is the path of a PEM file with the CA certificates that sign
	// Vault's TLS certificate. Defaults to the system roots.
	CACert string
	// Auth says how to log in. Defaults to the token method.
	Auth Auth
	// Logger receives the client's logs. Defaults to discarding them.
	Logger *slog.Logger
	// HTTPClient sends the requests; New sets its TLS roots when CACert is
	// set, so its Transport must then be an *http.Transport. Defaults to a
	// pooled client that does not follow redirects.
	HTTPClient *http.Client
	// ObserveFunc is told the HTTP status of every Vault exchange (0 when
	// none came back), for metrics. Defaults to nil.
	ObserveFunc func(status int) `json:"-"`
}

// Auth holds the credentials of one auth method. Only the fields of the
// chosen Method are used.
type Auth struct {
	// Method is MethodToken, MethodAppRole or MethodKubernetes. Defaults to
	// MethodToken.
	Method string
	// Token is the Vault token of the token method. Required for it unless
	// TokenFile is set.
	Token string `json:"-"`
	// TokenFile is the path of a file holding the token (as Vault Agent
	// writes it). It is read at New, before each renewal cycle, and again
	// whenever Vault answers 403, so a rotated token is picked up. It wins
	// over Token. Defaults to none.
	TokenFile string
	// RoleID is the AppRole role id. Required for approle.
	RoleID string `json:"-"`
	// SecretIDFile is the path of a file holding the AppRole secret id,
	// read at every login. Defaults to none (a role without bind_secret_id).
	SecretIDFile string
	// Role is the Vault role of the Kubernetes method. Required for it.
	Role string
	// JWTFile is the path of the service account token, read at every
	// login. Defaults to JWTFileDefault.
	JWTFile string
	// MountPath is where the auth method is mounted. Defaults to the
	// method's name ("approle", "kubernetes").
	MountPath string
}

// String describes a without its token or role id, so that printing a
// Config with %v or %+v cannot leak them.
func (a Auth) String() string {
	return fmt.Sprintf("{Method:%s MountPath:%s Role:%s SecretIDFile:%s JWTFile:%s TokenFile:%s Token:%s RoleID:%s}",
		a.Method, a.MountPath, a.Role, a.SecretIDFile, a.JWTFile, a.TokenFile, redacted(a.Token), redacted(a.RoleID))
}

// GoString is String, for %#v.
func (a Auth) GoString() string { return a.String() }

// LogValue logs a without its token or role id.
func (a Auth) LogValue() slog.Value {
	return slog.GroupValue(slog.String("method", a.Method), slog.String("mount_path", a.MountPath),
		slog.String("role", a.Role), slog.String("token_file", a.TokenFile), slog.String("token", redacted(a.Token)), slog.String("role_id", redacted(a.RoleID)))
}

// redacted stands in for a secret: "REDACTED" when set, "" when not.
func redacted(s string) string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// Client reads and writes bundles in Vault and issues certificates. It is safe for concurrent use. Build it
// with New; Start keeps its token renewed, Stop ends that.
type Client struct {
	api    *api.Client
	login  *api.Client // same server, no token: used only to log in
	http   *http.Client
	auth   Auth
	logger *slog.Logger

	tokenMu       sync.Mutex    // serialises token file reloads
	tokenFilePoll time.Duration // tokenFilePollDefault; tests shorten it

	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc // nil until Start
	done    chan struct{}      // closed when the renewal loop returns
	secret  *api.Secret        // the latest login's answer; nil for the token method
}

var _ jobs.Source = (*Client)(nil)

// New builds a client and logs in: the token method only sets the token;
// AppRole and Kubernetes read their credential file and log in now. It
// starts no goroutine. Its errors are jobs.Failures: a bad Config wraps
// ErrInvalidConfig with code CodeConfig, a refused login has CodeDenied, an
// unreachable Vault CodeUnavailable.
func New(ctx context.Context, cfg Config) (*Client, error) {
	auth, err := authWithDefaults(cfg.Auth)
	if err != nil {
		return nil, err
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = defaultHTTPClient()
	}
	apiClient, err := newAPIClient(cfg, hc)
	if err != nil {
		return nil, err
	}
	if cfg.ObserveFunc != nil {
		// After newAPIClient: its TLS setup needs the bare *http.Transport.
		hc.Transport = observing{next: hc.Transport, fn: cfg.ObserveFunc}
	}
	c := &Client{
		api:    apiClient,
		http:   hc,
		auth:   auth,
		logger: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)).With("component", "vaultsrc"),

		tokenFilePoll: tokenFilePollDefault,
	}
	if auth.Method == MethodToken {
		c.api.SetToken(auth.Token)
		if _, err := c.reloadToken(); err != nil {
			return nil, err
		}
		return c, nil
	}
	if c.login, err = c.api.CloneWithHeaders(); err != nil {
		return nil, jobs.Permanent(CodeConfig, fmt.Errorf("creating vault login client: %w", err))
	}
	c.login.ClearToken() // CloneWithHeaders may have read VAULT_TOKEN
	if _, err := c.logIn(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// authWithDefaults fills in Auth's defaults and checks the chosen method has
// what it needs.
func authWithDefaults(a Auth) (Auth, error) {
	a.Method = cmp.Or(a.Method, MethodToken)
	invalid := func(msg string) (Auth, error) {
		return Auth{}, jobs.Permanent(CodeConfig, fmt.Errorf("%w: %s", ErrInvalidConfig, msg))
	}
	switch a.Method {
	case MethodToken:
		if a.Token == "" && a.TokenFile == "" {
			return invalid("auth method token needs a token or a token file")
		}
	case MethodAppRole:
		if a.RoleID == "" {
			return invalid("auth method approle needs a role_id")
		}
	case MethodKubernetes:
		if a.Role == "" {
			return invalid("auth method kubernetes needs a role")
		}
		a.JWTFile = cmp.Or(a.JWTFile, JWTFileDefault)
	default:
		return invalid(fmt.Sprintf("unknown auth method %q (want token, approle or kubernetes)", a.Method))
	}
	a.MountPath = cmp.Or(a.MountPath, a.Method)
	return a, nil
}

// defaultHTTPClient is a pooled client with Vault's TLS floor that leaves
// redirects to the Vault client, as api.DefaultConfig builds it.
func defaultHTTPClient() *http.Client {
	hc := cleanhttp.DefaultPooledClient()
	tr := hc.Transport.(*http.Transport)
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return hc
}

// newAPIClient builds the Vault client from cfg alone. It does not use
// api.DefaultConfig, which reads VAULT_* variables: the config file is the
// one place settings come from. (api.NewClient still picks up VAULT_TOKEN
// and VAULT_NAMESPACE; New overrides both.)
func newAPIClient(cfg Config, hc *http.Client) (*api.Client, error) {
	ac := &api.Config{
		Address:      cmp.Or(cfg.Address, AddressDefault),
		HttpClient:   hc,
		Timeout:      RequestTimeoutDefault,
		MinRetryWait: time.Second,
		MaxRetryWait: 1500 * time.Millisecond,
		MaxRetries:   2,
		Backoff:      retryablehttp.RateLimitLinearJitterBackoff, // honours Retry-After
	}
	if cfg.CACert != "" {
		if err := ac.ConfigureTLS(&api.TLSConfig{CACert: cfg.CACert}); err != nil {
			return nil, jobs.Permanent(CodeConfig, fmt.Errorf("%w: loading vault CA certificate %s: %w", ErrInvalidConfig, cfg.CACert, err))
		}
	}
	c, err := api.NewClient(ac)
	if err != nil {
		return nil, jobs.Permanent(CodeConfig, fmt.Errorf("%w: creating vault client for %s: %w", ErrInvalidConfig, ac.Address, err))
	}
	c.ClearToken()
	if cfg.Namespace != "" {
		c.SetNamespace(cfg.Namespace)
	} else {
		c.ClearNamespace()
	}
	return c, nil
}
