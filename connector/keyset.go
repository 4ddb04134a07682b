package connector

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

// B2C custom-policy key containers (trustFrameworkKeySet) exist in Graph
// beta only. Beta APIs may change without notice and are not supported for
// production use by Microsoft; this client keeps the whole beta path in
// keySetsPath, so that moving to v1.0 when Microsoft publishes it there is
// this one line. Unlike API connectors, key sets are offered in every
// national cloud.
const keySetsPath = "/beta/trustFramework/keySets"

var _ jobs.KeySets = (*Client)(nil)

// CodeInvalidKeySetID: the key set id is not B2C_1A_….
const CodeInvalidKeySetID = "invalid_keyset_id"

// AnnounceKeySets logs, once per process start, that key sets are served
// by Graph beta. The worker calls it when a job has keysets.
func (c *Client) AnnounceKeySets() {
	c.logger.Info("B2C policy key containers (keysets) use Microsoft Graph beta, which may change without notice",
		"path", keySetsPath)
}

// keyJSON is a trustFrameworkKey as Graph sends it; the fields that hold
// key material (d, p, q, dp, dq, qi, k) are not read.
type keyJSON struct {
	Kid string `json:"kid"`
	Use string `json:"use"`
	X5t string `json:"x5t"`
	Nbf *int64 `json:"nbf"`
	Exp *int64 `json:"exp"`
	// X5c is the certificate chain, leaf first (standard base64 DER); only
	// the leaf's subject is read from it.
	X5c []string `json:"x5c"`
}

func (k keyJSON) policyKey() jobs.PolicyKey {
	pk := jobs.PolicyKey{Kid: k.Kid, Use: k.Use, X5t: k.X5t, Subject: leafSubject(k.X5c)}
	if k.Nbf != nil {
		pk.NotBefore = time.Unix(*k.Nbf, 0).UTC()
	}
	if k.Exp != nil {
		pk.NotAfter = time.Unix(*k.Exp, 0).UTC()
	}
	return pk
}

// leafSubject is the subject of the chain's first certificate, or "" when
// there is none or it does not parse: the subject only labels a key.
func leafSubject(x5c []string) string {
	if len(x5c) == 0 {
		return ""
	}
	der, err := base64.StdEncoding.DecodeString(x5c[0])
	if err != nil {
		return ""
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return ""
	}
	return cert.Subject.String()
}

type keySetJSON struct {
	ID   string    `json:"id"`
	Keys []keyJSON `json:"keys"`
}

func (k keySetJSON) state() jobs.KeySetState {
	st := jobs.KeySetState{ID: k.ID, Keys: make([]jobs.PolicyKey, 0, len(k.Keys))}
	for _, key := range k.Keys {
		st.Keys = append(st.Keys, key.policyKey())
	}
	return st
}

func keySetPath(id string) string { return keySetsPath + "/" + url.PathEscape(id) }

// keySetTarget finds the tenant and checks the id before any request.
func (c *Client) keySetTarget(tenant, id string) (*tenantClient, error) {
	if !jobs.IsKeySetID(id) {
		return nil, jobs.Permanent(CodeInvalidKeySetID, fmt.Errorf("key set id %q is not B2C_1A_ followed by letters, digits, _ or -", id))
	}
	return c.tenantNamed(tenant)
}

// keySetCall sends r to key set id of tenant, at r.path under the key
// set's own, and decodes the answer into out. The tenant and the id are
// checked before any request.
func (c *Client) keySetCall(ctx context.Context, tenant, id string, r request, out any) error {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	tc, err := c.keySetTarget(tenant, id)
	if err != nil {
		return err
	}
	r.tenant, r.path = tc, keySetPath(id)+r.path
	body, err := c.do(ctx, &r)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return jobs.Transient(CodeInvalidResponse, fmt.Errorf("decoding the answer: %w", err))
	}
	return nil
}

// GetKeySet reads a container and its keys. Failures are classified as
// for Get: a missing container is permanent (ErrNotFound), a missing
// TrustFrameworkKeySet.ReadWrite.All permanent (ErrDenied).
func (c *Client) GetKeySet(ctx context.Context, tenant, id string) (jobs.KeySetState, error) {
	var ks keySetJSON
	if err := c.keySetCall(ctx, tenant, id, request{method: http.MethodGet, safe: true}, &ks); err != nil {
		return jobs.KeySetState{}, fmt.Errorf("getting key set %s: %w", id, err)
	}
	return ks.state(), nil
}

// UploadKey sends pfx with uploadPkcs12 ({"key": standard base64, "password"})
// and returns the key Graph created. Like Upload it does not retry after the
// request may have taken effect: jobs reads the container before uploading
// again.
func (c *Client) UploadKey(ctx context.Context, tenant, id string, pfx []byte, password string) (jobs.PolicyKey, error) {
	value := base64.StdEncoding.EncodeToString(pfx)
	payload, err := json.Marshal(map[string]string{"key": value, "password": password})
	if err != nil {
		return jobs.PolicyKey{}, jobs.Permanent("invalid_request", errors.New("encoding upload body"))
	}
	var k keyJSON
	r := request{method: http.MethodPost, path: "/uploadPkcs12", body: payload, secrets: []string{value, password}}
	if err := c.keySetCall(ctx, tenant, id, r, &k); err != nil {
		return jobs.PolicyKey{}, fmt.Errorf("uploading key to key set %s: %w", id, err)
	}
	return k.policyKey(), nil
}

// ActiveKey asks getActiveKey which key B2C uses now. A 404 means no key
// is valid (the container itself is read with GetKeySet first): ok false.
func (c *Client) ActiveKey(ctx context.Context, tenant, id string) (jobs.PolicyKey, bool, error) {
	var k keyJSON
	err := c.keySetCall(ctx, tenant, id, request{method: http.MethodGet, path: "/getActiveKey", safe: true}, &k)
	switch {
	case errors.Is(err, ErrNotFound):
		return jobs.PolicyKey{}, false, nil
	case err != nil:
		return jobs.PolicyKey{}, false, fmt.Errorf("getting active key of key set %s: %w", id, err)
	}
	return k.policyKey(), true, nil
}

// ListKeySets reads every container of the tenant, following
// @odata.nextLink as List does.
func (c *Client) ListKeySets(ctx context.Context, tenant string) ([]jobs.KeySetState, error) {
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	tc, err := c.tenantNamed(tenant)
	if err != nil {
		return nil, fmt.Errorf("listing key sets: %w", err)
	}
	var out []jobs.KeySetState
	err = pages(ctx, c, tc, keySetsPath, func(v []keySetJSON) error {
		for _, ks := range v {
			out = append(out, ks.state())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing key sets of tenant %s: %w", tenant, err)
	}
	return out, nil
}
