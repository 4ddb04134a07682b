# Vault policy "certrotator": exactly the calls the worker makes, on the job paths only.
#
# The bundles live in the KV v2 engine mounted at secret/, under b2c/. KV v2 keeps the
# data under <mount>/data/<path> and the versions under <mount>/metadata/<path>, so the
# CLI path `secret/b2c/contoso-api` is reached through both API paths below. Change
# `secret/` and `b2c/` (and the PKI mount and role) to match your jobs' `source`.
#
# Without any job sourced from PKI (`source.pki`), the worker only reads: drop "create"
# and "update" on the data path, "patch" on the metadata path, and both pki/ blocks.

# Read a bundle (latest or a pinned version); write a newly issued one as a new version.
# The worker writes with check-and-set only, so two replicas never both win.
path "secret/data/b2c/*" {
  capabilities = ["read", "create", "update"]
}

# current_version and each version's times (watch, history, check-and-set), and the
# custom metadata that records each issued version's serial, not-after and issuer.
# patch may change custom_metadata only: not max_versions, cas_required or
# delete_version_after.
path "secret/metadata/b2c/*" {
  capabilities = ["read", "patch"]
  allowed_parameters = {
    "custom_metadata" = []
  }
}

# Issue the job's certificate from its role; the role bounds names, key and TTL.
path "pki/issue/b2c-api" {
  capabilities = ["update"]
}

# Revoke a certificate the worker issued and then did not store (a lost check-and-set
# race, a failed write). Takes a serial number.
path "pki/revoke" {
  capabilities = ["update"]
  allowed_parameters = {
    "serial_number" = []
  }
}

# The roles set token_no_default_policy, so grant the two token calls the worker makes:
# renewing its own token and looking up its TTL.
path "auth/token/renew-self" {
  capabilities = ["update"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}

# Look up the AppRole secret id the worker logs in with, to export when it expires and warn
# before (certrotator_credential_expiry_timestamp_seconds). Vault answers only for a secret id
# the caller sends, so this reveals nothing the worker does not hold. Use your role's name
# and mount (deploy/vault/approle.sh creates "certrotator" at approle/).
path "auth/approle/role/certrotator/secret-id/lookup" {
  capabilities = ["update"]
}
