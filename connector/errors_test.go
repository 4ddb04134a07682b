package connector

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestParseGraphError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		header    http.Header
		body      string
		wantCode  string
		wantMsg   string
		wantReqID string
		wantCReq  string
		wantDate  string
	}{
		{
			name:      "documented shape",
			body:      `{"error":{"code":"Request_ResourceNotFound","message":"Resource not found.","innerError":{"date":"2023-09-29T11:09:56","request-id":"r-1","client-request-id":"c-1"}}}`,
			wantCode:  "Request_ResourceNotFound",
			wantMsg:   "Resource not found.",
			wantReqID: "r-1",
			wantCReq:  "c-1",
			wantDate:  "2023-09-29T11:09:56",
		},
		{
			name:      "lower-case innererror with a nested code",
			body:      `{"error":{"code":"BadRequest","message":"Bad request.","innererror":{"code":"AADB2C90213","message":"The certificate password provided in request is incorrect.","request-id":"r-2"}}}`,
			wantCode:  "AADB2C90213",
			wantMsg:   "The certificate password provided in request is incorrect.",
			wantReqID: "r-2",
		},
		{
			name:      "two levels deep, message only outside",
			body:      `{"error":{"code":"A","message":"outer","innerError":{"innerError":{"code":"C"}}}}`,
			wantCode:  "C",
			wantMsg:   "outer",
			wantReqID: "hdr",
		},
		{
			name:      "html from a gateway keeps the header ids",
			header:    http.Header{"Request-Id": {"hdr"}, "Client-Request-Id": {"chdr"}},
			body:      `<html>502 Bad Gateway</html>`,
			wantReqID: "hdr",
			wantCReq:  "chdr",
		},
		{name: "empty body", body: ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := tt.header
			if h == nil {
				h = http.Header{"Request-Id": {"hdr"}}
			}
			e := parseGraphError(400, h, []byte(tt.body), nil)
			want := GraphError{Status: 400, Code: tt.wantCode, Message: tt.wantMsg, RequestID: tt.wantReqID,
				ClientRequestID: tt.wantCReq, Date: tt.wantDate}
			if tt.wantReqID == "" {
				want.RequestID = "hdr"
			}
			got := *e
			got.codes = nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("parseGraphError = %+v, want %+v", got, want)
			}
		})
	}
}

func TestGraphErrorIs(t *testing.T) {
	t.Parallel()
	body := `{"error":{"code":"Request_ResourceNotFound","message":"x","innerError":{"code":"Inner_Code"}}}`
	e := parseGraphError(404, http.Header{}, []byte(body), nil)
	wrapped := fmt.Errorf("getting connector: %w", e)
	if !errors.Is(wrapped, ErrNotFound) {
		t.Error("errors.Is(ErrNotFound) = false for an outer code Request_ResourceNotFound")
	}
	if !errors.Is(wrapped, &GraphError{Code: "inner_code"}) {
		t.Error("errors.Is on the inner code, case-insensitively = false")
	}
	if errors.Is(wrapped, ErrThrottled) {
		t.Error("errors.Is(ErrThrottled) = true for a 404")
	}
	if !errors.Is(wrapped, &GraphError{Status: 404}) {
		t.Error("errors.Is(&GraphError{Status: 404}) = false")
	}
}

func TestGraphErrorText(t *testing.T) {
	t.Parallel()
	e := &GraphError{Status: 400, Code: "AADB2C90213", Message: "bad password", RequestID: "r-1", ClientRequestID: "c-1"}
	want := "graph: 400 AADB2C90213: bad password (request-id r-1, client-request-id c-1)"
	if got := e.Error(); got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := (&GraphError{Status: 502}).Error(); got != "graph: 502" {
		t.Errorf("Error() = %q, want %q", got, "graph: 502")
	}
}

func TestParseGraphErrorRedacts(t *testing.T) {
	t.Parallel()
	secret := "TUlJS2p3SUJBekNDQ2trR0NTcUdTSWIz"
	body := `{"error":{"code":"BadRequest","message":"Invalid value '` + secret + `' for pw hunter2!"}}`
	e := parseGraphError(400, http.Header{}, []byte(body), []string{secret, "hunter2!", "ab"})
	if strings.Contains(e.Error(), secret) || strings.Contains(e.Error(), "hunter2!") {
		t.Errorf("Error() = %q, holds a secret", e.Error())
	}
	if !strings.Contains(e.Message, "REDACTED") {
		t.Errorf("Message = %q, want REDACTED in it", e.Message)
	}
	long := strings.Repeat("é", messageMax)
	if got := redact(long, nil); len(got) > messageMax+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("redact of %d bytes = %d bytes, want at most %d ending in …", len(long), len(got), messageMax+3)
	}
}
