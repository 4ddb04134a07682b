package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// pkiSource replaces the valid config's source with one issuing from PKI;
// its pki key is on line 20.
const pkiSource = `source:
      path: b2c/contoso-api
      pki:
        mount: pki_int
        role: b2c-api
        common_name: api.contoso.example
        alt_names: [b2c.contoso.example]
        ttl: 2160h
        key_type: ec
        key_bits: 384
    watch: 1m`

func TestParsePKIAndWatch(t *testing.T) {
	t.Parallel()
	c := mustParse(t, edit(t, "source: {path: b2c/contoso-api}", pkiSource), nil)
	j := c.Jobs[0]
	p := j.Source.PKI
	if p == nil {
		t.Fatal("source.pki not read")
	}
	if p.Mount != "pki_int" || p.Role != "b2c-api" || p.CommonName != "api.contoso.example" ||
		!slices.Equal(p.AltNames, []string{"b2c.contoso.example"}) || p.TTL != 2160*time.Hour || p.KeyType != "ec" || p.KeyBits != 384 {
		t.Errorf("pki = %+v", *p)
	}
	if j.Watch != time.Minute {
		t.Errorf("watch = %s, want 1m", j.Watch)
	}
	if sum := c.Summary(); !strings.Contains(sum, "policy on-change, watch 1m0s, issued by pki_int/issue/b2c-api\n") {
		t.Errorf("summary does not show watch and issuance:\n%s", sum)
	}
}

func TestParsePKIDefaults(t *testing.T) {
	t.Parallel()
	c := mustParse(t, edit(t, "source: {path: b2c/contoso-api}", "source: {path: b2c/x, pki: {role: r, common_name: a.example}}"), nil)
	p := c.Jobs[0].Source.PKI
	if p == nil || p.Mount != PKIMountDefault || p.KeyType != PKIKeyTypeRSA || p.KeyBits != 2048 || p.TTL != 0 || p.AltNames != nil {
		t.Errorf("defaults = %+v", p)
	}
	if c.Jobs[0].Watch != 0 {
		t.Errorf("watch defaults to %s, want 0 (off)", c.Jobs[0].Watch)
	}
	plain := mustParse(t, valid, nil)
	if plain.Jobs[0].Source.PKI != nil {
		t.Errorf("a job without source.pki got %+v", plain.Jobs[0].Source.PKI)
	}
}

func TestParsePKIRules(t *testing.T) {
	t.Parallel()
	tests := []editCase{
		{"role required", "        role: b2c-api\n", "", 20, "jobs[0].source.pki.role", "required"},
		{"common_name required", "        common_name: api.contoso.example\n", "", 20, "jobs[0].source.pki.common_name", "required"},
		{"key_type", "key_type: ec", "key_type: dsa", 26, "jobs[0].source.pki.key_type", `"dsa" is not rsa or ec`},
		{"key_bits for ec", "key_bits: 384", "key_bits: 2048", 27, "jobs[0].source.pki.key_bits", "2048 is not a ec key size"},
		{"weak rsa", "key_type: ec\n        key_bits: 384", "key_type: rsa\n        key_bits: 1024", 27, "jobs[0].source.pki.key_bits", "1024 is not a rsa key size"},
		{"ttl under min_validity", "ttl: 2160h", "ttl: 24h", 25, "jobs[0].source.pki.ttl", "24h0m0s is not longer than the job's min_validity"},
		{"ttl not a duration", "ttl: 2160h", "ttl: long", 25, "jobs[0].source.pki.ttl", `"long" is not a duration`},
		{"empty alt name", "[b2c.contoso.example]", `[b2c.contoso.example, ""]`, 24, "jobs[0].source.pki.alt_names[1]", "must not be empty"},
		{"unknown pki key", "key_bits: 384", "key_bits: 384\n        key_size: 4", 28, "jobs[0].source.pki.key_size", "unknown key"},
		{"watch too short", "watch: 1m", "watch: 5s", 28, "jobs[0].watch", "5s is shorter than 10s"},
		{"watch not a duration", "watch: 1m", "watch: often", 28, "jobs[0].watch", `"often" is not a duration`},
	}
	base := edit(t, "source: {path: b2c/contoso-api}", pkiSource)
	wantEditProblems(t, base, tests)
}
