package vaultsrc

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/certrotator/certrotator/jobs"
	"github.com/hashicorp/vault/api"
)

// Custom metadata keys of the versions certrotator writes: KV v2 keeps
// custom_metadata per path, not per version, so each version's facts live
// under keys prefixed with its number ("v3.serial"). Only the newest
// metadataVersionsKept versions keep them (Vault allows 64 keys a path).
const (
	metaSerial           = "serial"
	metaNotAfter         = "not_after"
	metaIssuer           = "issuer"
	metadataVersionsKept = 16
)

// metaKey is the custom metadata key of one fact of one version.
func metaKey(version int, fact string) string {
	return "v" + strconv.Itoa(version) + "." + fact
}

var _ jobs.VersionLister = (*Client)(nil)

// Versions reads the metadata of the KV v2 path ref points at, never its
// data: current_version and, newest first, each version's created and
// deletion time, whether it is destroyed, and for versions certrotator
// issued their serial, notAfter and issuer. A path never written returns a
// zero History and no error; other errors are jobs.Failures as Fetch's. The
// token needs read on <mount>/metadata/<path> only.
func (c *Client) Versions(ctx context.Context, ref jobs.SourceRef) (jobs.History, error) {
	ref = refWithDefaults(ref)
	doing := "reading versions of " + ref.Mount + "/" + ref.Path
	var md *api.KVMetadata
	err := c.call(ctx, func() (err error) {
		md, err = c.api.KVv2(ref.Mount).GetMetadata(ctx, ref.Path)
		return err
	})
	switch {
	case errors.Is(err, api.ErrSecretNotFound):
		return jobs.History{}, nil
	case err != nil:
		return jobs.History{}, classify(doing, err, "the token's policy must allow read on "+ref.Mount+"/metadata/"+ref.Path)
	}
	h := jobs.History{Current: md.CurrentVersion, Versions: make([]jobs.VersionInfo, 0, len(md.Versions))}
	for _, v := range md.Versions {
		h.Versions = append(h.Versions, versionInfo(v, md.CustomMetadata))
	}
	slices.SortFunc(h.Versions, func(a, b jobs.VersionInfo) int { return b.Version - a.Version })
	return h, nil
}

// versionInfo describes one version from the path's metadata.
func versionInfo(v api.KVVersionMetadata, custom map[string]any) jobs.VersionInfo {
	vi := jobs.VersionInfo{
		Version:   v.Version,
		Created:   v.CreatedTime,
		Deleted:   v.DeletionTime,
		Destroyed: v.Destroyed,
	}
	str := func(fact string) string {
		s, _ := custom[metaKey(v.Version, fact)].(string)
		return s
	}
	vi.Serial, vi.Issuer = str(metaSerial), str(metaIssuer)
	vi.RolledBackFrom, _ = strconv.Atoi(str(metaRolledBackFrom))
	vi.RolledBackBy = str(metaRolledBackBy)
	if t, err := time.Parse(time.RFC3339, str(metaNotAfter)); err == nil {
		vi.NotAfter = t
	}
	return vi
}

// versionMetadata is the custom metadata patch that records version's facts
// and drops those of the version that falls out of the kept window (nil
// deletes a key in a JSON merge patch).
func versionMetadata(version int, v jobs.NewVersion) map[string]any {
	m := map[string]any{
		metaKey(version, metaSerial):   v.Serial,
		metaKey(version, metaNotAfter): v.NotAfter.UTC().Format(time.RFC3339),
		metaKey(version, metaIssuer):   truncate(v.Issuer, 512),
	}
	if old := version - metadataVersionsKept; old > 0 {
		for _, f := range []string{metaSerial, metaNotAfter, metaIssuer, metaRolledBackFrom, metaRolledBackBy} {
			m[metaKey(old, f)] = nil
		}
	}
	return m
}

// truncate cuts s to at most n bytes (Vault's limit on a metadata value).
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
