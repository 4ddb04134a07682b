package bench

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// soakFinals keeps each request's final outcome events. The soak's numbered
// requests (soak-NNNNNN) are kept in an array sized before the first batch
// and the event ids as hashes, so that the soak's own records do not grow
// with the requests: its flatness check reads the whole process, and a map
// of event ids per request was most of the heap's growth once NATS ran
// apart (about 0.2 MiB per 1,000 requests). Other requests (watch,
// rollback; a few dozen) are kept in a map.
type soakFinals struct {
	numbered []finalSet
	named    map[string]*finalSet
}

// finalSet is one request's distinct final events.
type finalSet struct {
	first finalEvent // zero until the first event
	more  []finalEvent
}

// finalEvent is one final event: its id's FNV-1a hash, and its outcome
// (status/reason, one string per distinct outcome).
type finalEvent struct {
	id      uint64
	outcome string
}

func (f finalEvent) String() string { return fmt.Sprintf("%016x:%s", f.id, f.outcome) }

func eventHash(id string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(id))
	return h.Sum64() | 1 // never zero: zero marks an empty finalSet
}

// reserve sizes the array for n numbered requests, before the first is
// sent.
func (s *soakFinals) reserve(n int) { s.numbered = make([]finalSet, n) }

// set returns the request's set, creating a named one when create is set;
// nil when there is none.
func (s *soakFinals) set(requestID string, create bool) *finalSet {
	if rest, ok := strings.CutPrefix(requestID, "soak-"); ok {
		if i, err := strconv.Atoi(rest); err == nil && i >= 0 && i < len(s.numbered) {
			return &s.numbered[i]
		}
	}
	f := s.named[requestID]
	if f == nil && create {
		if s.named == nil {
			s.named = map[string]*finalSet{}
		}
		f = &finalSet{}
		s.named[requestID] = f
	}
	return f
}

// add records the event unless its id is already there.
func (f *finalSet) add(e finalEvent) {
	for _, have := range f.events() {
		if have.id == e.id {
			return
		}
	}
	if f.first.id == 0 {
		f.first = e
		return
	}
	f.more = append(f.more, e)
}

// events returns the distinct final events, nil for a nil set.
func (f *finalSet) events() []finalEvent {
	if f == nil || f.first.id == 0 {
		return nil
	}
	return append([]finalEvent{f.first}, f.more...)
}
