// Package jobs is certrotator's domain: a Job (one bundle in Vault and the
// API connectors it feeds), a Request to run it, the Outcome per connector,
// and the rotation pipeline that turns one into the other.
//
// The pipeline, for one request:
//
//  0. For a job with source.pki and a request that pins no version: read
//     the KV path's metadata (VersionLister) and the current bundle; when a
//     new certificate is due (no version, deleted, unusable, or within
//     renew_before or min_validity of its notAfter, on the injected clock)
//     issue one (Issuer), build a SHA1/3DES PFX with a random password, and
//     write it once with check-and-set on the version read (Writer). A
//     failed write is settled by reading version cas+1 back: the run's own
//     certificate there is rolled out; another's means the race was lost,
//     and only then is the serial revoked (with its key) and the winner's
//     version rolled out. Plan stops at "would issue".
//  1. Read the bundle once from the Source (Vault in production): the
//     version the request pins, the one just written, or the latest.
//  2. Decode and validate it once with package bundle (a version already
//     decoded is reused by path and version, see decodeCache); an invalid bundle
//     fails every connector permanently and nothing is uploaded.
//  3. For each connector, with bounded concurrency: read its state from the
//     Connector (Graph), decide (already present, not newer, not due,
//     upload), hold a due upload back outside the job's change windows
//     (gate: outside_window, unless emergency or forced), upload right
//     after that read, and verify that the answer
//     holds the thumbprint (active, or staged for a future notBefore). The
//     read that decides is the read right before the upload, so a retried
//     or duplicated request finds its thumbprint present and never uploads
//     twice; an uploaded connector costs exactly one GET and one POST.
//  4. Report one Outcome per connector, plus expiring warnings.
//
// jobs knows no NATS, HTTP or Vault: it declares the small interfaces it
// needs (Source, Connector; Issuer, Writer, VersionLister for issuance) and
// adapters implement them. Failures are
// classified (Permanent, Transient, RetryAfter) so that the worker can map
// them to JetStream acks.
package jobs
