package graphsim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// PageSizeDefault is how many connectors one page of the list call holds
// unless SetPageSize says otherwise. Graph documents no page size for this
// entity; 100 is its most common default for directory collections.
const PageSizeDefault = 100

// skipTokenPrefix marks the emulator's skip tokens. Clients must treat the
// token as opaque; the prefix only lets the emulator reject foreign ones.
const skipTokenPrefix = "graphsim-offset:"

type paging struct {
	size int
}

// SetPageSize sets how many connectors one page of
// GET /identity/apiConnectors holds; n <= 0 restores PageSizeDefault. A
// $top larger than n is capped to n, as Graph caps it.
func (s *Server) SetPageSize(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		n = PageSizeDefault
	}
	s.paging.size = n
}

// listConnectors answers one page of the collection:
// {"@odata.context", "value": [...], "@odata.nextLink"} with the next
// link absent on the last page. The link is absolute and carries $top
// (when the client sent one) and an opaque $skiptoken.
func (s *Server) listConnectors(x *exchange, t *tenant, context string) {
	listPage(s, x, context, func() int { return len(t.connectors) },
		func(i int) map[string]any { return t.connectors[i].entity("", x.now) })
}

// listPage answers one page of a tenant's collection of count() items,
// item(i) being the i-th as the collection shows it; both are called with
// s.mu held. Connectors and key sets page alike, as Graph's collections do.
func listPage(s *Server, x *exchange, context string, count func() int, item func(i int) map[string]any) {
	q := x.r.URL.Query()
	top, ok := x.topParam(q.Get("$top"), q.Has("$top"))
	if !ok {
		return
	}
	offset, ok := x.skipParam(q.Get("$skiptoken"), q.Has("$skiptoken"))
	if !ok {
		return
	}
	s.mu.Lock()
	size := s.paging.size
	if top > 0 {
		size = min(top, size)
	}
	n := count()
	end := min(offset+size, n)
	items := make([]map[string]any, 0, max(end-offset, 0))
	for i := offset; i < end; i++ {
		items = append(items, item(i))
	}
	more := end < n
	s.mu.Unlock()
	body := map[string]any{"@odata.context": context, "value": items}
	if more {
		body["@odata.nextLink"] = s.nextLink(x, top, end)
	}
	x.writeJSON(http.StatusOK, entityContentType, body)
}

func (s *Server) nextLink(x *exchange, top, offset int) string {
	var b strings.Builder
	b.WriteString(s.url + x.r.URL.Path + "?")
	if top > 0 {
		fmt.Fprintf(&b, "$top=%d&", top)
	}
	b.WriteString("$skiptoken=" + base64.RawURLEncoding.EncodeToString([]byte(skipTokenPrefix+strconv.Itoa(offset))))
	return b.String()
}

// topParam reads $top: absent is 0 (the page size), anything but a
// positive integer is a 400 as in Graph.
func (x *exchange) topParam(v string, present bool) (int, bool) {
	if !present {
		return 0, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		x.graphError(http.StatusBadRequest, codeBadRequest, fmt.Sprintf("Invalid value '%s' for query parameter $top.", v), "")
		return 0, false
	}
	return n, true
}

// skipParam reads $skiptoken back into an offset.
func (x *exchange) skipParam(v string, present bool) (int, bool) {
	if !present {
		return 0, true
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	digits, ok := strings.CutPrefix(string(raw), skipTokenPrefix)
	n, aerr := strconv.Atoi(digits)
	if err != nil || !ok || aerr != nil || n < 0 {
		x.graphError(http.StatusBadRequest, codeBadRequest, "The $skiptoken is not valid. Follow @odata.nextLink as returned.", "")
		return 0, false
	}
	return n, true
}
