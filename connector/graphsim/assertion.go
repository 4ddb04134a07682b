package graphsim

import (
	"bytes"
	"cmp"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// jwtBearer is the only client_assertion_type Entra accepts.
const jwtBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// clockSkew is the leeway Entra allows on an assertion's nbf and exp.
const clockSkew = 5 * time.Minute

// jwt is a client assertion split into its parts. The raw text is kept
// only to verify the signature and is never written anywhere.
type jwt struct {
	header struct {
		Alg     string   `json:"alg"`
		X5t     string   `json:"x5t"`
		X5tS256 string   `json:"x5t#S256"`
		X5c     []string `json:"x5c"`
	}
	claims struct {
		Iss string          `json:"iss"`
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"` // a string or a list of them
		Exp json.Number     `json:"exp"`
		Nbf json.Number     `json:"nbf"`
	}
	signed    []byte // header.payload
	signature []byte
}

// parseJWT decodes a compact JWS without judging it.
func parseJWT(raw string) (*jwt, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("not three dot-separated parts")
	}
	var j jwt
	for i, dst := range []any{&j.header, &j.claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, fmt.Errorf("decoding part %d: %w", i+1, err)
		}
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(dst); err != nil {
			return nil, fmt.Errorf("decoding part %d: %w", i+1, err)
		}
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("decoding signature: %w", err)
	}
	j.signed, j.signature = []byte(parts[0]+"."+parts[1]), sig
	return &j, nil
}

// audiences returns aud as a list.
func (j *jwt) audiences() []string {
	var one string
	if json.Unmarshal(j.claims.Aud, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(j.claims.Aud, &many) // anything else matches nothing
	return many
}

// verify checks the RS256 or PS256 signature with key.
func (j *jwt) verify(key crypto.PublicKey) bool {
	pub, ok := key.(*rsa.PublicKey)
	if !ok {
		return false
	}
	sum := sha256.Sum256(j.signed)
	switch j.header.Alg {
	case "RS256":
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], j.signature) == nil
	case "PS256":
		return rsa.VerifyPSS(pub, crypto.SHA256, sum[:], j.signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}) == nil
	}
	return false
}

// timeProblem says why now is outside the assertion's validity, or "".
func (j *jwt) timeProblem(now time.Time) string {
	exp, err := j.claims.Exp.Float64()
	if err != nil {
		return "The assertion has no valid exp claim."
	}
	expires := time.Unix(int64(exp), 0).UTC()
	if !now.Before(expires.Add(clockSkew)) {
		return fmt.Sprintf("Current time: %s, expiry time of assertion %s.",
			now.UTC().Format(time.DateTime), expires.Format(time.DateTime))
	}
	if nbf, err := j.claims.Nbf.Float64(); err == nil {
		if from := time.Unix(int64(nbf), 0).UTC(); now.Add(clockSkew).Before(from) {
			return fmt.Sprintf("Current time: %s, assertion valid from %s, expiry time of assertion %s.",
				now.UTC().Format(time.DateTime), from.Format(time.DateTime), expires.Format(time.DateTime))
		}
	}
	return ""
}

// assertionRejection is an answer of the token endpoint to a bad assertion.
type assertionRejection struct {
	status int
	code   string
	aadsts int
	text   string
}

func invalidClient(aadsts int, format string, args ...any) *assertionRejection {
	return &assertionRejection{status: http.StatusUnauthorized, code: "invalid_client", aadsts: aadsts, text: fmt.Sprintf(format, args...)}
}

// checkAssertion authenticates an app with a client assertion: a JWT the
// app signed with a registered certificate (iss and sub are the client id),
// or a federated token from a trusted issuer. It writes Entra's error and
// returns false on rejection; the assertion is never echoed.
func (s *Server) checkAssertion(x *exchange, t *tenant, clientID, assertionType, assertion string) bool {
	if assertionType != jwtBearer {
		x.entraError(s.url, http.StatusBadRequest, "invalid_request", 900144, missingParam("client_assertion_type"))
		return false
	}
	j, err := parseJWT(assertion)
	if err != nil {
		x.entraError(s.url, http.StatusBadRequest, "invalid_request", 50027, "JWT token is invalid or malformed.")
		return false
	}
	s.mu.Lock()
	app := t.creds[clientID]
	var r *assertionRejection
	if j.claims.Iss == clientID {
		r = s.checkSignedByApp(j, t, clientID, app)
	} else {
		r = s.checkFederated(j, app)
	}
	s.mu.Unlock()
	if r != nil {
		x.entraError(s.url, r.status, r.code, r.aadsts, r.text)
		return false
	}
	return true
}

// checkSignedByApp is the certificate credential, checked in Entra's order:
// subject, audience, lifetime, key, signature. Called with s.mu held.
func (s *Server) checkSignedByApp(j *jwt, t *tenant, clientID string, app *appCredentials) *assertionRejection {
	if j.claims.Sub != clientID {
		return invalidClient(700021, "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .")
	}
	if !slices.ContainsFunc(j.audiences(), func(aud string) bool { return s.isTokenEndpointLocked(aud, t) }) {
		return invalidClient(700023, "Client assertion audience claim does not match Realm issuer. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .")
	}
	now := s.now()
	if p := j.timeProblem(now); p != "" {
		return invalidClient(700024, "Client assertion is not within its valid time range. %s", p)
	}
	key, r := appKey(j, app, clientID, now)
	if r != nil {
		return r
	}
	if !j.verify(key) {
		return invalidClient(700027, "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '%s']", j.thumbprintHex())
	}
	return nil
}

// appKey finds the public key an assertion claims to be signed with: the
// x5c leaf under subject-name/issuer trust, else the registered certificate
// its x5t or x5t#S256 names.
func appKey(j *jwt, app *appCredentials, clientID string, now time.Time) (crypto.PublicKey, *assertionRejection) {
	if app == nil {
		app = &appCredentials{}
	}
	if len(j.header.X5c) > 0 && len(app.subjects) > 0 {
		if leaf := trustedLeaf(j, app.subjects, now); leaf != nil {
			return leaf.PublicKey, nil
		}
		return nil, invalidClient(700027, "Client assertion contains an invalid signature. [Reason - The certificate chain in x5c does not match a trusted subject name and issuer of app '%s'.]", clientID)
	}
	for _, c := range app.certs {
		if !j.names(c) {
			continue
		}
		if !now.Before(c.NotAfter) {
			return nil, invalidClient(700027, "Client assertion contains an invalid signature. [Reason - The key used is expired., Thumbprint of key used by client: '%s']", j.thumbprintHex())
		}
		return c.PublicKey, nil
	}
	return nil, invalidClient(700027, "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]", j.thumbprintHex(), clientID)
}

// names reports whether the header's thumbprint is c's. MSAL encodes it
// with standard base64, RFC 7515 with base64url: both are accepted.
func (j *jwt) names(c *x509.Certificate) bool {
	s1, s256 := certThumbprints(c)
	return (j.header.X5t != "" && bytes.Equal(decodeB64(j.header.X5t), s1)) ||
		(j.header.X5tS256 != "" && bytes.Equal(decodeB64(j.header.X5tS256), s256))
}

// thumbprintHex is the header's thumbprint as Entra prints it.
func (j *jwt) thumbprintHex() string {
	return strings.ToUpper(hex.EncodeToString(decodeB64(cmp.Or(j.header.X5t, j.header.X5tS256))))
}

func decodeB64(s string) []byte {
	s = strings.TrimRight(s, "=")
	if b, err := base64.RawURLEncoding.DecodeString(s); err == nil {
		return b
	}
	b, _ := base64.RawStdEncoding.DecodeString(s) // undecodable matches nothing
	return b
}

// trustedLeaf verifies the x5c chain against each trusted subject and
// returns the leaf when one accepts it and the header names that leaf.
func trustedLeaf(j *jwt, subjects []trustedSubject, now time.Time) *x509.Certificate {
	var chain []*x509.Certificate
	for _, s := range j.header.X5c {
		der, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil
		}
		chain = append(chain, c)
	}
	leaf := chain[0]
	if !j.names(leaf) {
		return nil
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	for _, ts := range subjects {
		opts := x509.VerifyOptions{Roots: ts.roots, Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
		if leaf.Subject.CommonName == ts.subject {
			if _, err := leaf.Verify(opts); err == nil {
				return leaf
			}
		}
	}
	return nil
}

// checkFederated is workload identity federation: a token from an issuer
// a federated credential of the app trusts, checked in Entra's order:
// issuer, signature, lifetime, audience, subject. Called with s.mu held.
func (s *Server) checkFederated(j *jwt, app *appCredentials) *assertionRejection {
	var byIssuer []FederatedCredential
	if app != nil {
		for _, fc := range app.federated {
			if fc.Issuer == j.claims.Iss {
				byIssuer = append(byIssuer, fc)
			}
		}
	}
	if len(byIssuer) == 0 {
		return invalidClient(700211, "No matching federated identity record found for presented assertion issuer '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", j.claims.Iss)
	}
	if !slices.ContainsFunc(s.creds.issuers[j.claims.Iss], j.verify) {
		return invalidClient(700027, "Client assertion failed signature validation. [Reason - The key was not found.] Issuer: '%s'.", j.claims.Iss)
	}
	if p := j.timeProblem(s.now()); p != "" {
		return invalidClient(700024, "Client assertion is not within its valid time range. %s", p)
	}
	auds := j.audiences()
	byAudience := slices.DeleteFunc(byIssuer, func(fc FederatedCredential) bool {
		return !slices.ContainsFunc(fc.Audiences, func(a string) bool { return slices.Contains(auds, a) })
	})
	if len(byAudience) == 0 {
		return invalidClient(700212, "No matching federated identity record found for presented assertion audience '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", strings.Join(auds, ","))
	}
	if !slices.ContainsFunc(byAudience, func(fc FederatedCredential) bool { return fc.Subject == j.claims.Sub }) {
		return invalidClient(700213, "No matching federated identity record found for presented assertion subject '%s'. Please check your federated identity credential Subject, Audience and Issuer against the presented assertion. https://learn.microsoft.com/entra/workload-id/workload-identity-federation", j.claims.Sub)
	}
	return nil
}

// isTokenEndpointLocked reports whether aud is the token endpoint of t,
// named by its id or one of its domains, in the v2 or v1 form.
func (s *Server) isTokenEndpointLocked(aud string, t *tenant) bool {
	rest, ok := strings.CutPrefix(aud, s.url+"/")
	if !ok {
		return false
	}
	name, path, _ := strings.Cut(rest, "/")
	if path != "oauth2/v2.0/token" && path != "oauth2/token" {
		return false
	}
	return s.tenants[strings.ToLower(name)] == t
}
