package notify

import (
	"context"
	"fmt"
	"net/http"

	"github.com/certrotator/certrotator/contract"
)

// adaptiveCardType is the attachment content type a Teams Workflows
// webhook ("Post to a channel when a webhook request is received") takes.
const adaptiveCardType = "application/vnd.microsoft.card.adaptive"

// teamsSender posts to a Teams Workflows webhook: a message whose one
// attachment is an Adaptive Card. The retired Office 365 connector
// webhooks (MessageCard) are not supported.
type teamsSender struct {
	client *http.Client
	url    string
}

type teamsMessage struct {
	Type        string            `json:"type"`
	Attachments []teamsAttachment `json:"attachments"`
}

type teamsAttachment struct {
	ContentType string       `json:"contentType"`
	ContentURL  *string      `json:"contentUrl"`
	Content     adaptiveCard `json:"content"`
}

type adaptiveCard struct {
	Schema  string         `json:"$schema"`
	Type    string         `json:"type"`
	Version string         `json:"version"`
	Body    []adaptiveItem `json:"body"`
}

// adaptiveItem is a TextBlock or a FactSet.
type adaptiveItem struct {
	Type   string         `json:"type"`
	Text   string         `json:"text,omitempty"`
	Weight string         `json:"weight,omitempty"`
	Size   string         `json:"size,omitempty"`
	Color  string         `json:"color,omitempty"`
	Wrap   bool           `json:"wrap,omitempty"`
	Facts  []adaptiveFact `json:"facts,omitempty"`
}

type adaptiveFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

func (s teamsSender) send(ctx context.Context, evs []event) error {
	return postJSON(ctx, s.client, "teams", "card", s.url, teamsPayload(summarize(plain(evs))))
}

func teamsPayload(s summary) teamsMessage {
	color := "Good"
	switch s.First.Status {
	case contract.StatusFailed:
		color = "Attention"
	case contract.StatusExpiring:
		color = "Warning"
	}
	body := []adaptiveItem{{Type: "TextBlock", Text: s.Title, Weight: "Bolder", Size: "Medium", Color: color, Wrap: true}}
	var facts []adaptiveFact
	for _, f := range s.Facts {
		if f.Value != "" {
			facts = append(facts, adaptiveFact{Title: f.Name, Value: f.Value})
		}
	}
	body = append(body, adaptiveItem{Type: "FactSet", Facts: facts})
	for _, l := range s.Lines {
		body = append(body, adaptiveItem{Type: "TextBlock", Text: l, Wrap: true})
	}
	if s.More > 0 {
		body = append(body, adaptiveItem{Type: "TextBlock", Text: fmt.Sprintf("…and %d more", s.More), Wrap: true})
	}
	return teamsMessage{
		Type: "message",
		Attachments: []teamsAttachment{{
			ContentType: adaptiveCardType,
			Content: adaptiveCard{
				Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
				Type:    "AdaptiveCard",
				Version: "1.4",
				Body:    body,
			},
		}},
	}
}
