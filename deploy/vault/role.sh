# Sourced, not run, by approle.sh and kubernetes-auth.sh: the steps both take before each
# writes its role "certrotator", so that the two bind the same policies. They set $here, the
# folder of the policies, first.

# prepare_role METHOD writes the policies the role is bound to (policy.hcl and, with PKI=1,
# policy-pki.hcl), sets $policies to their names for token_policies, and enables the auth
# method METHOD when it is not enabled yet.
prepare_role() {
  vault policy write certrotator "$here/policy.hcl"
  policies=certrotator
  if [ "${PKI:-0}" = 1 ]; then
    vault policy write certrotator-pki "$here/policy-pki.hcl"
    policies=certrotator,certrotator-pki
  fi
  vault auth list | grep -q "^$1/" || vault auth enable "$1"
}
