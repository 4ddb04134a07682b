package config

import (
	"strings"
	"testing"
	"time"
)

// client_secret_expires gives the worker the client secret's end date;
// a date it cannot read, or one without a client secret, is refused by name.
func TestClientSecretExpires(t *testing.T) {
	t.Parallel()
	c := mustParse(t, edit(t, secretLine, secretLine+"    client_secret_expires: 2027-06-30\n"), nil)
	if got, want := c.Tenants["contoso"].ClientSecretExpires, time.Date(2027, 6, 30, 0, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("ClientSecretExpires = %v, want %v", got, want)
	}
	c = mustParse(t, edit(t, secretLine, secretLine+"    client_secret_expires: 2027-06-30T12:00:00+02:00\n"), nil)
	if got := c.Tenants["contoso"].ClientSecretExpires; !got.Equal(time.Date(2027, 6, 30, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("RFC 3339 ClientSecretExpires = %v", got)
	}
	for _, tt := range []struct{ name, new, message string }{
		{"not a date", secretLine + "    client_secret_expires: 30/06/2027\n", `"30/06/2027" is not a date: write the secret's end date as Entra shows it, such as 2027-06-30`},
		{"no client secret", "    client_certificate_file: /etc/graph.pem\n    client_secret_expires: 2027-06-30\n", "applies to client_secret or client_secret_file only"},
	} {
		found := false
		for _, p := range problems(t, edit(t, secretLine, tt.new), nil) {
			if p.Key == "tenants.contoso.client_secret_expires" && strings.HasPrefix(p.Message, tt.message) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no problem on tenants.contoso.client_secret_expires saying %q", tt.name, tt.message)
		}
	}
}
