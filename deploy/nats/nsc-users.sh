#!/bin/sh
# Operator/JWT mode: creates certrotator's three users in an nsc account with exactly the
# subject lists of nats-permissions.conf (read from it, so the two modes cannot drift), and
# writes their .creds files into the current directory (mode 0600):
#   nats.creds            the worker           (nats.creds_file in the worker's config)
#   nats-publisher.creds  the publisher        (CI, people: rotate, status, events, history)
#   nats-setup.creds      the setup user       (setup.sh, administrators: anything in the account)
#
#   nsc-users.sh ACCOUNT     the account must exist and have JetStream enabled
#                            (docs/onboarding.md, step 4, mode 2)
# Then `nsc push -a ACCOUNT` to your account resolver.
set -eu
account="${1:?usage: nsc-users.sh ACCOUNT}"
conf="$(dirname "$0")/nats-permissions.conf"

# list USER pub|sub: the quoted subjects of that user's publish or subscribe allow list.
list() {
  awk -v who="$1" -v want="$2" '
    index($0, "nkey: UREPLACE_WITH_THE_" who "_USER_PUBLIC_NKEY") { inuser = 1; next }
    inuser && /nkey:/ { inuser = 0 }
    inuser && /publish *\{/ { mode = "pub" }
    inuser && /subscribe *\{/ { mode = "sub" }
    inuser && mode == want && /^[ \t]*"/ { s = $0; sub(/^[ \t]*"/, "", s); sub(/".*/, "", s); print s }
  ' "$conf" | paste -sd, -
}

umask 077
for who in WORKER PUBLISHER; do
  name="certrotator-$(echo "$who" | tr 'A-Z' 'a-z')"
  pub=$(list "$who" pub)
  sub=$(list "$who" sub)
  [ -n "$pub" ] && [ -n "$sub" ] || { echo "nsc-users.sh: no $who lists in $conf" >&2; exit 1; }
  nsc add user -a "$account" -n "$name" --allow-pub "$pub" --allow-sub "$sub"
done
nsc add user -a "$account" -n certrotator-setup
nsc generate creds -a "$account" -n certrotator-worker > nats.creds
nsc generate creds -a "$account" -n certrotator-publisher > nats-publisher.creds
nsc generate creds -a "$account" -n certrotator-setup > nats-setup.creds
echo "wrote nats.creds, nats-publisher.creds and nats-setup.creds (mode 0600)"
