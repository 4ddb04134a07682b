package config

import (
	"fmt"
	"slices"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

var pkiKeys = []string{"mount", "role", "common_name", "alt_names", "ttl", "key_type", "key_bits"}

// pkiKeyBits lists the key sizes each key_type may take: the RSA and EC
// sizes Vault's roles generate that bundle validation accepts.
var pkiKeyBits = map[string][]int{
	PKIKeyTypeRSA: {2048, 3072, 4096},
	PKIKeyTypeEC:  {256, 384, 521},
}

// pki reads `source.pki`, nil when absent. minValidity is the job's, which
// the certificate's ttl must exceed or every issued bundle would be refused.
func (d *decoder) pki(s section, minValidity time.Duration) *jobs.PKIRef {
	if !s.has("pki") {
		return nil
	}
	ps := s.sub("pki", pkiKeys...)
	p := &jobs.PKIRef{
		Mount:      ps.str("mount", PKIMountDefault),
		Role:       ps.str("role", ""),
		CommonName: ps.str("common_name", ""),
		AltNames:   d.stringList(ps, "alt_names"),
		TTL:        ps.duration("ttl", 0),
		KeyType:    ps.str("key_type", PKIKeyTypeDefault),
	}
	if p.Role == "" {
		ps.problem("role", "required: the PKI role that issues the certificate")
	}
	if p.CommonName == "" {
		ps.problem("common_name", "required")
	}
	switch {
	case p.TTL < 0:
		ps.problem("ttl", "must not be negative")
	case p.TTL > 0 && p.TTL <= minValidity:
		ps.problem("ttl", "%s is not longer than the job's min_validity (%s): every issued bundle would be refused", p.TTL, minValidity)
	}
	sizes, ok := pkiKeyBits[p.KeyType]
	if !ok {
		ps.problem("key_type", "%q is not rsa or ec", p.KeyType)
		return p
	}
	p.KeyBits = ps.integer("key_bits", sizes[0])
	if !slices.Contains(sizes, p.KeyBits) {
		ps.problem("key_bits", "%d is not a %s key size (%s)", p.KeyBits, p.KeyType, fmt.Sprint(sizes))
	}
	return p
}

// stringList reads a list of strings, nil when absent.
func (d *decoder) stringList(s section, name string) []string {
	items := s.list(name)
	if items == nil {
		return nil
	}
	out := make([]string, 0, len(items))
	for i, n := range items {
		key := fmt.Sprintf("%s[%d]", s.key(name), i)
		v, ok := d.scalar(n, key, "a string")
		switch {
		case !ok:
		case v == "":
			d.add(resolve(n).Line, key, "must not be empty")
		default:
			out = append(out, v)
		}
	}
	return out
}

// watch reads a job's `watch` interval: 0 when absent, else at least
// WatchMin so that N replicas polling Vault stay cheap.
func (d *decoder) watch(s section) time.Duration {
	w, v, ok := s.parsedDuration("watch", "30s, 1m or 1h")
	if ok && w < WatchMin {
		s.problem("watch", "%s is shorter than %s", v, WatchMin)
	}
	return w
}
