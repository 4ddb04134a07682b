package vaultsrc

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/jobs"
	"github.com/hashicorp/vault/api"
)

// Defaults of a jobs.SourceRef's empty fields.
const (
	MountDefault         = "secret"
	PFXFieldDefault      = "pfx"
	PasswordFieldDefault = "password"
)

// Fetch reads the KV v2 secret ref points at, the version ref.Version pins
// or else the latest, and returns the decoded PFX, its password ("" when the
// field is absent) and the version number. It implements jobs.Source; every
// error is a jobs.Failure with one of the Code constants or
// bundle.CodeTooLarge (a pfx field over bundle.Base64SizeMax characters), or
// a plain wrapped context error, and no error holds a field's value. A
// deleted, destroyed or unknown version fails permanently with CodeNotFound,
// wrapping ErrVersionDeleted, ErrVersionDestroyed or ErrVersionMissing.
func (c *Client) Fetch(ctx context.Context, ref jobs.SourceRef) (jobs.Material, error) {
	ref = refWithDefaults(ref)
	name := ref.Mount + "/" + ref.Path
	doing := "reading bundle " + name
	if ref.Version > 0 {
		doing = fmt.Sprintf("%s version %d", doing, ref.Version)
	}
	if ref.Path == "" {
		return jobs.Material{}, jobs.Permanent(CodeNotFound, fmt.Errorf("%s: the secret path is empty", doing))
	}
	var kv *api.KVSecret
	err := c.call(ctx, func() (err error) {
		if ref.Version > 0 {
			kv, err = c.api.KVv2(ref.Mount).GetVersion(ctx, ref.Path, ref.Version)
		} else {
			kv, err = c.api.KVv2(ref.Mount).Get(ctx, ref.Path)
		}
		return err
	})
	if err != nil {
		return jobs.Material{}, readError(doing, ref, err)
	}
	version := ref.Version
	if kv.VersionMetadata != nil {
		version = kv.VersionMetadata.Version
	}
	if kv.Data == nil {
		return jobs.Material{}, jobs.Permanent(CodeNotFound, deletedError(doing, name, ref.Version > 0, kv.VersionMetadata))
	}
	pfx, code, err := decodePFX(kv.Data, ref.PFXField)
	if err != nil {
		return jobs.Material{}, jobs.Permanent(code, fmt.Errorf("%s version %d: %w", doing, version, err))
	}
	password, err := passwordOf(kv.Data, ref.PasswordField)
	if err != nil {
		return jobs.Material{}, jobs.Permanent(CodeMalformed, fmt.Errorf("%s version %d: %w", doing, version, err))
	}
	c.logger.Debug("bundle read", "path", name, "vault_version", version)
	return jobs.Material{PFX: pfx, Password: password, Version: version}, nil
}

// refWithDefaults fills in a SourceRef's empty fields and trims the slashes
// an operator may have put around the mount and the path.
func refWithDefaults(ref jobs.SourceRef) jobs.SourceRef {
	ref.Mount = cmp.Or(strings.Trim(ref.Mount, "/"), MountDefault)
	ref.Path = strings.Trim(ref.Path, "/")
	ref.PFXField = cmp.Or(ref.PFXField, PFXFieldDefault)
	ref.PasswordField = cmp.Or(ref.PasswordField, PasswordFieldDefault)
	return ref
}

// readError classifies a failed KV v2 read.
func readError(doing string, ref jobs.SourceRef, err error) error {
	dataPath := ref.Mount + "/data/" + ref.Path
	if errors.Is(err, api.ErrSecretNotFound) {
		if ref.Version > 0 {
			return jobs.Permanent(CodeNotFound, fmt.Errorf("%s: %w at %s: list the versions with `vault kv metadata get %s/%s`",
				doing, ErrVersionMissing, dataPath, ref.Mount, ref.Path))
		}
		return jobs.Permanent(CodeNotFound, fmt.Errorf("%s: %w at %s: write it with `vault kv put %s/%s %s=@bundle.b64`",
			doing, api.ErrSecretNotFound, dataPath, ref.Mount, ref.Path, ref.PFXField))
	}
	return classify(doing, err, "the token's policy must allow read on "+dataPath)
}

// deletedError explains why a version holds no data: KV v2 answers a
// deleted or destroyed version with its metadata and nil data. pinned says
// the request named the version (a rollback), which changes the fix.
func deletedError(doing, name string, pinned bool, md *api.KVVersionMetadata) error {
	switch {
	case md == nil:
		return fmt.Errorf("%s: %w: write a new version or undelete it", doing, ErrVersionDeleted)
	case md.Destroyed && pinned:
		return fmt.Errorf("%s: %w: version %d cannot be recovered: roll back to another version", doing, ErrVersionDestroyed, md.Version)
	case md.Destroyed:
		return fmt.Errorf("%s: the latest version (%d) is destroyed (%w): write a new version", doing, md.Version, ErrVersionDestroyed)
	case pinned:
		return fmt.Errorf("%s: %w: undelete it with `vault kv undelete -versions=%d %s`, or roll back to another version",
			doing, ErrVersionDeleted, md.Version, name)
	default:
		return fmt.Errorf("%s: the latest version (%d) is deleted (%w): write a new version or undelete it with `vault kv undelete -versions=%d %s`",
			doing, md.Version, ErrVersionDeleted, md.Version, name)
	}
}

// decodePFX decodes the standard base64 in data[field], ignoring whitespace
// and accepting missing padding. On failure it returns the Failure code and
// an error that names the field but never shows its value.
func decodePFX(data map[string]any, field string) ([]byte, string, error) {
	v, ok := data[field]
	if !ok || v == nil {
		return nil, CodeFieldMissing, fmt.Errorf("secret has no field %q (it has: %s)", field, fieldNames(data))
	}
	s, ok := v.(string)
	if !ok {
		return nil, CodeMalformed, fmt.Errorf("field %q is %s, not a base64 string", field, jsonKind(v))
	}
	if err := bundle.CheckBase64Size(len(s)); err != nil {
		return nil, string(bundle.CodeTooLarge), fmt.Errorf("field %q: %w", field, err)
	}
	s = strings.Map(dropSpace, s)
	switch {
	case s == "":
		return nil, CodeFieldMissing, fmt.Errorf("field %q is empty", field)
	case !printableASCII(s):
		// Base64 is printable ASCII; bytes outside it are a binary file
		// stored as it is (through JSON, its invalid UTF-8 became U+FFFD).
		// The check comes before the URL-safe one: binary holds '-' and '_'.
		return nil, CodeMalformed, fmt.Errorf("field %q holds raw PKCS#12 bytes, not base64: store the output of `base64 -w0`", field)
	case strings.HasPrefix(s, "-----BEGIN"):
		return nil, CodeMalformed, fmt.Errorf("field %q holds PEM, not the base64 of a PKCS#12 file: "+
			"build one with `openssl pkcs12 -export` and store `base64 -w0` of it", field)
	case strings.ContainsAny(s, "-_"):
		return nil, CodeMalformed, fmt.Errorf("field %q is URL-safe base64: store standard base64 (`base64 -w0 bundle.pfx`)", field)
	}
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	pfx, err := enc.DecodeString(s)
	if err != nil {
		// CorruptInputError names an offset only, never the data.
		return nil, CodeMalformed, fmt.Errorf("field %q is not standard base64: %w", field, err)
	}
	return pfx, "", nil
}

// passwordOf returns data[field], "" when it is absent or null, without
// the trailing line break that `password=@file` keeps: the same rule as
// `inspect --password-file` (bundle.PasswordFromText).
func passwordOf(data map[string]any, field string) (string, error) {
	v, ok := data[field]
	if !ok || v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("field %q is %s, not a string", field, jsonKind(v))
	}
	return bundle.PasswordFromText(s), nil
}

// printableASCII reports whether s holds only printable ASCII characters.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// dropSpace removes the whitespace (line breaks of `base64` without -w0,
// indentation) that strings.Map is given.
func dropSpace(r rune) rune {
	if unicode.IsSpace(r) {
		return -1
	}
	return r
}

// fieldNames lists a secret's field names, sorted; names are not secret.
func fieldNames(data map[string]any) string {
	if len(data) == 0 {
		return "no fields"
	}
	names := make([]string, 0, len(data))
	for k := range data {
		names = append(names, fmt.Sprintf("%q", k))
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// jsonKind names the JSON type of a decoded value without showing it.
func jsonKind(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	default:
		return "a number"
	}
}
