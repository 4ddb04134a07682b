// Package graphsim is an HTTPS emulator of the two Microsoft services
// certrotator talks to: the Entra ID v2 token endpoint (client credentials)
// and the Microsoft Graph API-connector endpoints
// (/v1.0/identity/apiConnectors, uploadClientCertificate, PATCH), plus the
// App Service managed identity endpoint.
//
// The token endpoint takes a client secret or a client assertion, and
// checks assertions as Entra does: the RS256/PS256 signature against a
// certificate registered with AddCertificate and named by x5t or x5t#S256,
// or against an x5c chain under AddTrustedSubject (subject-name/issuer);
// aud is the tenant's token endpoint; iss and sub are the client id; exp
// and nbf against the injected clock. A federated token (workload identity)
// must come from an issuer of AddFederatedCredential, signed by a key given
// with AddIssuerKey, with a registered audience and subject. Refusals carry
// Entra's codes (AADSTS700027, 700024, 700023, 700021, 700211-700213) and
// never echo the assertion. AddDomain names a tenant by a verified domain;
// AddManagedIdentity and ManagedIdentityEndpoint stand in for App Service's
// IDENTITY_ENDPOINT and IDENTITY_HEADER.
//
// It is a real HTTP server, not a mock: tests, benchmarks and the local demo
// point the real Graph client (and azidentity) at URL(), which serves both
// the authority and Graph. Setup is fluent and happens before Start:
//
//	s := graphsim.NewTest(t).
//		AddTenant(tenantID, clientID, secret).
//		AddConnector(tenantID, connectorID, "contoso-api").
//		Start()
//
// The server mirrors what Graph and Entra document (Microsoft Graph's
// identityApiConnector and uploadClientCertificate pages, its errors and
// throttling pages, and B2C's error table): Graph's error shape with request ids, integer
// notBefore/notAfter, upload appending to certificateList even for a
// thumbprint already present, PATCH replacing the list, and the active
// certificate being the most recently uploaded one that is valid now. Where
// Microsoft documents nothing (most B2C error codes for a bad PFX) the
// behaviour is inferred and the code says so.
//
// B2C custom-policy key containers (Graph beta /trustFramework/keySets,
// keyset.go): AddKeySet and AddKey seed them, uploadPkcs12 decodes the PFX
// as uploadClientCertificate does and appends a JWK key (x5t base64url,
// nbf/exp from the certificate), getActiveKey applies B2C's rule (the
// latest activation date that has passed, among keys not expired), and
// DenyKeySets answers 403 for an app with neither TrustFrameworkKeySet.Read.All
// nor ReadWrite.All; KeySetsReadOnly gives an app Read.All only (lists and
// reads answer, uploads 403), which is what the inventory needs.
//
// The list call pages like Graph: @odata.nextLink is an absolute URL with
// an opaque $skiptoken, the page size is SetPageSize's (100 by default) and
// $top is a hint capped by it. SetLimits enforces Graph's two throttling
// limits (per app per tenant, and per tenant across apps; GraphLimits holds
// the documented 200 and 300 a minute) with 429 and Retry-After, on a window
// a benchmark may compress; they are off until set.
//
// Knobs (FailNext, SetLatency, SetLimits, SetPageSize, ExpireTokens) inject
// faults after Start; Requests, Uploads, Certificates and the Counts of
// calls and 429s per tenant and per app let tests inspect what happened.
// NewTest takes anything with Helper and Cleanup (a *testing.T), so the
// emulator itself never imports the testing package. Request bodies, passwords, PFX bytes and bearer tokens are never
// recorded.
//
// azidentity works against the emulator with
// azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: s.URL() + "/"},
// Transport: s.Client()} and DisableInstanceDiscovery: true (without it MSAL
// asks login.microsoftonline.com to vouch for the host).
package graphsim
