package contract

import (
	"testing"
)

// TestTargetKeysDoNotCollide: a connector and a key set of one job get
// different status keys and result subjects, and a connector's are what
// they always were.
func TestTargetKeysDoNotCollide(t *testing.T) {
	conn := Outcome{Job: "api", Connector: "7b3a0c1e-aaaa-bbbb-cccc-000000000001", TargetKind: KindConnector}
	ks := Outcome{Job: "api", Connector: "B2C_1A_RestApiClientCertificate", TargetKind: KindKeySet}
	if got, want := StatusKeyOf(conn), StatusKey("api", conn.Connector); got != want {
		t.Errorf("connector status key %q, want %q", got, want)
	}
	if got := StatusKeyOf(ks); got != "api.keyset-B2C_1A_RestApiClientCertificate" || got != KeySetStatusKey("api", ks.Connector) {
		t.Errorf("key set status key %q", got)
	}
	if got := ResultSubjectOf("certrotation", "api", ks); got != "certrotation.result.api.keyset-B2C_1A_RestApiClientCertificate" {
		t.Errorf("key set subject %q", got)
	}
	if got, want := ResultSubjectOf("certrotation", "api", conn), ResultSubject("certrotation", "api", conn.Connector); got != want {
		t.Errorf("connector subject %q, want %q", got, want)
	}
}
