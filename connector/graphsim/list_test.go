package graphsim_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

// page is one answer of the list call.
type page struct {
	Context  string                  `json:"@odata.context"`
	Value    []testkit.ConnectorJSON `json:"value"`
	NextLink string                  `json:"@odata.nextLink"`
}

// manyConnectors returns a setup option adding n connectors to tenantID
// (after the one setup adds) and their ids in list order.
func manyConnectors(n int, ids *[]string) func(*graphsim.Server) {
	*ids = append(*ids, connID)
	return func(s *graphsim.Server) {
		for i := range n {
			id := fmt.Sprintf("7b3a0c1e-0000-4000-8000-%012d", i+1)
			s.AddConnector(tenantID, id, "c"+id[len(id)-2:])
			*ids = append(*ids, id)
		}
	}
}

// listAll follows nextLink from path and returns every page.
func listAll(t *testing.T, s *graphsim.Server, token, path string) []page {
	t.Helper()
	var pages []page
	for path != "" && len(pages) < 100 {
		resp, body := testkit.GraphDo(t, s, http.MethodGet, path, token, "", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
		}
		var p page
		testkit.MustJSON(t, body, &p)
		pages = append(pages, p)
		path = ""
		if p.NextLink != "" {
			u, err := url.Parse(p.NextLink)
			if err != nil || !u.IsAbs() || "https://"+u.Host != s.URL() {
				t.Fatalf("nextLink %q is not an absolute URL of the emulator", p.NextLink)
			}
			if !u.Query().Has("$skiptoken") {
				t.Fatalf("nextLink %q has no $skiptoken", p.NextLink)
			}
			path = u.RequestURI()
		}
	}
	return pages
}

func TestListPages(t *testing.T) {
	t.Parallel()
	var ids []string
	s, token := setup(t, manyConnectors(11, &ids)) // 12 in all
	s.SetPageSize(5)
	tests := []struct {
		name  string
		path  string
		sizes []int
	}{
		{"page size", "/v1.0/identity/apiConnectors", []int{5, 5, 2}},
		{"$top under the page size", "/v1.0/identity/apiConnectors?$top=4", []int{4, 4, 4}},
		{"$top capped by the page size", "/v1.0/identity/apiConnectors?$top=999", []int{5, 5, 2}},
		{"one page", "/v1.0/identity/apiConnectors?$top=1", []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			pages := listAll(t, s, token, tt.path)
			var got []string
			var sizes []int
			for _, p := range pages {
				sizes = append(sizes, len(p.Value))
				if !strings.HasSuffix(p.Context, "/v1.0/$metadata#identity/apiConnectors") {
					t.Errorf("@odata.context = %q", p.Context)
				}
				for _, c := range p.Value {
					got = append(got, c.ID)
				}
			}
			if fmt.Sprint(sizes) != fmt.Sprint(tt.sizes) {
				t.Errorf("page sizes = %v, want %v", sizes, tt.sizes)
			}
			if fmt.Sprint(got) != fmt.Sprint(ids) {
				t.Errorf("listed %v, want every connector once, in order: %v", got, ids)
			}
		})
	}
}

func TestListExactPagesHasNoEmptyLastPage(t *testing.T) {
	t.Parallel()
	var ids []string
	s, token := setup(t, manyConnectors(9, &ids)) // 10 in all
	s.SetPageSize(5)
	if pages := listAll(t, s, token, "/v1.0/identity/apiConnectors"); len(pages) != 2 || pages[1].NextLink != "" {
		t.Errorf("got %d pages (last nextLink %q), want 2 and no link on the last", len(pages), pages[len(pages)-1].NextLink)
	}
}

func TestListBadQuery(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	for _, q := range []string{"$top=0", "$top=ten", "$skiptoken=not-ours", "$skiptoken=" + url.QueryEscape("b2Zmc2V0OjE")} {
		resp, body := testkit.GraphDo(t, s, http.MethodGet, "/v1.0/identity/apiConnectors?"+q, token, "", "")
		testkit.WantGraphError(t, resp, body, http.StatusBadRequest, "BadRequest")
	}
}
