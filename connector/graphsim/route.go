package graphsim

import (
	"fmt"
	"net/http"
	"strings"
)

// collection is one Graph collection as the router serves it below its
// path (segs[0:3]: v1.0/identity/apiConnectors, beta/trustFramework/keySets):
// list it, get or patch an item, and the item's bound actions. Graph routes
// both collections by the same rules (route).
type collection struct {
	context string // the collection's @odata.context; an item's adds /$entity
	list    func(x *exchange, t *tenant, context string)
	get     func(x *exchange, t *tenant, id, context string)
	patch   func(x *exchange, t *tenant, id string) // nil: the items take no PATCH
	actions []action
}

// action is an OData action or function bound to an item.
type action struct {
	name   string // Graph takes it plain or qualified as microsoft.graph.<name>
	method string
	serve  func(x *exchange, t *tenant, id, context string)
}

// route serves segs, at least three, in c: 400 Resource not found for the
// first segment that names nothing, 405 for a method the path does not take.
func (c collection) route(x *exchange, t *tenant, segs []string) {
	m, n := x.r.Method, len(segs)
	if n <= 4 {
		switch {
		case n == 3 && m == http.MethodGet:
			c.list(x, t, c.context)
		case n == 4 && m == http.MethodGet:
			c.get(x, t, segs[3], c.context+"/$entity")
		case n == 4 && m == http.MethodPatch && c.patch != nil:
			c.patch(x, t, segs[3])
		default:
			x.methodNotAllowed()
		}
		return
	}
	a, ok := c.action(segs[4])
	switch {
	case !ok:
		x.graphError(http.StatusBadRequest, codeBadRequest, fmt.Sprintf("Resource not found for the segment '%s'.", segs[4]), "")
	case n > 5:
		x.graphError(http.StatusBadRequest, codeBadRequest, fmt.Sprintf("Resource not found for the segment '%s'.", segs[5]), "")
	case m != a.method:
		x.methodNotAllowed()
	default:
		a.serve(x, t, segs[3], c.context+"/$entity")
	}
}

// action is the item action seg names.
func (c collection) action(seg string) (action, bool) {
	for _, a := range c.actions {
		if isAction(seg, a.name) {
			return a, true
		}
	}
	return action{}, false
}

func isAction(seg, name string) bool {
	return strings.EqualFold(seg, name) || strings.EqualFold(seg, "microsoft.graph."+name)
}

func (x *exchange) methodNotAllowed() {
	x.graphError(http.StatusMethodNotAllowed, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri.", "")
}
