package contract

// Failure codes: ErrorInfo.Code of a failed outcome, spelled here once.
// The packages that fail with them (bundle, vaultsrc, connector, jobs)
// name these constants, so that a reader of the events and the code that
// writes them never disagree on a spelling.

// Codes of the worker itself.
const (
	// CodeBadRequest is the error code of a request that failed before
	// any connector was in play.
	CodeBadRequest = "bad_request"
	// CodeCanceled, CodeTimeout and CodeInternal are the codes of an
	// unclassified error: its context was canceled, its deadline passed,
	// or anything else.
	CodeCanceled = "canceled"
	CodeTimeout  = "timeout"
	CodeInternal = "internal"
)

// Codes of a bundle that cannot be used. They appear in outcome events and
// in `certrotator inspect`.
const (
	CodeBundleMalformed     = "bundle_malformed"      // not base64, not PKCS#12, truncated
	CodeBundlePassword      = "bundle_password"       // wrong password
	CodeBundleNoKey         = "bundle_no_key"         // no private key in the file
	CodeBundleKeyMismatch   = "bundle_key_mismatch"   // no certificate matches the private key
	CodeBundleWeakKey       = "bundle_weak_key"       // RSA < 2048 bits, EC curve < P-256, or an unsupported key
	CodeBundleExpired       = "bundle_expired"        // leaf notAfter is past
	CodeBundleShortValidity = "bundle_short_validity" // leaf remaining validity < min_validity
	// CodeBundleKDFIterations: a key derivation asks for more iterations
	// than the bundle decoder allows.
	CodeBundleKDFIterations = "bundle_kdf_iterations_too_high"
	// CodeBundleTooLarge: the file is over the decoder's size bound.
	CodeBundleTooLarge = "bundle_too_large"
)

// Codes of the bundle source (Vault).
const (
	CodeSourceUnavailable  = "source_unavailable"   // Vault unreachable, sealed, a standby, rate limiting or 5xx
	CodeSourceDenied       = "source_denied"        // the token may not read the secret, or a login was refused
	CodeSourceNotFound     = "source_not_found"     // no such secret, or its latest version deleted
	CodeSourceFieldMissing = "source_field_missing" // the secret has no (or an empty) PFX field
	CodeSourceRejected     = "source_rejected"      // another 4xx
	CodeSourceConfig       = "source_config"        // the source's config is unusable
	CodeSourceConflict     = "source_conflict"      // a check-and-set write lost to another writer
)

// Codes of failures the Graph client makes itself (not Graph's own).
const (
	CodeInvalidConnectorID = "invalid_connector_id" // the id is not a GUID
	CodeUnknownTenant      = "unknown_tenant"       // no tenant under that key
	CodeNetwork            = "network"              // no HTTP answer from Graph
	CodeInvalidResponse    = "invalid_response"     // a 2xx whose body is not a connector
	CodeTokenUnavailable   = "token_unavailable"    // no answer from the token endpoint
	CodeGraphBudget        = "graph_budget"         // the tenant's rate budget has no room before the deadline
	CodeInvalidNextLink    = "invalid_next_link"    // a nextLink off the tenant's Graph root
	CodeInvalidCredential  = "invalid_credential"   // the worker's own Entra credential could not be built
)

// Codes of the rotation rules, issuance, probes and key sets.
const (
	CodeVerifyMissing         = "verify_missing"          // the upload's answer lacks the uploaded thumbprint
	CodeVerifyInactive        = "verify_inactive"         // the uploaded certificate is due but not active
	CodeIssuerMissing         = "issuer_missing"          // source.pki without an issuer
	CodeIssuedInvalid         = "issued_invalid"          // the CA's answer does not make a bundle
	CodeAPIRejectsCertificate = "api_rejects_certificate" // the probe saw the API refuse the new certificate
	CodeProbeFailed           = "probe_failed"            // the probe got no verdict
	CodeKeySetsUnconfigured   = "keysets_unconfigured"    // a job has keysets but the worker cannot reach them
)
