package bundle

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"slices"
	"testing"
	"time"

	"github.com/certrotator/certrotator/internal/testkit"
)

func TestPickLeaf(t *testing.T) {
	t.Parallel()
	c, k := testkit.TwoTier(t), testkit.P256Key(t)
	old := issue(t, leafSpec{cn: "old", key: k, notAfter: testNow.Add(30 * 24 * time.Hour)})
	renewed := issue(t, leafSpec{cn: "renewed", key: k})
	other := issue(t, leafSpec{cn: "other", key: testkit.P384Key(t)})
	selfCA := testkit.SignCert(t, &x509.Certificate{
		SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "same-key CA"},
		NotBefore: testNow.Add(-time.Hour), NotAfter: testNow.Add(20 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
	}, &x509.Certificate{Subject: pkix.Name{CommonName: "same-key CA"}}, k.Public(), k)

	leaf, others := pickLeaf(k.Public(), []*x509.Certificate{c.Root.Cert, selfCA, old, renewed, renewed, other})
	if leaf == nil || leaf.Subject.CommonName != "renewed" {
		t.Fatalf("pickLeaf() leaf = %v, want the renewed end-entity certificate", leaf)
	}
	if got, want := names(others), []string{"Test Root CA", "same-key CA", "old", "other"}; !slices.Equal(got, want) {
		t.Errorf("pickLeaf() others = %q, want %q", got, want)
	}
	if leaf, _ := pickLeaf(testkit.P224Key(t).Public(), []*x509.Certificate{c.Root.Cert, old}); leaf != nil {
		t.Errorf("pickLeaf(unmatched key) = %v, want nil", leaf.Subject)
	}
}

func TestOrderChain(t *testing.T) {
	t.Parallel()
	c := testkit.TwoTier(t)
	leaf := issue(t, leafSpec{key: testkit.P256Key(t)})
	unrelated := issue(t, leafSpec{cn: "unrelated", key: testkit.P384Key(t)})
	tests := []struct {
		in   []*x509.Certificate
		want []string
	}{
		{[]*x509.Certificate{c.Root.Cert, c.Inter.Cert}, []string{"Test Intermediate CA", "Test Root CA"}},
		{[]*x509.Certificate{unrelated, c.Root.Cert, c.Inter.Cert}, []string{"Test Intermediate CA", "Test Root CA", "unrelated"}},
		{[]*x509.Certificate{c.Root.Cert}, []string{"Test Root CA"}}, // the intermediate is missing: keep what is there
		{nil, []string{}},
	}
	for _, tt := range tests {
		if got := names(orderChain(leaf, tt.in)); !slices.Equal(got, tt.want) {
			t.Errorf("orderChain(%q) = %q, want %q", names(tt.in), got, tt.want)
		}
	}
}

func names(certs []*x509.Certificate) []string {
	out := []string{}
	for _, c := range certs {
		out = append(out, c.Subject.CommonName)
	}
	return out
}
