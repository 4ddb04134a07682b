#!/bin/sh
# Creates the AppRole "certrotator" bound to policy.hcl (and, with PKI=1, to policy-pki.hcl for
# jobs that issue from Vault PKI), and writes its role_id and a secret_id to vault-role-id and
# vault-secret-id (mode 0600) in OUT_DIR: by default the directory you run it from, never this
# folder of the clone. Load them into the Kubernetes Secret (or systemd credentials), then
# delete them.
# Needs VAULT_ADDR and a token allowed to manage policies and auth/approle.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
out="${OUT_DIR:-$PWD}"
if [ ! -d "$out" ]; then
  echo "approle.sh: OUT_DIR $out is not a directory" >&2
  exit 2
fi
case "$(cd "$out" && pwd)" in
"$here" | "$here"/*)
  echo "approle.sh: refusing to write the secret id into the clone ($out): run it from another directory or set OUT_DIR" >&2
  exit 2
  ;;
esac

. "$here/role.sh"
prepare_role approle

# Service tokens (batch tokens cannot be renewed) of 15 minutes, renewed by the worker
# while it runs; after token_max_ttl it logs in again with the secret_id.
# The secret_id lasts 90 days and may be reused for those logins: replace it before it
# expires (re-run this script, update the Secret, restart the pods).
vault write auth/approle/role/certrotator \
  token_policies="$policies" \
  token_no_default_policy=true \
  token_type=service \
  token_ttl=15m \
  token_max_ttl=1h \
  secret_id_ttl=2160h \
  secret_id_num_uses=0
# Optionally pin logins to the workers' egress addresses:
#   secret_id_bound_cidrs=10.0.0.0/16 token_bound_cidrs=10.0.0.0/16

umask 077
vault read -field=role_id auth/approle/role/certrotator/role-id > "$out/vault-role-id"
vault write -f -field=secret_id auth/approle/role/certrotator/secret-id > "$out/vault-secret-id"
echo "wrote $out/vault-role-id and $out/vault-secret-id (mode 0600); load them into the Secret, then delete them"
