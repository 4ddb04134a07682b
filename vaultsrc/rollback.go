package vaultsrc

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"

	"github.com/certrotator/certrotator/jobs"
	"github.com/hashicorp/vault/api"
)

// Custom metadata facts of a version written by Rollback (see metaKey).
const (
	metaRolledBackFrom = "rolled_back_from"
	metaRolledBackBy   = "rolled_back_by"
)

// ErrRollbackTarget is wrapped by Rollback's errors about the version asked
// for: the current one, one Vault does not keep, a deleted or destroyed one.
var ErrRollbackTarget = errors.New("vaultsrc: cannot roll back to that version")

// Rollback does what `vault kv rollback -version=from` does: it writes the
// data of version from as a new version of the KV v2 path ref points at,
// with check-and-set on the version current when it read, and returns the
// new version's number. Every later read of the latest version then gets
// the rolled-back bundle, until someone writes a newer one.
//
// The new version's custom metadata records "v<new>.rolled_back_from" (the
// number from) and "v<new>.rolled_back_by" (by, who asked), and carries
// over the serial, not-after and issuer of an issued version, for history.
// It runs with the client's own token: `certrotator rollback` builds the
// client from the caller's credentials, so the worker's policy needs no
// write on the path. The write is sent once; a lost answer is settled by
// reading the new version back. Errors are jobs.Failures as Fetch's; a
// concurrent write fails with ErrCASConflict and changes nothing.
func (c *Client) Rollback(ctx context.Context, ref jobs.SourceRef, from int, by string) (int, error) {
	ref = refWithDefaults(ref)
	name := ref.Mount + "/" + ref.Path
	doing := fmt.Sprintf("rolling %s back to version %d", name, from)
	var md *api.KVMetadata
	err := c.call(ctx, func() (err error) {
		md, err = c.api.KVv2(ref.Mount).GetMetadata(ctx, ref.Path)
		return err
	})
	if err != nil {
		return 0, readError(doing, ref, err)
	}
	cur := md.CurrentVersion
	if e := rollbackTarget(doing, md, from); e != nil {
		return 0, e
	}
	var kv *api.KVSecret
	err = c.call(ctx, func() (err error) {
		kv, err = c.api.KVv2(ref.Mount).GetVersion(ctx, ref.Path, from)
		return err
	})
	switch {
	case err != nil:
		return 0, readError(doing, jobs.SourceRef{Mount: ref.Mount, Path: ref.Path, Version: from}, err)
	case kv.Data == nil:
		return 0, jobs.Permanent(CodeNotFound, deletedError(doing, name, true, kv.VersionMetadata))
	}
	next, err := c.writeOnce(ctx, ref, cur, kv.Data, doing)
	if err != nil {
		return 0, err
	}
	patch := rollbackMetadata(next, from, by, md.CustomMetadata)
	err = c.call(ctx, func() error {
		return c.api.KVv2(ref.Mount).PatchMetadata(ctx, ref.Path, api.KVMetadataPatchInput{CustomMetadata: patch})
	})
	if err != nil {
		c.logger.Warn("recording the rollback in the custom metadata", "path", name, "vault_version", next,
			"error", classify("patching metadata of "+name, err, "the token's policy must allow patch on "+ref.Mount+"/metadata/"+ref.Path).Error())
	}
	c.logger.Info("bundle rolled back", "path", name, "from_version", from, "vault_version", next, "by", by)
	return next, nil
}

// rollbackTarget refuses a version that cannot be rolled back to.
func rollbackTarget(doing string, md *api.KVMetadata, from int) error {
	v, ok := md.Versions[strconv.Itoa(from)]
	switch {
	case md.CurrentVersion == 0:
		return jobs.Permanent(CodeNotFound, fmt.Errorf("%s: %w: the path holds no version", doing, ErrRollbackTarget))
	case from == md.CurrentVersion:
		return jobs.Permanent(CodeRejected, fmt.Errorf("%s: %w: version %d is the current version already", doing, ErrRollbackTarget, from))
	case !ok:
		return jobs.Permanent(CodeNotFound, fmt.Errorf("%s: %w: vault keeps no version %d (current %d): list them with `certrotator history`",
			doing, ErrRollbackTarget, from, md.CurrentVersion))
	case v.Destroyed:
		return jobs.Permanent(CodeNotFound, fmt.Errorf("%s: %w: version %d is destroyed (%w)", doing, ErrRollbackTarget, from, ErrVersionDestroyed))
	case !v.DeletionTime.IsZero():
		return jobs.Permanent(CodeNotFound, fmt.Errorf("%s: %w: version %d is deleted (%w): undelete it first", doing, ErrRollbackTarget, from, ErrVersionDeleted))
	}
	return nil
}

// writeOnce writes data as the version after cas, sent once; a lost answer
// is settled by reading version cas+1 and comparing its data with data.
func (c *Client) writeOnce(ctx context.Context, ref jobs.SourceRef, cas int, data map[string]any, doing string) (int, error) {
	kv, err := c.putOnce(ctx, ref, cas, data)
	hint := "the token's policy must allow create and update on " + ref.Mount + "/data/" + ref.Path +
		" (rollback runs with your own credentials: VAULT_TOKEN, or the config's vault section)"
	switch {
	case isCASConflict(err):
		return 0, jobs.Transient(CodeConflict, fmt.Errorf("%s: version %d was written meanwhile (%w): look at `certrotator history` and run rollback again",
			doing, cas+1, ErrCASConflict))
	case isRefusal(err):
		return 0, classify(doing, err, hint)
	case err == nil && kv != nil && kv.VersionMetadata != nil:
		return kv.VersionMetadata.Version, nil
	}
	// The answer was lost: version cas+1 is ours if it holds our data.
	var back *api.KVSecret
	rerr := c.call(ctx, func() (err error) {
		back, err = c.api.KVv2(ref.Mount).GetVersion(ctx, ref.Path, cas+1)
		return err
	})
	if rerr == nil && back != nil && reflect.DeepEqual(back.Data, data) {
		return cas + 1, nil
	}
	if err == nil {
		err = errors.New("vault answered without the version written")
	}
	return 0, jobs.Transient(CodeUnavailable, fmt.Errorf("%w (%w): look at `certrotator history` before running rollback again",
		classify(doing, err, ""), jobs.ErrWriteUnclear))
}

// rollbackMetadata is the custom metadata patch recording that version was
// rolled back from from by by, carrying over from's issued facts, and
// dropping the keys of the version that falls out of the kept window.
func rollbackMetadata(version, from int, by string, custom map[string]any) map[string]any {
	m := map[string]any{
		metaKey(version, metaRolledBackFrom): strconv.Itoa(from),
		metaKey(version, metaRolledBackBy):   truncate(by, 512),
	}
	for _, f := range []string{metaSerial, metaNotAfter, metaIssuer} {
		if v, ok := custom[metaKey(from, f)]; ok {
			m[metaKey(version, f)] = v
		}
	}
	if old := version - metadataVersionsKept; old > 0 {
		for _, f := range []string{metaSerial, metaNotAfter, metaIssuer, metaRolledBackFrom, metaRolledBackBy} {
			m[metaKey(old, f)] = nil
		}
	}
	return m
}
