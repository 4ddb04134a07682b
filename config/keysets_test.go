package config

import (
	"strings"
	"testing"

	"github.com/certrotator/certrotator/jobs"
)

const oneConnector = "    connectors:\n      - {tenant: contoso, id: 7b3a0c1e-aaaa-bbbb-cccc-000000000001}\n"

func TestParseKeySets(t *testing.T) {
	t.Parallel()
	c := mustParse(t, edit(t, oneConnector, oneConnector+"    keysets:\n      - {tenant: contoso, id: B2C_1A_RestApiClientCertificate}\n"), nil)
	if got := c.Jobs[0].KeySets; len(got) != 1 || got[0] != (jobs.KeySetRef{Tenant: "contoso", ID: "B2C_1A_RestApiClientCertificate"}) {
		t.Errorf("keysets %+v", got)
	}
	// A job of key sets only needs no connector.
	c = mustParse(t, edit(t, oneConnector, "    keysets: [{tenant: contoso, id: B2C_1A_Signing}]\n"), nil)
	if len(c.Jobs[0].Connectors) != 0 || len(c.Jobs[0].KeySets) != 1 {
		t.Errorf("key sets only: %+v", c.Jobs[0])
	}
}

func TestParseKeySetProblems(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, keysets, key, message string }{
		{"id without prefix", "[{tenant: contoso, id: RestApiClientCertificate}]", "jobs[0].keysets[0].id", `"RestApiClientCertificate" is not a policy key container id: want B2C_1A_`},
		{"id missing", "[{tenant: contoso}]", "jobs[0].keysets[0].id", "required"},
		{"unknown tenant", "[{tenant: fabrikam, id: B2C_1A_X}]", "jobs[0].keysets[0].tenant", `unknown tenant "fabrikam"`},
		{"duplicate", "[{tenant: contoso, id: B2C_1A_X}, {tenant: contoso, id: B2C_1A_x}]", "jobs[0].keysets[1].id", "duplicate key set"},
		{"unknown field", "[{tenant: contoso, id: B2C_1A_X, kid: k}]", "jobs[0].keysets[0].kid", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := problems(t, edit(t, oneConnector, oneConnector+"    keysets: "+tt.keysets+"\n"), nil)
			for _, p := range got {
				if p.Key == tt.key && strings.HasPrefix(p.Message, tt.message) {
					return
				}
			}
			t.Errorf("no problem %s: %s among %+v", tt.key, tt.message, got)
		})
	}
}
