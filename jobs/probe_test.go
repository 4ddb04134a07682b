package jobs

import "testing"

func TestProbeAnswerAccepted(t *testing.T) {
	t.Parallel()
	exact := ProbeSpec{AcceptStatus: []int{200, 400}}
	for _, tt := range []struct {
		a    ProbeAnswer
		spec ProbeSpec
		want bool
	}{
		{ProbeAnswer{Status: 200}, ProbeSpec{}, true},
		{ProbeAnswer{Status: 400}, ProbeSpec{}, true}, // B2C's {} has no claims: past the certificate check
		{ProbeAnswer{Status: 500}, ProbeSpec{}, true},
		{ProbeAnswer{Status: 401}, ProbeSpec{}, false},
		{ProbeAnswer{Status: 403}, ProbeSpec{}, false},
		{ProbeAnswer{Status: 495}, ProbeSpec{}, false},
		{ProbeAnswer{Status: 496}, ProbeSpec{}, false},
		{ProbeAnswer{Alert: "bad certificate"}, ProbeSpec{}, false},
		{ProbeAnswer{}, ProbeSpec{}, false},
		{ProbeAnswer{Status: 400}, exact, true},
		{ProbeAnswer{Status: 500}, exact, false},
		{ProbeAnswer{Status: 403}, ProbeSpec{AcceptStatus: []int{403}}, true},
	} {
		if got := tt.a.Accepted(tt.spec); got != tt.want {
			t.Errorf("%+v under %v: accepted %v, want %v", tt.a, tt.spec.AcceptStatus, got, tt.want)
		}
	}
}

func TestShownURLDropsSecrets(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://fn.azurewebsites.net/api/signup?code=KEY==": "https://fn.azurewebsites.net/api/signup",
		"https://user:pass@api.example/x#frag":               "https://api.example/x",
		"https://api.example/x":                              "https://api.example/x",
	} {
		if got := ShownURL(in); got != want {
			t.Errorf("ShownURL(%q) = %q, want %q", in, got, want)
		}
	}
}
