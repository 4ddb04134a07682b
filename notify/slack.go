package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// Block Kit limits (api.slack.com/reference/block-kit/blocks): a header's
// plain_text at most 150 characters, a section's text at most 3000.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
)

// slackSender posts to a Slack incoming webhook: text (the notification's
// fallback) and Block Kit blocks.
type slackSender struct {
	client *http.Client
	url    string
}

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type string `json:"type"` // plain_text or mrkdwn
	Text string `json:"text"`
}

func (s slackSender) send(ctx context.Context, evs []event) error {
	return postJSON(ctx, s.client, "slack", "message", s.url, slackPayload(summarize(plain(evs))))
}

func slackPayload(s summary) slackMessage {
	var fields []slackText
	for _, f := range s.Facts {
		if f.Value != "" {
			fields = append(fields, slackText{Type: "mrkdwn", Text: "*" + f.Name + "*\n" + slackEscape(f.Value)})
		}
	}
	var lines []string
	for _, l := range s.Lines {
		lines = append(lines, "• "+slackEscape(l))
	}
	if s.More > 0 {
		lines = append(lines, fmt.Sprintf("…and %d more", s.More))
	}
	return slackMessage{
		Text: slackEscape(s.Title),
		Blocks: []slackBlock{
			{Type: "header", Text: &slackText{Type: "plain_text", Text: cut(s.Title, slackHeaderMax)}},
			{Type: "section", Fields: fields[:min(len(fields), 10)]},
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: cut(strings.Join(lines, "\n"), slackSectionMax)}},
			{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: "certrotator · " + fmt.Sprint(s.Count) + " event(s)"}}},
		},
	}
}

// slackEscape escapes the three characters mrkdwn gives meaning to, as
// Slack's formatting guide asks.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// cut bounds s to n runes.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
