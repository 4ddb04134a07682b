// Package notify tells people about rotations: it delivers the outcome
// events and expiry warnings of the results stream to the sinks of the
// config's `notify` list (Slack, Teams, a signed webhook, email).
//
// It is a service of its own beside the worker, reading the stream the
// worker publishes; a slow or failing sink therefore never slows or fails
// a rotation. Each sink has a durable pull consumer named after it
// (certrotator-notify-<name>): every replica binds to it and each event is
// handled by one of them, at least once across restarts and network
// faults (an event is acked only once delivered; a failed delivery is
// nak'd with a backoff delay). Sinks that cannot deduplicate themselves
// (Slack, Teams, email) keep the ids of the events they sent in the
// certrotation-notify bucket, written before the ack, so a redelivery is
// not told twice; the webhook sink leaves that to its receiver, which
// dedupes by webhook-id (the event id) as Standard Webhooks says.
//
// Slack, Teams and email messages group a request's events over a short
// window: a storm of 500 failures of one request is one message with the
// counts and the first errors.
package notify
