# Vault policy "certrotator": read-only, exactly the calls the worker makes for jobs whose
# bundle is written by people or pipelines (no `source.pki`). Jobs that issue from Vault PKI
# also need policy-pki.hcl (policy "certrotator-pki"), given to the same role.
#
# The bundles live in the KV v2 engine mounted at secret/, under b2c/. KV v2 keeps the
# data under <mount>/data/<path> and the versions under <mount>/metadata/<path>, so the
# CLI path `secret/b2c/contoso-api` is reached through both API paths below. Change
# `secret/` and `b2c/` to match your jobs' `source`.
#
# `certrotator rollback` writes the rolled-back version with the credentials of the person
# who runs it, not with this policy: the worker never writes a path it does not issue into.

# Read a bundle: the latest version, or the version a request pins.
path "secret/data/b2c/*" {
  capabilities = ["read"]
}

# current_version and each version's times and custom metadata (watch, history, doctor).
path "secret/metadata/b2c/*" {
  capabilities = ["read"]
}

# The roles set token_no_default_policy, so grant the token calls the worker makes:
# renewing its own token and looking up its TTL, and the capabilities check of
# `certrotator doctor` (which the default policy would otherwise grant).
path "auth/token/renew-self" {
  capabilities = ["update"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "sys/capabilities-self" {
  capabilities = ["update"]
}

# Look up the AppRole secret id the worker logs in with, to export when it expires and warn
# before (certrotator_credential_expiry_timestamp_seconds). Vault answers only for a secret id
# the caller sends, so this reveals nothing the worker does not hold. Use your role's name
# and mount (deploy/vault/approle.sh creates "certrotator" at approle/).
path "auth/approle/role/certrotator/secret-id/lookup" {
  capabilities = ["update"]
}
