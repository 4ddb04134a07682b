package config

import "cmp"

var authKeys = []string{"method", "token", "token_file", "role_id", "secret_id_file", "role", "jwt_file", "mount_path"}

// authFieldMethod names the Vault auth method each method-specific field
// belongs to; a field of another method than the chosen one is a problem.
var authFieldMethod = map[string]string{
	"token":          AuthToken,
	"token_file":     AuthToken,
	"role_id":        AuthAppRole,
	"secret_id_file": AuthAppRole,
	"role":           AuthKubernetes,
	"jwt_file":       AuthKubernetes,
}

// vault reads the `vault` section. needed says whether a job will read
// from Vault, which makes the address and the credentials required.
func (d *decoder) vault(s section, needed bool) Vault {
	v := Vault{
		Address:   s.str("address", ""),
		Namespace: s.str("namespace", ""),
		CACert:    s.str("ca_cert", ""),
	}
	switch {
	case v.Address == "" && needed:
		s.problem("address", "required when jobs are configured")
	case v.Address != "" && !isHTTPURL(v.Address):
		s.problem("address", "%q is not an http:// or https:// URL", redactURL(v.Address))
	}
	v.Auth = d.vaultAuth(s.sub("auth", authKeys...), needed || v.Address != "")
	return v
}

// vaultAuth reads `vault.auth`; needed makes the method's fields required.
func (d *decoder) vaultAuth(s section, needed bool) VaultAuth {
	a := VaultAuth{
		Method:       s.str("method", AuthMethodDefault),
		RoleID:       s.str("role_id", ""),
		SecretIDFile: s.str("secret_id_file", ""),
		Role:         s.str("role", ""),
		JWTFile:      s.str("jwt_file", ""),
	}
	a.MountPath = cmp.Or(s.str("mount_path", ""), a.Method)
	switch a.Method {
	case AuthToken:
		d.tokenAuth(s, &a, needed)
	case AuthAppRole:
		d.require(s, needed, "role_id", a.RoleID)
		d.require(s, needed, "secret_id_file", a.SecretIDFile)
		d.readableSecret(s, "secret_id_file") // read again at each login
	case AuthKubernetes:
		d.require(s, needed, "role", a.Role)
		a.JWTFile = cmp.Or(a.JWTFile, JWTFileDefault)
	default:
		s.problem("method", "%q is not token, approle or kubernetes", a.Method)
		return a
	}
	for _, f := range authKeys {
		if m, ok := authFieldMethod[f]; ok && m != a.Method && s.has(f) {
			s.problem(f, "only used by the %s method (method is %s)", m, a.Method)
		}
	}
	return a
}

// tokenAuth reads token or token_file (exactly one when needed).
func (d *decoder) tokenAuth(s section, a *VaultAuth, needed bool) {
	if s.has("token") {
		a.Token = d.secretString(s, "token")
	}
	if s.has("token_file") {
		a.TokenFile, a.Token = d.secretFile(s, "token_file")
	}
	switch {
	case s.has("token") && s.has("token_file"):
		s.problem("token_file", "set token or token_file, not both")
	case needed && !s.has("token") && !s.has("token_file"):
		s.problem("token", "the token method needs token or token_file")
	}
}

// require reports a field that the method needs and that is empty.
func (d *decoder) require(s section, needed bool, field, value string) {
	if needed && value == "" {
		s.problem(field, "required by the %s method", authFieldMethod[field])
	}
}
