# Vault policy "certrotator": read the PKCS#12 bundles, nothing else.
#
# The bundles live in the KV v2 engine mounted at secret/. KV v2 keeps the data under
# <mount>/data/<path> and the versions under <mount>/metadata/<path>, so the CLI path
# `secret/b2c/contoso-api` is read through both API paths below. No create/update:
# only the pipeline that issues certificates writes bundles.

path "secret/data/b2c/*" {
  capabilities = ["read"]
}

# Version metadata (current_version), reported as the outcome's source_version.
path "secret/metadata/b2c/*" {
  capabilities = ["read"]
}

# The roles set token_no_default_policy, so grant the two token calls the worker makes:
# renewing its own token and looking up its TTL.
path "auth/token/renew-self" {
  capabilities = ["update"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}
