package notify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

// verifyStandardWebhook checks a delivery as a Standard Webhooks receiver
// does (standardwebhooks.com, "Verifying webhooks"): the three headers,
// a timestamp within five minutes, and a v1 signature equal to the base64
// HMAC-SHA256 of "<id>.<timestamp>.<body>" under the key.
func verifyStandardWebhook(key []byte, rc testkit.Received) error {
	id, ts, sigs := rc.Header.Get("webhook-id"), rc.Header.Get("webhook-timestamp"), rc.Header.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("missing webhook-id %q, webhook-timestamp %q or webhook-signature %q", id, ts, sigs)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || math.Abs(time.Since(time.Unix(sec, 0)).Seconds()) > 300 {
		return fmt.Errorf("webhook-timestamp %q is not a Unix time within 5 minutes", ts)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(rc.Body)
	want := mac.Sum(nil)
	for _, s := range strings.Fields(sigs) {
		v, sig, ok := strings.Cut(s, ",")
		if !ok || v != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(sig)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errors.New("no v1 signature verifies")
}

// checkCloudEvent checks a structured-mode CloudEvents delivery: the
// content type and the required attributes (id, source, specversion, type).
func checkCloudEvent(rc testkit.Received) (contract.Event, error) {
	var ev contract.Event
	if ct := rc.Header.Get("Content-Type"); ct != "application/cloudevents+json" {
		return ev, fmt.Errorf("Content-Type %q, want application/cloudevents+json", ct)
	}
	if err := json.Unmarshal(rc.Body, &ev); err != nil {
		return ev, err
	}
	if ev.SpecVersion != "1.0" || ev.ID == "" || ev.Source == "" || ev.Type == "" {
		return ev, fmt.Errorf("missing a required CloudEvents attribute: %+v", ev)
	}
	if rc.Header.Get("webhook-id") != ev.ID {
		return ev, fmt.Errorf("webhook-id %q is not the event id %q", rc.Header.Get("webhook-id"), ev.ID)
	}
	return ev, nil
}

func TestWebhookDeliversSignedCloudEvents(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	key := bytes.Repeat([]byte{7}, 32)
	r := testkit.NewReceiver(t, "/hook", func(rc testkit.Received) error {
		if err := verifyStandardWebhook(key, rc); err != nil {
			return err
		}
		_, err := checkCloudEvent(rc)
		return err
	})
	startService(t, b, r.Srv.Client(), nil, config.NotifySink{
		Name: "audit", Kind: config.NotifyWebhook, URL: r.Srv.URL + "/hook", SigningKey: key,
		On: []string{contract.StatusFailed, contract.StatusSucceeded},
	})
	want := []string{b.publish(t, failed("contoso-api", "r1", 1)).ID}
	skip := succeeded("contoso-api", "r1", 2)
	skip.Status = contract.StatusSkipped
	b.publish(t, skip) // not in `on`
	want = append(want, b.publish(t, succeeded("contoso-api", "r2", 3)).ID)
	got := nextIDs(t, r, len(want))
	if !slices.Equal(got, want) {
		t.Errorf("delivered events %v, want %v (each once, in order, the skipped one not)", got, want)
	}
	r.RequireNone(t)
}

// checkSlackPayload checks a message against Block Kit's published shape
// (api.slack.com/reference/block-kit): text or blocks; at most 50 blocks,
// each with a known type; text objects of type plain_text or mrkdwn with
// text; a header's plain_text at most 150 characters, a section's text at
// most 3000 and at most 10 fields; a context's 1 to 10 elements.
func checkSlackPayload(body []byte) error {
	var msg struct {
		Text   *string          `json:"text"`
		Blocks []map[string]any `json:"blocks"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return err
	}
	if (msg.Text == nil || *msg.Text == "") && len(msg.Blocks) == 0 {
		return errors.New("neither text nor blocks")
	}
	if len(msg.Blocks) > 50 {
		return fmt.Errorf("%d blocks, at most 50", len(msg.Blocks))
	}
	textObj := func(v any, max int) error {
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("text object %v is not an object", v)
		}
		typ, _ := m["type"].(string)
		text, _ := m["text"].(string)
		if typ != "plain_text" && typ != "mrkdwn" || text == "" || len([]rune(text)) > max {
			return fmt.Errorf("text object %v: type must be plain_text or mrkdwn, text 1 to %d characters", m, max)
		}
		return nil
	}
	for _, bl := range msg.Blocks {
		switch bl["type"] {
		case "header":
			if err := textObj(bl["text"], 150); err != nil {
				return err
			}
			if bl["text"].(map[string]any)["type"] != "plain_text" {
				return errors.New("a header's text must be plain_text")
			}
		case "section":
			fields, _ := bl["fields"].([]any)
			if bl["text"] == nil && len(fields) == 0 {
				return errors.New("a section needs text or fields")
			}
			if bl["text"] != nil {
				if err := textObj(bl["text"], 3000); err != nil {
					return err
				}
			}
			if len(fields) > 10 {
				return fmt.Errorf("%d fields, at most 10", len(fields))
			}
			for _, f := range fields {
				if err := textObj(f, 2000); err != nil {
					return err
				}
			}
		case "context":
			els, _ := bl["elements"].([]any)
			if len(els) < 1 || len(els) > 10 {
				return fmt.Errorf("a context has %d elements, 1 to 10", len(els))
			}
			for _, e := range els {
				if err := textObj(e, 3000); err != nil {
					return err
				}
			}
		case "divider":
		default:
			return fmt.Errorf("unknown block type %v", bl["type"])
		}
	}
	return nil
}

// checkAdaptiveCardMessage checks a Teams Workflows webhook message: type
// message, attachments each of contentType
// application/vnd.microsoft.card.adaptive whose content is an
// AdaptiveCard (adaptivecards.io schema: type, version, body of elements;
// a TextBlock has text, a FactSet has facts of title and value).
func checkAdaptiveCardMessage(body []byte) (string, error) {
	var msg struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Schema  string           `json:"$schema"`
				Type    string           `json:"type"`
				Version string           `json:"version"`
				Body    []map[string]any `json:"body"`
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(body, &msg); err != nil {
		return "", err
	}
	if msg.Type != "message" || len(msg.Attachments) == 0 {
		return "", fmt.Errorf("type %q with %d attachments, want message with at least one", msg.Type, len(msg.Attachments))
	}
	var text strings.Builder
	for _, a := range msg.Attachments {
		c := a.Content
		if a.ContentType != "application/vnd.microsoft.card.adaptive" || c.Type != "AdaptiveCard" || c.Version == "" || c.Schema == "" || len(c.Body) == 0 {
			return "", fmt.Errorf("attachment %+v is not an Adaptive Card", a)
		}
		for _, el := range c.Body {
			switch el["type"] {
			case "TextBlock":
				s, _ := el["text"].(string)
				if s == "" {
					return "", errors.New("a TextBlock without text")
				}
				text.WriteString(s + "\n")
			case "FactSet":
				facts, _ := el["facts"].([]any)
				if len(facts) == 0 {
					return "", errors.New("a FactSet without facts")
				}
				for _, f := range facts {
					m, _ := f.(map[string]any)
					if _, ok := m["title"].(string); !ok {
						return "", fmt.Errorf("fact %v without title", f)
					}
					if _, ok := m["value"].(string); !ok {
						return "", fmt.Errorf("fact %v without value", f)
					}
				}
			default:
				return "", fmt.Errorf("unexpected element type %v", el["type"])
			}
		}
	}
	return text.String(), nil
}

func TestSlackGetsBlockKit(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	r := testkit.NewReceiver(t, "/services/T0/B0/XYZ", func(rc testkit.Received) error { return checkSlackPayload(rc.Body) })
	startService(t, b, r.Srv.Client(), nil, config.NotifySink{
		Name: "oncall", Kind: config.NotifySlack, URL: r.Srv.URL + "/services/T0/B0/XYZ", On: config.NotifyOnDefault(),
	})
	o := failed("contoso-api", "r1", 1)
	o.Error.Message = "<script> & " + strings.Repeat("x", 5000)
	b.publish(t, o)
	body := fmt.Sprint(decodeJSON(t, r.Next(t).Body))
	for _, want := range []string{"contoso-api", o.Connector, "vault_unavailable", "&lt;script&gt; &amp;"} {
		if !strings.Contains(body, want) {
			t.Errorf("slack message lacks %q: %s", want, body)
		}
	}
}

func TestTeamsGetsAdaptiveCard(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	r := testkit.NewReceiver(t, "/workflows/abc", func(rc testkit.Received) error {
		_, err := checkAdaptiveCardMessage(rc.Body)
		return err
	})
	startService(t, b, r.Srv.Client(), nil, config.NotifySink{
		Name: "ops", Kind: config.NotifyTeams, URL: r.Srv.URL + "/workflows/abc", On: []string{contract.StatusSucceeded, contract.StatusExpiring},
	})
	b.publish(t, failed("contoso-api", "r1", 1)) // not in `on`
	exp := jobs.Outcome{Job: "contoso-api", Tenant: "contoso", Connector: "7b3a0c1e-0000-4000-8000-000000000009", RequestID: "r2",
		Status: contract.StatusExpiring, DaysLeft: 13, Threshold: "336h", Certificate: &jobs.CertInfo{Thumbprint: "FFEE"}}
	b.publish(t, exp)
	text, _ := checkAdaptiveCardMessage(r.Next(t).Body)
	if !strings.Contains(text, "expires in 13 days") || !strings.Contains(text, exp.Connector) {
		t.Errorf("card text %q does not tell the expiry of %s", text, exp.Connector)
	}
	r.RequireNone(t)
}

// TestStormIsOneMessagePerRequest: 500 connectors of one request fail
// together; Slack gets one message with the count and the first errors.
func TestStormIsOneMessagePerRequest(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	r, sink := slackReceiver(t, "oncall")
	s := newService(t, b, r.Srv.Client(), nil, sink)
	// The storm is in the stream before the service reads it, as when the
	// worker outpaces delivery; the consumer starts at new events, so it
	// is created first.
	ctx := t.Context()
	s.cfg.Window = time.Minute
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stopService(t, s) })
	const n = 500
	for i := range n {
		b.publish(t, failed("contoso-api", "storm", i))
	}
	got := s.signals.delivered.WaitOrTimeout(t)
	if len(got) != n {
		t.Fatalf("the first message told %d events, want all %d", len(got), n)
	}
	body := string(r.Next(t).Body)
	for _, want := range []string{"500 failed of 500 connectors", "connection refused (0)", "connection refused (4)", "and 495 more"} {
		if !strings.Contains(body, want) {
			t.Errorf("storm message lacks %q: %s", want, body)
		}
	}
	r.RequireNone(t)
}
