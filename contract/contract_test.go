package contract

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSubjectsAndKeys(t *testing.T) {
	t.Parallel()
	for got, want := range map[string]string{
		RequestSubject("certrotation", "api"):       "certrotation.request.api",
		ResultSubject("certrotation", "api", ""):    "certrotation.result.api._",
		ResultSubject("x", "api", "c1"):             "x.result.api.c1",
		ResultsOf("certrotation", "api"):            "certrotation.result.api.>",
		StatusKey("api", ""):                        "api._",
		StatusKey("api", "7b3a0c1e-aaaa-bbbb-cccc"): "api.7b3a0c1e-aaaa-bbbb-cccc",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestEventIsCloudEvent(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	ev := NewEvent("rotator-1", Outcome{Job: "api", Connector: "c1", Status: StatusSucceeded}, now)
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"specversion":"1.0"`, `"source":"certrotator/rotator-1"`,
		`"type":"certrotator.rotation.succeeded"`, `"subject":"api/c1"`, `"time":"2026-11-25T09:00:00.123Z"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("event %s lacks %s", body, want)
		}
	}
	if other := NewEvent("rotator-1", ev.Data, now); other.ID == ev.ID {
		t.Error("two events share an id")
	}
}

// TestBuilders pins every subject and key the contract builds: they are
// the wire, and a change is a breaking one for operators' permissions and
// readers.
func TestBuilders(t *testing.T) {
	day := time.Date(2026, 12, 7, 23, 0, 0, 0, time.FixedZone("x", 3600))
	for _, tt := range []struct{ got, want string }{
		{RequestSubject("p", "j"), "p.request.j"},
		{ResultSubject("p", "j", ""), "p.result.j._"},
		{ResultsOf("p", "j"), "p.result.j.>"},
		{AllRequests("p"), "p.request.>"},
		{AllResults("p"), "p.result.>"},
		{StatusKey("j", "c"), "j.c"},
		{LockKey("j"), "j"},
		{StatusKeysOf("j"), "j.*"},
		{WatchMsgID("j", 3, time.Time{}), "vault-j-3-0"},
		{WatchMsgID("j", 3, day), "vault-j-3-1796680800"},
		{ManualMsgID()[:7], "manual-"},
		{SeqID(7), "seq-7"},
		{IntentKey(7, "ABC"), "seq-7.intent.abc"},
		{IntentKeys(7), "seq-7.intent.>"},
		{KVSubject("b", "k"), "$KV.b.k"},
		{KVStream("b"), "KV_b"},
		{NotifyConsumer("s"), "certrotator-notify-s"},
		{NotifySentKey("s", "id"), "s.id"},
		{ExpiringKey("j", "c", "ab", "7d"), "j.c.AB.7d"},
		{UnauthenticatedKey("j", "c", day), "api-unauthenticated.j.c.2026-12-07"},
		{SupersededKey("j", "k", day), "keyset-superseded.j.k.2026-12-07"},
		{CredentialSubject("p", "kind"), "p.result._credential.kind"},
		{CredentialKey("kind", "", day, "7d"), "_credential.kind._.1796680800.7d"},
		{BudgetTenantLimit("t"), "tenant.t"},
		{BudgetAppLimit("t", "a"), "app.t.a"},
		{MaxDeliveriesSubject, "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.CERTROTATION_REQUESTS.certrotator"},
	} {
		if tt.got != tt.want {
			t.Errorf("built %q, want %q", tt.got, tt.want)
		}
	}
}

func TestNewUUID(t *testing.T) {
	t.Parallel()
	a, b := newUUID(), newUUID()
	if len(a) != 36 || a[14] != '4' || !strings.ContainsRune("89ab", rune(a[19])) || strings.Count(a, "-") != 4 {
		t.Errorf("newUUID() = %q, want a version 4 UUID", a)
	}
	if a == b {
		t.Errorf("two UUIDs are both %q", a)
	}
}
