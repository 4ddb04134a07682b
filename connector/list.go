package connector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/certrotator/certrotator/jobs"
)

// listPath is the API-connector collection.
const listPath = "/v1.0/identity/apiConnectors"

// listPagesMax bounds the pages one List follows, so that a service or
// proxy that links pages in a circle cannot keep a call alive forever.
const listPagesMax = 10_000

// page is one page of a Graph collection.
type page[T any] struct {
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink"`
}

// List reads every API connector of the tenant key tenant with the list
// call, following @odata.nextLink until it is absent, and returns their
// states in the order Graph sent them. One page is one Graph call, paced
// and retried like Get; Config.CallTimeout bounds the whole List. Failures
// are *jobs.Failure as for Get; a nextLink that leaves the tenant's Graph
// root is permanent (the bearer token is never sent elsewhere).
func (c *Client) List(ctx context.Context, tenant string) ([]jobs.ConnectorState, error) {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	out, err := c.list(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("listing connectors of tenant %s: %w", tenant, err)
	}
	return out, nil
}

func (c *Client) list(ctx context.Context, tenant string) ([]jobs.ConnectorState, error) {
	tc, err := c.tenantNamed(tenant)
	if err != nil {
		return nil, err
	}
	path := listPath
	if c.cfg.ListTop > 0 {
		path += fmt.Sprintf("?$top=%d", c.cfg.ListTop)
	}
	var out []jobs.ConnectorState
	err = pages(ctx, c, tc, path, func(v []connectorJSON) error {
		// Decoded in one pass with the page: a fleet's list is most of
		// what a run reads.
		out = slices.Grow(out, len(v))
		for i := range v {
			st, err := v[i].state()
			if err != nil {
				return jobs.Transient(CodeInvalidResponse, err)
			}
			out = append(out, st)
		}
		return nil
	})
	return out, err
}

// pages reads the collection at path page by page, following
// @odata.nextLink until it is absent, and hands each page's values to
// add. One page is one Graph call, paced and retried like Get; a nextLink
// that leaves the tenant's Graph root is permanent (the bearer token is
// never sent elsewhere), and no more than listPagesMax pages are followed.
// API connectors and key sets are listed through it.
func pages[T any](ctx context.Context, c *Client, tc *tenantClient, path string, add func([]T) error) error {
	for n := 1; ; n++ {
		body, err := c.do(ctx, &request{tenant: tc, method: http.MethodGet, path: path, safe: true})
		if err != nil {
			return err
		}
		var p page[T]
		if err := json.Unmarshal(body, &p); err != nil {
			return jobs.Transient(CodeInvalidResponse, fmt.Errorf("decoding page %d: %w", n, err))
		}
		if err := add(p.Value); err != nil {
			return err
		}
		if p.NextLink == "" {
			return nil
		}
		if n == listPagesMax {
			return jobs.Transient(CodeInvalidResponse, fmt.Errorf("following nextLink: more than %d pages", listPagesMax))
		}
		if path, err = nextPath(tc.graphURL, p.NextLink); err != nil {
			return jobs.Permanent(CodeInvalidNextLink, err)
		}
	}
}

// nextPath turns an @odata.nextLink into a path after the Graph root,
// refusing a link to another scheme, host or root: the request carries
// the tenant's bearer token.
func nextPath(graphURL, next string) (string, error) {
	root, err := url.Parse(graphURL)
	if err != nil {
		return "", fmt.Errorf("parsing graph root: %w", err)
	}
	u, err := url.Parse(next)
	if err != nil {
		return "", errors.New("parsing nextLink: not a URL")
	}
	rootPath := strings.TrimRight(root.EscapedPath(), "/")
	rest, under := strings.CutPrefix(u.EscapedPath(), rootPath+"/")
	if !strings.EqualFold(u.Scheme, root.Scheme) || !strings.EqualFold(u.Host, root.Host) || !under || u.User != nil {
		return "", fmt.Errorf("nextLink leads off the Graph root %s", graphURL)
	}
	p := "/" + rest
	if u.RawQuery != "" {
		p += "?" + u.RawQuery
	}
	return p, nil
}
