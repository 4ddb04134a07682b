package notify

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// firstErrorsMax is how many events a grouped message spells out; the rest
// are counted. A storm of 500 failures becomes one message that names the
// first few errors, which is what a person acts on.
const firstErrorsMax = 5

// textMax bounds any free text taken from an event (an error message) in a
// message, so that one long error cannot blow a chat platform's limits.
const textMax = 300

// summary is what a person reads about a group of events of one request:
// the channel-neutral form that Slack, Teams and email each render.
type summary struct {
	Title string    // one line: job, counts
	Facts []fact    // job, request, trigger, who asked
	Lines []string  // the first events, failures first
	More  int       // events not spelled out
	Count int       // every event of the group
	First eventLine // the first line's parts, for cards that lay them out
}

type fact struct{ Name, Value string }

type eventLine struct{ Connector, Status, Detail string }

// statusOrder puts what needs a person first.
var statusOrder = []string{contract.StatusFailed, contract.StatusExpiring, jobs.StatusSuperseded, jobs.StatusUnauthenticated,
	contract.StatusSucceeded, contract.StatusSkipped}

// summarize builds the summary of events (at least one, of one request).
func summarize(evs []contract.Event) summary {
	evs = slices.Clone(evs)
	slices.SortStableFunc(evs, func(a, b contract.Event) int {
		return cmp.Compare(slices.Index(statusOrder, a.Data.Status), slices.Index(statusOrder, b.Data.Status))
	})
	counts := map[string]int{}
	for _, ev := range evs {
		counts[ev.Data.Status]++
	}
	var parts []string
	for _, st := range statusOrder {
		if n := counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	o := evs[0].Data
	s := summary{Count: len(evs)}
	if len(evs) == 1 {
		s.Title = fmt.Sprintf("certrotator: %s %s on %s", o.Job, verb(o), connectorName(o))
	} else {
		s.Title = fmt.Sprintf("certrotator: %s: %s of %d connectors", o.Job, strings.Join(parts, ", "), len(evs))
	}
	s.Facts = []fact{{"Job", o.Job}, {"Tenant", o.Tenant}, {"Request", o.RequestID}, {"Trigger", o.Trigger}}
	if o.RequestedBy != "" {
		s.Facts = append(s.Facts, fact{"Requested by", clip(o.RequestedBy)})
	}
	if o.RequestReason != "" {
		s.Facts = append(s.Facts, fact{"Reason given", clip(o.RequestReason)})
	}
	for i, ev := range evs {
		if i == firstErrorsMax {
			s.More = len(evs) - i
			break
		}
		l := line(ev.Data)
		if i == 0 {
			s.First = l
		}
		s.Lines = append(s.Lines, fmt.Sprintf("%s: %s%s", l.Connector, l.Status, l.Detail))
	}
	return s
}

// verb is a single event's status as a phrase.
func verb(o jobs.Outcome) string {
	switch o.Status {
	case contract.StatusFailed:
		return "failed"
	case contract.StatusExpiring:
		return fmt.Sprintf("certificate expires in %d days", o.DaysLeft)
	case jobs.StatusSuperseded:
		return "blocked by a later key"
	case jobs.StatusUnauthenticated:
		return "API open without a certificate"
	case contract.StatusSucceeded:
		return "rotated"
	default:
		return o.Status
	}
}

func connectorName(o jobs.Outcome) string {
	switch {
	case o.Connector == "":
		return "the request"
	case o.TargetKind == jobs.KindKeySet:
		return "key set " + o.Connector
	}
	return "connector " + o.Connector
}

// line is one event in a few words: what happened, the error or the
// certificate.
func line(o jobs.Outcome) eventLine {
	l := eventLine{Connector: cmp.Or(o.Connector, "(request)"), Status: o.Status}
	var d []string
	if o.Reason != "" {
		d = append(d, o.Reason)
	}
	if e := o.Error; e != nil {
		d = append(d, fmt.Sprintf("%s (%s, attempt %d%s): %s", e.Code, e.Class, o.Attempt, finalWord(o), clip(e.Message)))
	}
	if c := o.Certificate; c != nil {
		s := "certificate " + c.Thumbprint
		if !c.NotAfter.IsZero() {
			s += ", expires " + c.NotAfter.UTC().Format("2006-01-02 15:04 UTC")
		}
		d = append(d, s)
	}
	if o.Status == contract.StatusExpiring {
		d = append(d, fmt.Sprintf("%d days left (threshold %s)", o.DaysLeft, o.Threshold))
	}
	if len(d) > 0 {
		l.Detail = " — " + strings.Join(d, "; ")
	}
	return l
}

func finalWord(o jobs.Outcome) string {
	if o.Final {
		return ", final"
	}
	return ", will retry"
}

// clip bounds free text and drops control characters, so that an error
// message reads as one line and stays within the platforms' limits.
func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) <= textMax {
		return s
	}
	r := []rune(s)
	return string(r[:textMax]) + "…"
}

// plainText is the summary as text: an email body, a chat fallback.
func (s summary) plainText() string {
	var b strings.Builder
	b.WriteString(s.Title + "\n\n")
	for _, f := range s.Facts {
		fmt.Fprintf(&b, "%s: %s\n", f.Name, f.Value)
	}
	b.WriteString("\n")
	for _, l := range s.Lines {
		b.WriteString("- " + l + "\n")
	}
	if s.More > 0 {
		fmt.Fprintf(&b, "- and %d more (certrotator history or the status page has each)\n", s.More)
	}
	return b.String()
}
