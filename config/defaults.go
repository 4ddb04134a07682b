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
	// one worker handles at once) when absent.
	RequestConcurrencyDefault = 4
	// PKIMountDefault is source.pki.mount when absent.
	PKIMountDefault = "pki"
	// PKIKeyTypeDefault is source.pki.key_type when absent; key_bits then
	// defaults to the type's smallest accepted size (2048 for rsa, 256 for ec).
	PKIKeyTypeDefault = PKIKeyTypeRSA
	// WatchMin is the shortest job `watch` interval.
	WatchMin = 10 * time.Second
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
