package vaultsrc

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/hashicorp/vault/api"
)

// tokenFilePollDefault is how often the renewal loop looks at the token
// file once the token it holds can no longer be renewed, waiting for Vault
// Agent (or a person) to write a new one.
const tokenFilePollDefault = 10 * time.Second

// call runs fn, one Vault request. When Vault refuses the token (403) and
// the token comes from Auth.TokenFile, it reads the file again and, if the
// file now holds another token (Vault Agent rotated it), switches to that
// token and runs fn once more.
func (c *Client) call(ctx context.Context, fn func() error) error {
	err := fn()
	if err == nil || c.auth.TokenFile == "" || !isDenied(err) || ctx.Err() != nil {
		return err
	}
	if changed, rerr := c.reloadToken(); rerr != nil || !changed {
		if rerr != nil {
			c.logger.Warn("reading vault token file after a denial", "path", c.auth.TokenFile, "error", rerr)
		}
		return err
	}
	return fn()
}

// reloadToken reads Auth.TokenFile and switches the client to the token it
// holds; it reports whether that token differs from the one in use. The
// token itself is never logged or put in an error.
func (c *Client) reloadToken() (bool, error) {
	if c.auth.TokenFile == "" {
		return false, nil
	}
	token, err := readCredential(c.auth.TokenFile, "vault token")
	if err != nil {
		return false, err
	}
	c.tokenMu.Lock()
	defer c.tokenMu.Unlock()
	prev := c.api.Token()
	if token == prev {
		return false, nil
	}
	c.api.SetToken(token)
	if prev != "" { // not the first read, at New
		c.logger.Info("vault token reloaded from file", "path", c.auth.TokenFile)
	}
	return true, nil
}

// awaitNewToken polls the token file until it holds another token than the
// one in use; it returns false when ctx ended the wait.
func (c *Client) awaitNewToken(ctx context.Context) bool {
	t := time.NewTicker(c.tokenFilePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			changed, err := c.reloadToken()
			if err != nil {
				c.logger.Warn("reading vault token file", "path", c.auth.TokenFile, "error", err)
			}
			if changed {
				return true
			}
		}
	}
}

// isDenied reports whether Vault refused a request's token: 403, which is
// also how Vault answers an expired or revoked token.
func isDenied(err error) bool {
	var re *api.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusForbidden
}
