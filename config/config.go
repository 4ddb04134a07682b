// Package config loads certrotator's YAML file: ${VAR} expansion, defaults,
// and validation that reports every problem with its line and key.
package config

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

// Config is the whole file, with defaults filled in and secret files read.
// Load and Parse return it only when the file has no problem; it is then
// read-only and safe to share between goroutines.
type Config struct {
	Instance string // defaults to the hostname
	NATS     NATS
	Vault    Vault
	Tenants  map[string]Tenant // keyed by tenant key (letters, digits, - and _)
	// Jobs have every default filled in: see package jobs for the defaults.
	// Connector IDs are lower-cased. An explicit `warn_before: []` gives an
	// empty non-nil WarnBefore (no warnings); absent gives the defaults.
	Jobs []jobs.Job
	HTTP HTTP
	Log  Log
	// Notify lists the notification sinks (key `notify`, see notify.go).
	Notify []NotifySink
	// Concurrency is how many requests one worker handles at once
	// (key `concurrency`). Defaults to RequestConcurrencyDefault.
	Concurrency int
	// Path is the file the config was loaded from ("" when parsed from bytes).
	Path string
}

// NATS is the `nats` section.
type NATS struct {
	URL           string // empty: embedded server
	StoreDir      string // embedded only; defaults to ./data/nats
	Listen        string // embedded only; "" means in-process only
	CredsFile     string
	User          string
	Password      string `json:"-"`
	Token         string `json:"-"` // token authentication; for the embedded server, the token it requires
	NKeyFile      string
	TLS           TLS
	SubjectPrefix string // defaults to "certrotation"
	// Replicas is the replication of the streams and buckets the worker
	// creates (key `replicas`). Defaults to 1; 3 on a three-server cluster.
	Replicas int
	// InboxPrefix is the subject prefix of this client's replies (key
	// `inbox_prefix`); empty means the library's _INBOX. A prefix of its
	// own lets NATS permissions give each user its own replies only.
	InboxPrefix string
}

// TLS holds file paths for a TLS client.
type TLS struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// Vault is the `vault` section.
type Vault struct {
	Address   string
	Namespace string
	CACert    string // key `ca_cert`: PEM file of the CA that signs Vault's certificate
	Auth      VaultAuth
}

// VaultAuth is `vault.auth`. Method is "token" (default), "approle" or "kubernetes".
type VaultAuth struct {
	Method       string
	Token        string `json:"-"` // token method; or TokenFile
	TokenFile    string
	RoleID       string // approle
	SecretIDFile string // approle
	Role         string // kubernetes
	JWTFile      string // kubernetes; defaults to /var/run/secrets/kubernetes.io/serviceaccount/token
	MountPath    string // defaults to the method name ("approle", "kubernetes")
}

// Tenant is one entry of `tenants`.
type Tenant struct {
	TenantID              string
	Cloud                 string // "global" (default) or "china"
	ClientID              string
	ClientSecret          string `json:"-"` // or ClientSecretFile
	ClientSecretFile      string
	ClientCertificateFile string
	WorkloadIdentity      bool
	AuthorityURL          string // override, e.g. the emulator
	GraphURL              string // override, e.g. the emulator
	// ClientCertificatePassword opens a PKCS#12 ClientCertificateFile: key
	// client_certificate_password (use ${VAR} for the environment) or the
	// content of client_certificate_password_file. Empty for PEM.
	ClientCertificatePassword     string `json:"-"`
	ClientCertificatePasswordFile string
	// SendCertificateChain (send_certificate_chain) sends x5c, for
	// subject-name/issuer authentication.
	SendCertificateChain bool
	// FederatedTokenFile is the workload identity token file: key
	// federated_token_file, else $AZURE_FEDERATED_TOKEN_FILE.
	FederatedTokenFile string
	// ManagedIdentity (managed_identity) uses the host's managed identity;
	// ManagedIdentityClientID picks a user-assigned one, "" the system's.
	ManagedIdentity         bool
	ManagedIdentityClientID string
	// CAFile (ca_file) is a PEM bundle trusted, in addition to the system
	// roots, for this tenant's token and Graph calls.
	CAFile string
	// RateLimit (rate_limit) is the tenant's Graph limits the worker paces
	// under.
	RateLimit RateLimit
	// ClientSecretExpires (client_secret_expires) is the client secret's
	// end date, for the worker's expiry metric and warning; zero when not
	// given.
	ClientSecretExpires time.Time
	// Inventory (inventory) makes the worker scan the tenant's connectors
	// and policy key containers every InventoryEvery (inventory_every; zero
	// means InventoryEveryDefault), once across replicas, and export
	// and warn about the expiry of the certificates no job manages.
	// Defaults to false.
	Inventory      bool
	InventoryEvery time.Duration
}

// HTTP is the `http` section.
type HTTP struct {
	Listen string // defaults to 127.0.0.1:9090; "off" disables it
}

// Log is the `log` section.
type Log struct {
	Level  string // debug, info (default), warn, error
	Format string // json (default) or text
}

// Job returns the job with the given name.
func (c *Config) Job(name string) (jobs.Job, bool) {
	for _, j := range c.Jobs {
		if j.Name == name {
			return j, true
		}
	}
	return jobs.Job{}, false
}

// ShutdownTimeoutDefault is how long a stopping worker waits for in-flight work.
const ShutdownTimeoutDefault = 30 * time.Second

// StopBudget bounds a worker's whole stop: in-flight work (up to
// ShutdownTimeoutDefault), then cancelling it, the HTTP server and the NATS
// connection. Kubernetes' terminationGracePeriodSeconds (60) and systemd's
// TimeoutStopSec (60) leave room above it.
const StopBudget = 45 * time.Second

// Load reads, expands and validates the file at path, with ${VAR} taken
// from the environment. A file with problems returns a *ValidationError
// listing every one, sorted by line; a file that cannot be read returns
// the read error wrapped. Secret files (client_secret_file, token_file) are
// read into ClientSecret and Token.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", path, err)
	}
	c, err := parse(data, os.LookupEnv, os.Hostname)
	if ve, ok := errors.AsType[*ValidationError](err); ok {
		ve.Path = path
	}
	if err != nil {
		return nil, err
	}
	c.Path = path
	return c, nil
}

// Parse is Load for bytes already read; lookup expands ${VAR} (os.LookupEnv
// in production; nil means no variable is set). Relative secret file paths
// are relative to the working directory.
func Parse(data []byte, lookup func(string) (string, bool)) (*Config, error) {
	return parse(data, lookup, os.Hostname)
}
