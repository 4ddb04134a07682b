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
