package connector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

// Authentication types of jobs.ConnectorState.AuthType.
const (
	AuthTypeClientCertificate = "clientCertificate"
	AuthTypeBasic             = "basic"
)

// connectorJSON is the identityApiConnector entity as Graph sends it.
type connectorJSON struct {
	ID          string          `json:"id"`
	DisplayName string          `json:"displayName"`
	TargetURL   string          `json:"targetUrl"`
	AuthConfig  *authConfigJSON `json:"authenticationConfiguration"`
}

type authConfigJSON struct {
	Type            string     `json:"@odata.type"`
	CertificateList []certJSON `json:"certificateList"`
}

type certJSON struct {
	Thumbprint string    `json:"thumbprint"`
	NotBefore  epochTime `json:"notBefore"`
	NotAfter   epochTime `json:"notAfter"`
	IsActive   bool      `json:"isActive"`
}

// epochTime is an Edm.Int64 of seconds since 1970, as the metadata says.
// A string holding an RFC 3339 date or a number is tolerated, since one
// documentation sample shows a DateTime.
type epochTime struct{ time.Time }

// UnmarshalJSON accepts a number of seconds, a string of seconds, an RFC
// 3339 string or null.
func (t *epochTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("decoding time %s: %w", b, err)
		}
		if ts, err := time.Parse(time.RFC3339Nano, s); err == nil {
			t.Time = ts.UTC()
			return nil
		}
	}
	secs, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("decoding time %q: neither seconds since 1970 nor RFC 3339", s)
	}
	t.Time = time.Unix(int64(secs), 0).UTC()
	return nil
}

// parseState decodes a connector entity (a GET answer or an upload answer).
func parseState(body []byte) (jobs.ConnectorState, error) {
	var c connectorJSON
	if err := json.Unmarshal(body, &c); err != nil {
		return jobs.ConnectorState{}, fmt.Errorf("decoding connector: %w", err)
	}
	return c.state()
}

// state converts a decoded entity (alone or an item of a list page).
func (c *connectorJSON) state() (jobs.ConnectorState, error) {
	if c.ID == "" {
		return jobs.ConnectorState{}, fmt.Errorf("decoding connector: no id in the answer")
	}
	s := jobs.ConnectorState{ID: c.ID, DisplayName: c.DisplayName, TargetURL: c.TargetURL}
	if c.AuthConfig == nil {
		return s, nil
	}
	s.AuthType = authType(c.AuthConfig)
	for _, ct := range c.AuthConfig.CertificateList {
		s.Certificates = append(s.Certificates, jobs.Certificate{
			Thumbprint: strings.ToUpper(ct.Thumbprint),
			NotBefore:  ct.NotBefore.Time,
			NotAfter:   ct.NotAfter.Time,
			IsActive:   ct.IsActive,
		})
	}
	return s, nil
}

// authType maps the @odata.type of authenticationConfiguration.
func authType(a *authConfigJSON) string {
	t := strings.ToLower(strings.TrimPrefix(a.Type, "#"))
	switch {
	case t == "microsoft.graph.clientcertificateauthentication":
		return AuthTypeClientCertificate
	case t == "microsoft.graph.basicauthentication":
		return AuthTypeBasic
	case t == "" && a.CertificateList != nil:
		return AuthTypeClientCertificate
	}
	return ""
}
