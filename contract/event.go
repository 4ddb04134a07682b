package contract

import (
	"time"
)

// Event is an outcome as a CloudEvents 1.0 structured JSON message, the
// body of every message on <prefix>.result.<job>.<connector>.
type Event struct {
	SpecVersion     string    `json:"specversion"`
	ID              string    `json:"id"`
	Source          string    `json:"source"`
	Type            string    `json:"type"`
	Subject         string    `json:"subject"`
	Time            time.Time `json:"time"`
	DataContentType string    `json:"datacontenttype"`
	Data            Outcome   `json:"data"`
}

// EventContentType is the Content-Type header of an outcome message.
const EventContentType = "application/cloudevents+json"

// NewEvent wraps an outcome in a CloudEvent from source
// certrotator/<instance>, with a fresh id. Its free text is bounded
// (BoundOutcome).
func NewEvent(instance string, o Outcome, now time.Time) Event {
	return Event{
		SpecVersion:     "1.0",
		ID:              newUUID(),
		Source:          "certrotator/" + instance,
		Type:            o.EventType(),
		Subject:         o.Job + "/" + ConnectorToken(o.Connector),
		Time:            now.UTC().Truncate(time.Millisecond),
		DataContentType: "application/json",
		Data:            BoundOutcome(o),
	}
}
