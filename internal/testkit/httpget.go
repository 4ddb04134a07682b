package testkit

import (
	"io"
	"net/http/httptest"
	"testing"
)

// Get fetches path from srv and returns the status code and the body,
// failing the test when the request or the read fails.
func Get(tb testing.TB, srv *httptest.Server, path string) (int, string) {
	tb.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return resp.StatusCode, string(body)
}
