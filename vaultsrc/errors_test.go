package vaultsrc

import (
	"testing"

	"github.com/certrotator/certrotator/jobs"

	"github.com/hashicorp/vault/api"
)

func TestResponseErrorText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		re   *api.ResponseError
		want string
	}{
		{&api.ResponseError{StatusCode: 403, Errors: []string{"1 error occurred:\n\t* permission denied\n\n"}}, "vault answered 403: permission denied"},
		{&api.ResponseError{StatusCode: 400, Errors: []string{"2 errors occurred:\n\t* a\n\t* b c\n\n"}}, "vault answered 400: a b c"},
		{&api.ResponseError{StatusCode: 503, Errors: []string{"Vault is sealed", "x"}}, "vault answered 503: Vault is sealed; x"},
		{&api.ResponseError{StatusCode: 502}, "vault answered 502: Bad Gateway"},
	}
	for _, tt := range tests {
		if got := (responseError{re: tt.re}).Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

func TestClassifyResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		wantClass jobs.Class
		wantCode  string
	}{
		{403, jobs.ClassPermanent, CodeDenied},
		{404, jobs.ClassPermanent, CodeNotFound},
		{400, jobs.ClassPermanent, CodeRejected},
		{412, jobs.ClassTransient, CodeUnavailable},
		{429, jobs.ClassTransient, CodeUnavailable},
		{500, jobs.ClassTransient, CodeUnavailable},
		{503, jobs.ClassTransient, CodeUnavailable}, // sealed, standby
	}
	for _, tt := range tests {
		err := classify("doing", &api.ResponseError{StatusCode: tt.status}, "hint")
		wantFailure(t, err, tt.wantClass, tt.wantCode, []string{"doing: vault answered"})
	}
}
