#!/bin/sh
# Pre-creates certrotator's JetStream assets on an external NATS cluster (3+ servers).
# The worker provisions the same assets itself when its user may; run this instead
# when the worker's user is restricted to nats-permissions.conf without create rights,
# or to review the settings before the first start.
#
# Uses the nats CLI's usual connection settings: --context, or NATS_URL + NATS_CREDS.
# Re-running with unchanged files is harmless (the server accepts an identical create).
set -eu
cd "$(dirname "$0")"

nats stream add --config stream-requests.json
nats stream add --config stream-results.json
# Max deliver must be >= the largest job's max_attempts (default 8).
nats consumer add CERTROTATION_REQUESTS --config consumer-certrotator.json

# Latest outcome per <job>.<connector>: only the newest value matters.
nats kv add certrotation-status --history 1 --replicas 3 --description 'latest outcome per job.connector'
# Per-job locks: a holder that dies stops renewing, and its lock expires after 30s.
nats kv add certrotation-locks --ttl 30s --replicas 3 --description 'per-job rotation locks'
# Expiry warnings already sent (one per certificate and threshold); 9600h = 400 days,
# longer than any public certificate's lifetime, so a warning is never sent twice.
nats kv add certrotation-warnings --ttl 9600h --replicas 3 --description 'expiry warnings already published'
