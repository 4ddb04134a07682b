package connector

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/internal/testkit"
)

// TestCertificateExpiryReadsTheFile: the client certificate's expiry is its
// leaf's notAfter, read from the file at each call (a renewed file is
// seen); other credentials have none; a bad file's error holds no password.
func TestCertificateExpiryReadsTheFile(t *testing.T) {
	t.Parallel()
	now := time.Now().Truncate(time.Second)
	first := testkit.NewBundle(t, testkit.BundleSpec{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(40 * 24 * time.Hour), Password: "cert-pw-1"})
	dir := t.TempDir()
	path := testkit.WriteFile(t, dir, "app.pfx", string(first.PFX))
	ten := Tenant{TenantID: testTenantID, ClientID: certClientID, ClientCertificateFile: path, ClientCertificatePassword: "cert-pw-1"}
	got, ok, err := ten.CertificateExpiry(context.Background())
	if err != nil || !ok || !got.Equal(first.NotAfter) {
		t.Fatalf("CertificateExpiry = %v, %v, %v; want %v", got, ok, err, first.NotAfter)
	}

	renewed := testkit.NewBundle(t, testkit.BundleSpec{NotBefore: now.Add(-time.Hour), NotAfter: now.Add(400 * 24 * time.Hour), Password: "cert-pw-1"})
	testkit.WriteFile(t, dir, "app.pfx", string(renewed.PFX))
	if got, _, _ := ten.CertificateExpiry(context.Background()); !got.Equal(renewed.NotAfter) {
		t.Errorf("after renewal CertificateExpiry = %v, want the new file's %v", got, renewed.NotAfter)
	}

	if _, ok, err := (Tenant{ClientSecret: "s3cr3t-value"}).CertificateExpiry(context.Background()); ok || err != nil {
		t.Errorf("a client secret tenant: ok %v, err %v; want no certificate", ok, err)
	}
	ten.ClientCertificatePassword = "wrong-pw-value"
	_, ok, err = ten.CertificateExpiry(context.Background())
	if !ok || err == nil {
		t.Fatalf("wrong password: ok %v, err %v; want an error", ok, err)
	}
	if strings.Contains(err.Error(), "wrong-pw-value") || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q: want the path and no password", err)
	}
}
