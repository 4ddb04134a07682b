package jobs

import "testing"

// BenchmarkBuildVersion measures what issuance adds in-process: parsing the
// CA's PEM, encoding the SHA1/3DES PFX and decoding it again.
func BenchmarkBuildVersion(b *testing.B) {
	ca := newFakeCA(b)
	iss, err := ca.Issue(b.Context(), PKIRef{CommonName: "api.contoso.example"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := buildVersion(iss, PKIRef{KeyType: "ec", KeyBits: 256}); err != nil {
			b.Fatal(err)
		}
	}
}
