package worker

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
)

// credentialSubjects is where credential warnings go.
const credentialSubjects = "certrotation.result." + contract.CredentialJob + ".>"

// TestCredentialExpiryExportedAndWarnedOncePerThreshold: two replicas read
// the same generated client certificate file (10 days left) and a client
// secret's end date from the config (100 days): both export the expiry,
// and together they publish one certrotator.credential.expiring event for
// the 14-day threshold; four days later, one more for 7 days. A credential
// that cannot be read is shown with its error and exports nothing.
func TestCredentialExpiryExportedAndWarnedOncePerThreshold(t *testing.T) {
	t.Parallel()
	start := time.Now().Truncate(time.Second)
	var mu sync.Mutex
	now := start
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }

	cert := testkit.NewBundle(t, testkit.BundleSpec{NotBefore: start.Add(-time.Hour), NotAfter: start.Add(10 * 24 * time.Hour), Password: "app-cert-pw"})
	path := filepath.Join(t.TempDir(), "app.pfx")
	if err := os.WriteFile(path, cert.PFX, 0o600); err != nil {
		t.Fatal(err)
	}
	tenant := connector.Tenant{TenantID: "contoso.onmicrosoft.com", ClientID: "11111111-1111-1111-1111-111111111111",
		ClientCertificateFile: path, ClientCertificatePassword: "app-cert-pw"}
	secretEnds := start.Add(100 * 24 * time.Hour)
	creds := []Credential{
		{Kind: CredentialClientCertificate, Tenant: "contoso", Expiry: func(ctx context.Context) (time.Time, error) {
			at, _, err := tenant.CertificateExpiry(ctx)
			return at, err
		}},
		{Kind: CredentialClientSecret, Tenant: "fabrikam", Expiry: func(context.Context) (time.Time, error) { return secretEnds, nil }},
		{Kind: CredentialVaultSecretID, Expiry: func(context.Context) (time.Time, error) {
			return time.Time{}, errors.New("looking up the AppRole secret id: permission denied")
		}},
	}

	s := runServer(t, "")
	sink := workertest.Subscribe(t, connect(t, s), credentialSubjects) // before the first check, which Start runs
	var ww []*Worker
	for _, name := range []string{"replica-a", "replica-b"} {
		app := testApp()
		app.Instance = name
		cfg := configFor(t, app, workertest.NewRecorder(nil), connect(t, s))
		cfg.NowFunc, cfg.Credentials, cfg.CredentialCheck = clock, creds, time.Hour
		ww = append(ww, startConfigured(t, cfg))
	}
	js := testkit.JetStream(t, connect(t, s))
	checkAll := func() {
		for _, w := range ww {
			w.creds.RunOnce(t.Context())
		}
	}

	checkAll()
	if n := storedWarnings(t, js); n != 1 {
		t.Fatalf("%d credential warnings stored after both replicas checked, want 1", n)
	}
	ev, subject := sink.Next(t)
	if ev.Type != contract.TypeCredentialExpiring || subject != "certrotation.result._credential."+CredentialClientCertificate ||
		ev.Data.Threshold != "14d" || ev.Data.DaysLeft != 10 || ev.Data.Tenant != "contoso" || !ev.Data.Final ||
		ev.Data.Certificate == nil || !ev.Data.Certificate.NotAfter.Equal(cert.NotAfter) {
		t.Errorf("warning on %s = %+v (data %+v), want a 14d certrotator.credential.expiring for contoso's client certificate", subject, ev, ev.Data)
	}
	if strings.Contains(string(mustJSON(t, ev)), "app-cert-pw") {
		t.Error("the warning holds the certificate's password")
	}
	for _, w := range ww {
		if got := testutil.ToFloat64(w.metrics.credentialExpiry.WithLabelValues(CredentialClientCertificate, "contoso")); got != float64(cert.NotAfter.Unix()) {
			t.Errorf("%s exports certificate expiry %v, want %d", w.instance, got, cert.NotAfter.Unix())
		}
		if got := testutil.ToFloat64(w.metrics.credentialExpiry.WithLabelValues(CredentialClientSecret, "fabrikam")); got != float64(secretEnds.Unix()) {
			t.Errorf("%s exports secret expiry %v, want %d", w.instance, got, secretEnds.Unix())
		}
		if n := testutil.CollectAndCount(w.metrics.credentialExpiry); n != 2 {
			t.Errorf("%s exports %d credential series, want 2 (the unreadable one has none)", w.instance, n)
		}
	}
	states := ww[0].Credentials()
	if len(states) != 3 || states[0].DaysLeft != 10 || !states[1].Expires.Equal(secretEnds) ||
		states[2].Error == "" || !states[2].Expires.IsZero() {
		t.Errorf("Credentials() = %+v", states)
	}

	// The status page shows them in a section of their own.
	rec := httptest.NewRecorder()
	ww[0].Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	page := rec.Body.String()
	section := page[max(strings.Index(page, `<section id="credentials">`), 0):]
	for _, want := range []string{`<section id="credentials">`, "Entra client certificate", "tenant contoso", `class="days warn"><div>10 days`,
		"Entra client secret", "100 days", "Vault AppRole secret id", "unknown", "permission denied"} {
		if !strings.Contains(section, want) {
			t.Errorf("status page's credentials section lacks %q:\n%s", want, section)
		}
	}

	checkAll() // nothing new crossed
	if n := storedWarnings(t, js); n != 1 {
		t.Fatalf("%d credential warnings stored after a second check, want still 1", n)
	}
	mu.Lock()
	now = start.Add(4 * 24 * time.Hour)
	mu.Unlock()
	checkAll()
	if n := storedWarnings(t, js); n != 2 {
		t.Fatalf("%d credential warnings stored 6 days before expiry, want 2 (14d, then 7d)", n)
	}
	if ev, _ := sink.Next(t); ev.Data.Threshold != "7d" || ev.Data.DaysLeft != 6 {
		t.Errorf("second warning = %+v, want 7d with 6 days left", ev.Data)
	}
}

// storedWarnings counts the credential warnings the results stream holds.
func storedWarnings(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	st, err := js.Stream(t.Context(), contract.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context(), jetstream.WithSubjectFilter(credentialSubjects))
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	return n
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
