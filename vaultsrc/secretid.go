package vaultsrc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

// ErrNoSecretID is returned by SecretIDExpiry when the client does not log
// in with an AppRole secret id (another auth method, or a role without
// bind_secret_id): there is nothing to expire.
var ErrNoSecretID = errors.New("vault: the client logs in without an AppRole secret id")

// SecretIDLookupPath is the AppRole endpoint SecretIDExpiry calls: the
// worker's policy needs "update" on it for the role the worker logs in as
// (deploy/vault/policy.hcl).
func SecretIDLookupPath(mount, role string) string {
	return "auth/" + strings.Trim(mount, "/") + "/role/" + role + "/secret-id/lookup"
}

// SecretIDExpiry looks up the AppRole secret id the client logs in with
// (read anew from its file) and returns when it expires: the zero time
// when it never does (secret_id_ttl 0). After that moment the next login
// fails, which happens within token_max_ttl, so the worker warns ahead.
// The role's name comes from the last login's metadata. Errors are
// jobs.Failures, never holding the secret id: CodeDenied when the policy
// lacks "update" on SecretIDLookupPath, CodeNotFound when Vault no longer
// knows the secret id (used up, expired or destroyed).
func (c *Client) SecretIDExpiry(ctx context.Context) (time.Time, error) {
	if c.auth.Method != MethodAppRole || c.auth.SecretIDFile == "" {
		return time.Time{}, ErrNoSecretID
	}
	c.mu.Lock()
	secret := c.secret
	c.mu.Unlock()
	role := ""
	if secret != nil && secret.Auth != nil {
		role = secret.Auth.Metadata["role_name"]
	}
	if role == "" {
		return time.Time{}, jobs.Permanent(CodeRejected, errors.New("looking up the AppRole secret id: the login answer names no role_name"))
	}
	path := SecretIDLookupPath(c.auth.MountPath, role)
	doing := "looking up the AppRole secret id at " + path
	id, err := readCredential(c.auth.SecretIDFile, "secret id")
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %w", doing, err)
	}
	sec, err := c.api.Logical().WriteWithContext(ctx, path, map[string]any{"secret_id": id})
	if err != nil {
		return time.Time{}, classify(doing, err, fmt.Sprintf(`grant the worker's policy path "%s" { capabilities = ["update"] }`, path))
	}
	if sec == nil || sec.Data == nil {
		return time.Time{}, jobs.Permanent(CodeNotFound, fmt.Errorf("%s: vault does not know the secret id (used up, expired or destroyed): issue a new one", doing))
	}
	return secretIDExpiration(doing, sec.Data)
}

// secretIDExpiration reads the lookup's expiration_time, falling back on
// creation_time + secret_id_ttl; Vault writes the zero time for a secret
// id without TTL.
func secretIDExpiration(doing string, data map[string]any) (time.Time, error) {
	if ttl, ok := data["secret_id_ttl"].(json.Number); ok {
		if n, err := ttl.Int64(); err == nil && n == 0 {
			return time.Time{}, nil // never expires
		}
	}
	s, _ := data["expiration_time"].(string)
	at, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, jobs.Permanent(CodeRejected, fmt.Errorf("%s: expiration_time %q is not a time", doing, s))
	}
	if at.Year() <= 1 {
		return time.Time{}, nil
	}
	return at, nil
}
