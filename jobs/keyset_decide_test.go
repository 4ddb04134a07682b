package jobs

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
)

// x5tOf turns a hex thumbprint into the base64url x5t a key carries.
func x5tOf(t *testing.T, hexTP string) string {
	t.Helper()
	raw, err := hex.DecodeString(hexTP)
	if err != nil || len(raw) != sha1.Size {
		t.Fatalf("bad thumbprint %q", hexTP)
	}
	return base64.RawURLEncoding.EncodeToString(raw)
}

func TestDecideKeySet(t *testing.T) {
	t.Parallel()
	ours, theirs := strings.Repeat("AB", 20), strings.Repeat("CD", 20)
	c := candidate{Thumbprint: ours, NotBefore: testNow.Add(-day), NotAfter: testNow.Add(90 * day)}
	key := func(tp string, nb, na time.Duration) PolicyKey {
		return PolicyKey{Kid: tp[:4], X5t: x5tOf(t, tp), NotBefore: testNow.Add(nb), NotAfter: testNow.Add(na)}
	}
	mine := key(ours, -day, 90*day)
	older := key(theirs, -100*day, 10*day)
	later := key(theirs, -time.Hour, 400*day)
	beforeExpiry := Job{Policy: PolicyBeforeExpiry, RenewBefore: RenewBefore{Duration: 5 * day}}
	tests := []struct {
		name      string
		keys      []PolicyKey
		active    *PolicyKey
		job       Job
		force     bool
		c         candidate
		skip, why string
	}{
		{name: "empty container", c: c},
		{name: "ours active", keys: []PolicyKey{older, mine}, active: &mine, c: c, skip: contract.ReasonAlreadyPresent},
		{name: "ours staged", keys: []PolicyKey{older, key(ours, 2*day, 90*day)}, active: &older,
			c: candidate{Thumbprint: ours, NotBefore: testNow.Add(2 * day), NotAfter: testNow.Add(90 * day)}, skip: contract.ReasonAlreadyPresent},
		{name: "older active: upload", keys: []PolicyKey{older}, active: &older, c: c},
		{name: "later-activated key of someone else", keys: []PolicyKey{mine, later}, active: &later, c: c, skip: ReasonSuperseded},
		{name: "superseded even forced", keys: []PolicyKey{later}, active: &later, c: c, force: true, skip: ReasonSuperseded},
		{name: "not newer", keys: []PolicyKey{key(theirs, -100*day, 200*day)}, active: ptr(key(theirs, -100*day, 200*day)), c: c, skip: contract.ReasonNotNewer},
		{name: "not newer, forced", keys: []PolicyKey{key(theirs, -100*day, 200*day)}, active: ptr(key(theirs, -100*day, 200*day)), c: c, force: true},
		{name: "before-expiry, not due", keys: []PolicyKey{older}, active: &older, job: beforeExpiry, c: c, skip: contract.ReasonNotDue},
		{name: "before-expiry, due", keys: []PolicyKey{key(theirs, -100*day, 3*day)}, active: ptr(key(theirs, -100*day, 3*day)), job: beforeExpiry, c: c},
		{name: "ours listed, same nbf, uploaded before the active one", keys: []PolicyKey{mine, key(theirs, -day, 30*day)},
			active: ptr(key(theirs, -day, 30*day)), c: c, why: contract.ReasonReactivated},
		{name: "expired active key: nothing active", keys: []PolicyKey{key(theirs, -400*day, -day)}, c: c},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var active PolicyKey
			if tt.active != nil {
				active = *tt.active
			}
			job := tt.job
			if job.Policy == "" {
				job.Policy = PolicyOnChange
			}
			d := decideKeySet(KeySetState{Keys: tt.keys}, active, tt.active != nil, tt.c, job, tt.force, testNow)
			if d.skip != tt.skip || d.reason != tt.why {
				t.Errorf("decision %+v, want skip %q reason %q", d, tt.skip, tt.why)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestPolicyKeyThumbprintAndID(t *testing.T) {
	t.Parallel()
	tp := strings.Repeat("0E", 20)
	if got := (PolicyKey{X5t: x5tOf(t, tp)}).Thumbprint(); got != tp {
		t.Errorf("Thumbprint %q, want %q", got, tp)
	}
	if got := (PolicyKey{X5t: "not-a-sha1"}).Thumbprint(); got != "" {
		t.Errorf("Thumbprint of a bad x5t %q, want empty", got)
	}
	for id, want := range map[string]bool{"B2C_1A_RestApiClientCertificate": true, "B2C_1A_a-b_c": true, "B2C_1A_": false,
		"RestApiClientCertificate": false, "B2C_1A_x y": false, "b2c_1a_x": false} {
		if IsKeySetID(id) != want {
			t.Errorf("IsKeySetID(%q) = %v, want %v", id, !want, want)
		}
	}
}
