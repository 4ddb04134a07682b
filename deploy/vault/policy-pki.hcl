# Vault policy "certrotator-pki": what a job with `source.pki` needs on top of policy.hcl
# (give the role both: token_policies=certrotator,certrotator-pki). Exactly the calls the
# worker makes to issue a certificate and store it as a new KV version.
#
# One pair of KV blocks per PKI job: write only the paths the worker issues into, never the
# whole mount. Change `secret/b2c/contoso-api`, the PKI mount `pki` and the role `b2c-api`
# to match each job's `source` and `source.pki`. Vault applies the most specific matching
# path alone (an exact path here hides policy.hcl's `b2c/*` glob), so these blocks repeat
# "read".

# Read the bundle, and store the issued one as a new version. The worker writes with
# check-and-set only, so two replicas never both win.
path "secret/data/b2c/contoso-api" {
  capabilities = ["read", "create", "update"]
}

# current_version and the versions' times (issuance, watch, history), and record each
# issued version's serial, not-after and issuer in the custom metadata (for history). patch may change custom_metadata only: not max_versions, cas_required or
# delete_version_after.
path "secret/metadata/b2c/contoso-api" {
  capabilities = ["read", "patch"]
  allowed_parameters = {
    "custom_metadata" = []
  }
}

# Issue the job's certificate from its role; the role bounds names, key type and TTL.
path "pki/issue/b2c-api" {
  capabilities = ["update"]
}

# Revoke a certificate the worker issued and proved it did not store (another replica's
# version won the check-and-set, Vault refused the write). revoke-with-key (Vault 1.12+)
# revokes only a certificate whose private key the caller presents, that is one the worker
# itself was issued: pki/revoke, which revokes any serial of the mount, is not granted.
path "pki/revoke-with-key" {
  capabilities = ["update"]
}
