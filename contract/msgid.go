package contract

import (
	"strconv"
	"time"
)

// CronMsgID is the Nats-Msg-Id of a cron slot's request,
// cron-<job>-<unix seconds of the slot>: every replica firing the slot
// sends the same id, so the stream keeps one request.
func CronMsgID(job string, slot time.Time) string {
	return "cron-" + job + "-" + strconv.FormatInt(slot.Unix(), 10)
}

// WindowMsgID is the Nats-Msg-Id of the request a change window's start
// makes, window-<job>-<unix seconds of the start>, once across replicas as
// a cron slot's is.
func WindowMsgID(job string, start time.Time) string {
	return "window-" + job + "-" + strconv.FormatInt(start.Unix(), 10)
}

// WatchMsgID is the Nats-Msg-Id of the request a new Vault version of a
// watched job makes, vault-<job>-<version>-<unix seconds of its creation,
// 0 when unknown>: every replica that sees the version sends the same id,
// and a rewritten path's version 1 differs from the old one's.
func WatchMsgID(job string, version int, created time.Time) string {
	var at int64
	if !created.IsZero() {
		at = created.Unix()
	}
	return "vault-" + job + "-" + strconv.Itoa(version) + "-" + strconv.FormatInt(at, 10)
}

// ManualMsgID is the Nats-Msg-Id of a request a person or program sent
// without its own id: manual-<random uuid>, never a duplicate.
func ManualMsgID() string { return "manual-" + newUUID() }
