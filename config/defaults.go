package config

// Defaults filled in by Load and Parse when the file leaves a key out.
const (
	StoreDirDefault      = "./data/nats"
	SubjectPrefixDefault = "certrotation"
	AuthMethodDefault    = AuthToken
	JWTFileDefault       = "/var/run/secrets/kubernetes.io/serviceaccount/token"
	CloudDefault         = CloudGlobal
	MountDefault         = "secret"
	PFXFieldDefault      = "pfx"
	PasswordFieldDefault = "password"
	HTTPListenDefault    = "127.0.0.1:9090"
	LogLevelDefault      = "info"
	LogFormatDefault     = "json"
	// Graph's documented limits for API connectors, the defaults of
	// tenants.<t>.rate_limit.
	AppPerMinuteDefault    = 200
	TenantPerMinuteDefault = 300
	// ConcurrencyDefault is the top-level `concurrency` when absent.
	ConcurrencyDefault = 4
)

// Vault auth methods (vault.auth.method).
const (
	AuthToken      = "token"
	AuthAppRole    = "approle"
	AuthKubernetes = "kubernetes"
)

// Clouds a tenant lives in (tenants.*.cloud).
const (
	CloudGlobal = "global"
	CloudChina  = "china"
)

// HTTPOff as http.listen disables the HTTP server.
const HTTPOff = "off"
