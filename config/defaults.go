package config

import "time"

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
	// RequestConcurrencyDefault is the top-level `concurrency` (requests
	// one worker handles at once) when absent. Graph's rate limits, paced
	// per tenant, are what bounds the work; this is only a generous cap on
	// what one process holds in flight.
	RequestConcurrencyDefault = 256
	// RequestConcurrencyMax bounds `concurrency`: more requests at once than
	// this only queue on Graph's rate limits and the job locks.
	RequestConcurrencyMax = 1024
	// ReplicasDefault is nats.replicas when absent; ReplicasMax is JetStream's limit.
	ReplicasDefault = 1
	ReplicasMax     = 5
	// MaxAttemptsMax bounds a job's max_attempts (5 minutes apart at most, 100
	// attempts are more than eight hours of retrying).
	MaxAttemptsMax = 100
	// EveryMin is the shortest @every schedule.
	EveryMin = 10 * time.Second
	// PKIMountDefault is source.pki.mount when absent.
	PKIMountDefault = "pki"
	// PKIKeyTypeDefault is source.pki.key_type when absent; key_bits then
	// defaults to the type's smallest accepted size (2048 for rsa, 256 for ec).
	PKIKeyTypeDefault = PKIKeyTypeRSA
	// WatchMin is the shortest job `watch` interval.
	WatchMin = 10 * time.Second
	// Graph's documented limits for API connectors, the defaults of
	// tenants.<t>.rate_limit.
	AppPerMinuteDefault    = 200
	TenantPerMinuteDefault = 300
)

// Key types of source.pki.key_type.
const (
	PKIKeyTypeRSA = "rsa"
	PKIKeyTypeEC  = "ec"
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
