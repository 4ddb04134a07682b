package vaultsrc

import (
	"context"
	"slices"
	"time"

	"github.com/hashicorp/vault/api"
)

// TokenInfo is what Vault says about the client's own token (lookup-self),
// without the token itself or its accessor: enough for `certrotator doctor`
// to judge whether the worker can keep reading.
type TokenInfo struct {
	DisplayName string
	Policies    []string
	TTL         time.Duration // time left; 0 for a token that never expires
	Renewable   bool
}

// Root reports whether the token holds the root policy, which a worker
// should never run with.
func (t TokenInfo) Root() bool { return slices.Contains(t.Policies, "root") }

// LookupSelf asks Vault about the client's token. It is the cheapest call
// that proves both that Vault answers and that it accepts the token. Errors
// are jobs.Failures as Fetch's: CodeUnavailable when Vault does not answer,
// CodeDenied when it refuses the token.
func (c *Client) LookupSelf(ctx context.Context) (TokenInfo, error) {
	var s *api.Secret
	err := c.call(ctx, func() (err error) {
		s, err = c.api.Auth().Token().LookupSelfWithContext(ctx)
		return err
	})
	if err != nil {
		return TokenInfo{}, classify("looking up the vault token", err, "the token is invalid, expired or revoked")
	}
	var ti TokenInfo
	if s == nil || s.Data == nil {
		return ti, nil
	}
	ti.DisplayName, _ = s.Data["display_name"].(string)
	ti.Policies, _ = s.TokenPolicies()
	if ttl, err := s.TokenTTL(); err == nil {
		ti.TTL = ttl
	}
	ti.Renewable, _ = s.TokenIsRenewable()
	return ti, nil
}

// Capabilities returns the token's capabilities on each of paths
// (sys/capabilities-self, which the default policy allows), so that a
// caller can tell whether a read would be allowed without reading. Errors
// are jobs.Failures as LookupSelf's.
func (c *Client) Capabilities(ctx context.Context, paths ...string) (map[string][]string, error) {
	var s *api.Secret
	err := c.call(ctx, func() (err error) {
		s, err = c.api.Logical().WriteWithContext(ctx, "sys/capabilities-self", map[string]any{"paths": paths})
		return err
	})
	if err != nil {
		return nil, classify("reading the token's capabilities", err, "the token's policy must allow update on sys/capabilities-self (the default policy does)")
	}
	caps := make(map[string][]string, len(paths))
	if s == nil {
		return caps, nil
	}
	for _, p := range paths {
		list, _ := s.Data[p].([]any)
		for _, v := range list {
			if str, ok := v.(string); ok {
				caps[p] = append(caps[p], str)
			}
		}
	}
	return caps, nil
}

// CanRead reports whether the capabilities Capabilities returned for one
// path allow reading it.
func CanRead(caps []string) bool {
	return slices.Contains(caps, "read") || slices.Contains(caps, "root")
}
