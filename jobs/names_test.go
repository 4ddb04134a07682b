package jobs

import "testing"

func TestValidName(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"contoso-api": true, "A_1": true, "": false, "contoso.api": false, "a b": false, "a*": false, "a>": false, "é": false,
	} {
		if got := ValidName(s); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestIsGUID(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"7b3a0c1e-aaaa-bbbb-cccc-000000000001":  true,
		"7B3A0C1E-AAAA-BBBB-CCCC-000000000001":  true,
		"7b3a0c1e-aaaa-bbbb-cccc-00000000000":   false,
		"7b3a0c1eaaaabbbbcccc000000000001":      false,
		"{7b3a0c1e-aaaa-bbbb-cccc-00000000001}": false,
		"7b3a0c1e-aaaa-bbbb-cccc-00000000000g":  false,
		"7b3a0c1e+aaaa-bbbb-cccc-000000000001":  false,
	} {
		if got := IsGUID(s); got != want {
			t.Errorf("IsGUID(%q) = %v, want %v", s, got, want)
		}
	}
}
