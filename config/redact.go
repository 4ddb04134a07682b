package config

import "log/slog"

// redacted stands for a secret in logs: "REDACTED" when set, "" when not.
func redacted(secret string) string {
	if secret == "" {
		return ""
	}
	return "REDACTED"
}

// LogValue keeps the password out of logs.
func (n NATS) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", redactURL(n.URL)),
		slog.String("store_dir", n.StoreDir),
		slog.String("listen", n.Listen),
		slog.String("creds_file", n.CredsFile),
		slog.String("user", n.User),
		slog.String("password", redacted(n.Password)),
		slog.String("nkey_file", n.NKeyFile),
		slog.String("subject_prefix", n.SubjectPrefix),
	)
}

// LogValue keeps the token out of logs.
func (a VaultAuth) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("method", a.Method),
		slog.String("token", redacted(a.Token)),
		slog.String("token_file", a.TokenFile),
		slog.String("role_id", a.RoleID),
		slog.String("secret_id_file", a.SecretIDFile),
		slog.String("role", a.Role),
		slog.String("jwt_file", a.JWTFile),
		slog.String("mount_path", a.MountPath),
	)
}

// LogValue keeps the client secret out of logs.
func (t Tenant) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("tenant_id", t.TenantID),
		slog.String("cloud", t.Cloud),
		slog.String("client_id", t.ClientID),
		slog.String("client_secret", redacted(t.ClientSecret)),
		slog.String("client_secret_file", t.ClientSecretFile),
		slog.String("client_certificate_file", t.ClientCertificateFile),
		slog.String("client_certificate_password", redacted(t.ClientCertificatePassword)),
		slog.Bool("workload_identity", t.WorkloadIdentity),
		slog.String("federated_token_file", t.FederatedTokenFile),
		slog.Bool("managed_identity", t.ManagedIdentity),
		slog.String("ca_file", t.CAFile),
		slog.String("authority_url", t.AuthorityURL),
		slog.String("graph_url", t.GraphURL),
	)
}
