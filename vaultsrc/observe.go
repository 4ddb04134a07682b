package vaultsrc

import (
	"context"
	"net/http"
)

// observing reports the status of every Vault exchange (0 when no answer
// came back) to Config.ObserveFunc.
type observing struct {
	next http.RoundTripper
	fn   func(status int)
}

func (o observing) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := o.next.RoundTrip(r)
	if err != nil {
		o.fn(0)
		return nil, err
	}
	o.fn(resp.StatusCode)
	return resp, nil
}

// CheckToken asks Vault whether the client's token is valid (lookup-self),
// for readiness probes and doctor.
func (c *Client) CheckToken(ctx context.Context) error {
	_, err := c.api.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return classify("looking up the vault token", err, "")
	}
	return nil
}
