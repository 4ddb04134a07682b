package connector

import (
	"testing"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

func TestParseState(t *testing.T) {
	t.Parallel()
	nb, na := time.Unix(1508670522, 0).UTC(), time.Unix(1666350522, 0).UTC()
	tests := []struct {
		name string
		body string
		want jobs.ConnectorState
	}{
		{
			name: "client certificate, integer seconds",
			body: `{"@odata.context":"https://graph.microsoft.com/v1.0/$metadata#identity/apiConnectors/$entity",
				"id":"be1f769b-9b13-437e-b540-79a905c4932c","displayName":"Test API","targetUrl":"https://api.example.com",
				"authenticationConfiguration":{"@odata.type":"#microsoft.graph.clientCertificateAuthentication",
				"certificateList":[{"thumbprint":"0eb255cc895477798bb3ad4e5a3ee5f2e1ed97ad","notBefore":1508670522,"notAfter":1666350522,"isActive":true}]}}`,
			want: jobs.ConnectorState{ID: "be1f769b-9b13-437e-b540-79a905c4932c", DisplayName: "Test API", TargetURL: "https://api.example.com", AuthType: AuthTypeClientCertificate,
				Certificates: []jobs.Certificate{{Thumbprint: "0EB255CC895477798BB3AD4E5A3EE5F2E1ED97AD", NotBefore: nb, NotAfter: na, IsActive: true}}},
		},
		{
			name: "DateTime strings as one doc sample shows",
			body: `{"id":"x","authenticationConfiguration":{"@odata.type":"#microsoft.graph.clientCertificateAuthentication",
				"certificateList":[{"thumbprint":"AB","notBefore":"2017-10-22T11:08:42Z","notAfter":"1666350522","isActive":false}]}}`,
			want: jobs.ConnectorState{ID: "x", AuthType: AuthTypeClientCertificate,
				Certificates: []jobs.Certificate{{Thumbprint: "AB", NotBefore: nb, NotAfter: na}}},
		},
		{
			name: "basic authentication",
			body: `{"id":"x","displayName":"B","authenticationConfiguration":{"@odata.type":"#microsoft.graph.basicAuthentication","username":"u","password":"******"}}`,
			want: jobs.ConnectorState{ID: "x", DisplayName: "B", AuthType: AuthTypeBasic},
		},
		{
			name: "unknown type",
			body: `{"id":"x","authenticationConfiguration":{"@odata.type":"#microsoft.graph.somethingNew"}}`,
			want: jobs.ConnectorState{ID: "x"},
		},
		{
			name: "no configuration",
			body: `{"id":"x","authenticationConfiguration":null}`,
			want: jobs.ConnectorState{ID: "x"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseState([]byte(tt.body))
			if err != nil {
				t.Fatalf("parseState: %v", err)
			}
			if !equalState(got, tt.want) {
				t.Errorf("parseState = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseStateRejects(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`not json`,
		`{"value":[{"id":"x"}]}`,
		`{"id":"x","authenticationConfiguration":{"certificateList":[{"notBefore":"yesterday"}]}}`,
	} {
		if _, err := parseState([]byte(body)); err == nil {
			t.Errorf("parseState(%s) = nil error, want one", body)
		}
	}
}

func equalState(a, b jobs.ConnectorState) bool {
	if a.ID != b.ID || a.DisplayName != b.DisplayName || a.TargetURL != b.TargetURL || a.AuthType != b.AuthType || len(a.Certificates) != len(b.Certificates) {
		return false
	}
	for i := range a.Certificates {
		x, y := a.Certificates[i], b.Certificates[i]
		if x.Thumbprint != y.Thumbprint || !x.NotBefore.Equal(y.NotBefore) || !x.NotAfter.Equal(y.NotAfter) || x.IsActive != y.IsActive {
			return false
		}
	}
	return true
}

func TestIsGUID(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"7b3a0c1e-aaaa-bbbb-cccc-000000000001":   true,
		"7B3A0C1E-AAAA-BBBB-CCCC-00000000000F":   true,
		"7b3a0c1e-aaaa-bbbb-cccc-00000000000g":   false,
		"7b3a0c1eaaaa-bbbb-cccc-0000000000001":   false,
		"{7b3a0c1e-aaaa-bbbb-cccc-000000000001}": false,
		"../../users":                            false,
		"":                                       false,
	} {
		if got := jobs.IsGUID(s); got != want {
			t.Errorf("jobs.IsGUID(%q) = %t, want %t", s, got, want)
		}
	}
}
