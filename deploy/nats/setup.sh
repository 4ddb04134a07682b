#!/bin/sh
# Pre-creates certrotator's JetStream assets on an external NATS server or cluster.
# The worker provisions the same assets itself when its user may; run this instead
# when the worker's user is restricted to nats-permissions.conf without create rights,
# or to review the settings before the first start.
#
#   setup.sh [REPLICAS]      REPLICAS (or $REPLICAS): 1 on a single server (the default),
#                            3 on a three-server cluster; at most the number of servers.
#
# Uses the nats CLI's usual connection settings: --context, or NATS_URL + NATS_CREDS.
# Re-running with unchanged settings is harmless (the server accepts an identical create).
set -eu
cd "$(dirname "$0")"

replicas="${1:-${REPLICAS:-1}}"
case "$replicas" in
  1|2|3|4|5) ;;
  *) echo "setup.sh: replicas must be 1 to 5, got '$replicas'" >&2; exit 2 ;;
esac

# The stream files say num_replicas 3 (a cluster); use the requested count instead.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in stream-requests.json stream-results.json stream-advisories.json; do
  sed "s/\"num_replicas\": *[0-9]*/\"num_replicas\": $replicas/" "$f" > "$tmp/$f"
  grep -q "\"num_replicas\": $replicas" "$tmp/$f" || { echo "setup.sh: no num_replicas in $f" >&2; exit 1; }
  nats stream add --config "$tmp/$f"
done
# Max deliver must be >= the largest job's max_attempts (default 8).
nats consumer add CERTROTATION_REQUESTS --config consumer-certrotator.json
# Max-deliveries advisories are kept until a replica answered them (see README).
nats consumer add CERTROTATION_ADVISORIES --config consumer-advisories.json

# Latest outcome per <job>.<connector>: only the newest value matters.
nats kv add certrotation-status --history 1 --replicas "$replicas" --description 'latest outcome per job.connector'
# Per-job locks: a holder that dies stops renewing, and its lock expires after 30s.
nats kv add certrotation-locks --ttl 30s --replicas "$replicas" --description 'per-job rotation locks'
# Expiry warnings already sent (one per certificate and threshold); 9600h = 400 days,
# longer than any public certificate's lifetime, so a warning is never sent twice.
nats kv add certrotation-warnings --ttl 9600h --replicas "$replicas" --description 'expiry warnings already published'
# A run's outcome, kept from before it is published until its request is settled,
# so a redelivery republishes the true outcome instead of running again.
nats kv add certrotation-outcomes --ttl 24h --history 1 --replicas "$replicas" --description 'outcomes of runs not yet settled'
# Graph's rate limits as token buckets every replica shares (in memory: idle ones vanish).
nats kv add certrotation-budget --ttl 10m --history 1 --storage memory --replicas "$replicas" --description 'Graph rate-limit token buckets shared by the replicas'
# Notifications: the event ids each Slack, Teams or email sink was told (14 days), so a
# redelivery is not told twice. Each sink's consumer is created by the worker.
nats kv add certrotation-notify --ttl 336h --history 1 --replicas "$replicas" --description 'event ids each notification sink was told'
