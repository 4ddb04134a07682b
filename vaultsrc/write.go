package vaultsrc

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/certrotator/certrotator/jobs"
	"github.com/hashicorp/vault/api"
)

// Data fields written next to the PFX and password, so that each version
// carries its certificate's facts in the version itself (the custom
// metadata copy is written after, and is lost if the writer dies between).
const (
	FieldSerial   = "serial"
	FieldNotAfter = "not_after"
	FieldIssuer   = "issuer"
)

var _ jobs.Writer = (*Client)(nil)

// Write writes v as a new version of the KV v2 path ref points at, with
// check-and-set: cas is the version the caller read, 0 when the path must
// not exist yet. The PFX goes to ref's PFX field as standard base64 and the
// password to its password field, beside the serial, not-after and issuer
// fields; those three facts are also recorded in the path's custom
// metadata under "v<N>.serial", "v<N>.not_after" and "v<N>.issuer" for
// history. It returns the version written.
//
// The write is sent once, never retried by the Vault client: a retry of a
// write Vault had applied meets its own version and is refused as a
// conflict. A refused check-and-set wraps ErrCASConflict (and
// jobs.ErrWriteConflict), classified transient with CodeConflict; an answer
// that was lost (no answer, a 5xx from Vault or a proxy, a timeout) wraps
// jobs.ErrWriteUnclear, transient with CodeUnavailable; a refusal (403, any
// other 4xx) as Fetch's errors, and nothing was written. The caller settles
// the first two by reading the path. A failed metadata update is logged,
// not returned: the version is written.
func (c *Client) Write(ctx context.Context, ref jobs.SourceRef, cas int, v jobs.NewVersion) (int, error) {
	ref = refWithDefaults(ref)
	name := ref.Mount + "/" + ref.Path
	doing := fmt.Sprintf("writing bundle %s with check-and-set on version %d", name, cas)
	data := map[string]any{
		ref.PFXField:      base64.StdEncoding.EncodeToString(v.PFX),
		ref.PasswordField: v.Password,
		FieldSerial:       v.Serial,
		FieldNotAfter:     v.NotAfter.UTC().Format(time.RFC3339),
		FieldIssuer:       v.Issuer,
	}
	kv, err := c.putOnce(ctx, ref, cas, data)
	switch {
	case isCASConflict(err):
		return 0, jobs.Transient(CodeConflict, fmt.Errorf("%s: %w", doing, ErrCASConflict))
	case isRefusal(err):
		return 0, classify(doing, err, "the token's policy must allow create and update on "+ref.Mount+"/data/"+ref.Path)
	case err != nil:
		return 0, jobs.Transient(CodeUnavailable, fmt.Errorf("%w (%w)", classify(doing, err, ""), jobs.ErrWriteUnclear))
	case kv == nil || kv.VersionMetadata == nil:
		return 0, jobs.Transient(CodeUnavailable, fmt.Errorf("%s: vault answered without the version written: %w", doing, jobs.ErrWriteUnclear))
	}
	version := kv.VersionMetadata.Version
	err = c.call(ctx, func() error {
		return c.api.KVv2(ref.Mount).PatchMetadata(ctx, ref.Path, api.KVMetadataPatchInput{CustomMetadata: versionMetadata(version, v)})
	})
	if err != nil {
		c.logger.Warn("recording version metadata", "path", name, "vault_version", version,
			"error", classify("patching metadata of "+name, err, "").Error())
	}
	c.logger.Info("bundle written", "path", name, "vault_version", version, "serial", v.Serial)
	return version, nil
}

// putOnce writes data as the version after cas (check-and-set), sent once
// through sendOnce: Write and rollback settle a lost answer by reading the
// path, never by sending the write again.
func (c *Client) putOnce(ctx context.Context, ref jobs.SourceRef, cas int, data map[string]any) (kv *api.KVSecret, err error) {
	err = c.call(ctx, func() error {
		once, err := c.sendOnce()
		if err != nil {
			return err
		}
		kv, err = once.KVv2(ref.Mount).Put(ctx, ref.Path, data, api.WithCheckAndSet(cas))
		return err
	})
	return kv, err
}

// sendOnce returns a client like c's that sends each request once: the
// same server, namespace, HTTP client and current token, no retries. Writes
// whose repetition is not harmless go through it.
func (c *Client) sendOnce() (*api.Client, error) {
	once, err := c.api.CloneWithHeaders()
	if err != nil {
		return nil, jobs.Permanent(CodeConfig, fmt.Errorf("creating vault client: %w", err))
	}
	once.SetToken(c.api.Token())
	once.SetMaxRetries(0)
	return once, nil
}

// isRefusal reports whether Vault itself answered err with a 4xx: the
// request was refused and changed nothing. A 5xx may come from a proxy
// after Vault applied the request, and says nothing.
func isRefusal(err error) bool {
	var re *api.ResponseError
	return errors.As(err, &re) && re.StatusCode >= 400 && re.StatusCode < 500
}

// isCASConflict reports whether Vault refused a write's check-and-set. KV
// v2 answers it with a 400 whose only distinguishing mark is its text.
func isCASConflict(err error) bool {
	var re *api.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusBadRequest {
		return false
	}
	for _, m := range re.Errors {
		if strings.Contains(m, "check-and-set parameter did not match") {
			return true
		}
	}
	return false
}
