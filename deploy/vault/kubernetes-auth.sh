#!/bin/sh
# Creates the Kubernetes auth role "certrotator" bound to policy.hcl (and, with PKI=1, to
# policy-pki.hcl for jobs that issue from Vault PKI): pods running as the
# ServiceAccount certrotator in $NAMESPACE log in with their projected token (audience
# "vault"; see the comments in kubernetes/deployment.yaml).
# Needs VAULT_ADDR, a token allowed to manage policies and auth/kubernetes, and
# K8S_HOST (API server URL as Vault reaches it) and K8S_CA (its CA certificate file).
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
: "${NAMESPACE:=certrotator}"

. "$here/role.sh"
prepare_role kubernetes

# Vault checks each login token with the TokenReview API. Outside the cluster, also pass
# token_reviewer_jwt=<token of a ServiceAccount bound to system:auth-delegator>.
vault write auth/kubernetes/config \
  kubernetes_host="$K8S_HOST" \
  kubernetes_ca_cert=@"$K8S_CA"

# Short, renewable service tokens; after token_max_ttl the worker logs in again with a
# fresh projected token.
vault write auth/kubernetes/role/certrotator \
  bound_service_account_names=certrotator \
  bound_service_account_namespaces="$NAMESPACE" \
  audience=vault \
  token_policies="$policies" \
  token_no_default_policy=true \
  token_type=service \
  token_ttl=15m \
  token_max_ttl=1h
