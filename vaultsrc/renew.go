package vaultsrc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/certrotator/certrotator/internal/retry"
	"github.com/hashicorp/vault/api"
)

// Retry pacing of the renewal loop when Vault cannot be reached or a
// re-login fails.
const (
	retryMin = time.Second
	retryMax = 5 * time.Minute
)

// errStarted is returned by a second Start.
var errStarted = errors.New("vaultsrc: client already started")

// Start launches the goroutine that keeps the token alive and returns. A
// renewable token is renewed with Vault's LifetimeWatcher; when renewal ends
// (the token reached its max TTL) AppRole and Kubernetes log in again, while
// a plain token is logged as expiring. A token that never expires needs no
// renewal. The loop runs until ctx is done or Stop is called. Start may be
// called once; a second call returns an error.
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return errStarted
	}
	c.started = true
	ctx, c.cancel = context.WithCancel(ctx)
	c.done = make(chan struct{})
	go c.run(ctx, c.done)
	return nil
}

// Stop ends the renewal loop, waits for it until ctx is done, and closes
// idle connections. It is idempotent and safe to call before Start (which
// it then forbids). The client can still Fetch afterwards.
func (c *Client) Stop(ctx context.Context) error {
	c.mu.Lock()
	c.started = true
	cancel, done := c.cancel, c.done
	c.mu.Unlock()
	defer c.http.CloseIdleConnections()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stopping vault token renewal: %w", ctx.Err())
	}
}

// run is the renewal loop: watch the current token until its renewal ends,
// then log in again (or stop, for the token method).
func (c *Client) run(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	for failures := 0; ctx.Err() == nil; {
		secret, err := c.current(ctx)
		if err != nil {
			failures++
			if !c.pause(ctx, "looking up vault token", err, failures) {
				return
			}
			continue
		}
		failures = 0
		if secret.Auth.LeaseDuration == 0 {
			c.logger.Info("vault token does not expire; no renewal needed")
			return
		}
		c.watch(ctx, secret)
		if ctx.Err() != nil {
			return
		}
		if c.auth.Method == MethodToken {
			if c.auth.TokenFile == "" {
				c.logger.Warn("vault token can no longer be renewed and will expire; give certrotator a new token")
				return
			}
			c.logger.Info("vault token can no longer be renewed; waiting for a new one in the token file", "path", c.auth.TokenFile)
			if !c.awaitNewToken(ctx) {
				return
			}
			continue
		}
		if !c.reLogIn(ctx) {
			return
		}
	}
}

// current returns the token to watch: the latest login's answer, or for the
// token method what a lookup-self says about the configured token.
func (c *Client) current(ctx context.Context) (*api.Secret, error) {
	if c.auth.Method != MethodToken {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.secret, nil
	}
	if _, err := c.reloadToken(); err != nil {
		return nil, err // the file is unreadable: pause, then try again
	}
	s, err := c.api.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return nil, classify("looking up vault token", err, "")
	}
	ttl, err := s.TokenTTL()
	if err != nil {
		return nil, fmt.Errorf("looking up vault token: reading its ttl: %w", err)
	}
	renewable, err := s.TokenIsRenewable()
	if err != nil {
		return nil, fmt.Errorf("looking up vault token: reading renewable: %w", err)
	}
	return &api.Secret{Auth: &api.SecretAuth{
		ClientToken:   c.api.Token(),
		LeaseDuration: int(ttl / time.Second),
		Renewable:     renewable,
	}}, nil
}

// watch renews secret's token until its renewal ends or ctx is done.
func (c *Client) watch(ctx context.Context, secret *api.Secret) {
	w, err := c.api.NewLifetimeWatcher(&api.LifetimeWatcherInput{Secret: secret})
	if err != nil {
		// Only a nil input or secret fails here.
		c.logger.Error("vault token renewal not possible", "error", err)
		return
	}
	go w.Start()
	c.logger.Info("vault token renewal started", "ttl", secret.Auth.LeaseDuration, "renewable", secret.Auth.Renewable)
	for {
		select {
		case <-ctx.Done():
			w.Stop()
			<-w.DoneCh() // the watcher goroutine has returned
			return
		case err := <-w.DoneCh():
			if err != nil {
				c.logger.Warn("vault token renewal ended", "error", err)
			} else {
				c.logger.Info("vault token renewal ended")
			}
			return
		case r := <-w.RenewCh():
			if r.Secret != nil && r.Secret.Auth != nil {
				c.logger.Debug("vault token renewed", "ttl", r.Secret.Auth.LeaseDuration)
			}
		}
	}
}

// reLogIn logs in again until it works or ctx is done; it reports whether
// it got a token.
func (c *Client) reLogIn(ctx context.Context) bool {
	for failures := 1; ; failures++ {
		_, err := c.logIn(ctx)
		if err == nil {
			return true
		}
		if !c.pause(ctx, "logging in to vault again", err, failures) {
			return false
		}
	}
}

// pause logs a failed step and waits before the next try; it returns false
// when ctx ended the wait.
func (c *Client) pause(ctx context.Context, doing string, err error, failures int) bool {
	if ctx.Err() != nil {
		return false
	}
	wait := renewBackoff.Delay(failures)
	level := slog.LevelWarn
	if isForbidden(err) {
		level = slog.LevelError // an operator must act: the credentials are refused
	}
	c.logger.Log(ctx, level, doing+" failed", "error", err, "attempt", failures, "retry_in", wait)
	return retry.Sleep(ctx, nil, wait) == nil
}

// renewBackoff is the wait after the n-th consecutive failure to renew or
// log in: retryMin doubled each time, capped at retryMax, ±10%.
var renewBackoff = retry.Backoff{Base: retryMin, Max: retryMax, Jitter: 0.1}

// isForbidden reports whether Vault refused the credentials.
func isForbidden(err error) bool {
	var re *api.ResponseError
	return errors.As(err, &re) && (re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusBadRequest)
}
