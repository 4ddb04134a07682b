package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"time"

	"github.com/certrotator/certrotator/contract"
)

// webhookSender posts each event as a CloudEvent in structured mode,
// signed as Standard Webhooks specifies (standardwebhooks.com): the
// receiver verifies webhook-signature over "<webhook-id>.<webhook-timestamp>.<body>"
// and deduplicates by webhook-id, the event id, so a redelivery is
// harmless.
type webhookSender struct {
	client *http.Client
	url    string
	key    []byte
	now    func() time.Time
}

func (s webhookSender) send(ctx context.Context, evs []event) error {
	for _, ev := range evs {
		if err := s.sendOne(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

func (s webhookSender) sendOne(ctx context.Context, ev event) error {
	body := ev.raw
	ts := strconv.FormatInt(s.now().Unix(), 10)
	h := http.Header{
		"Content-Type":      {contract.EventContentType},
		"Webhook-Id":        {ev.ID},
		"Webhook-Timestamp": {ts},
		"Webhook-Signature": {"v1," + Sign(s.key, ev.ID, ts, body)},
	}
	return post(ctx, s.client, "signed", s.url, h, body)
}

// Sign is the Standard Webhooks signature of a message: the base64 of
// HMAC-SHA256 under key over "<id>.<timestamp>.<body>". Receivers compute
// it to verify a delivery (it is exported for them and for tests).
func Sign(key []byte, id, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + timestamp + "."))
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
