package vaultsrc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/certrotator/certrotator/jobs"
	"github.com/hashicorp/vault/api"
)

// logIn logs in with the AppRole or Kubernetes method, switches the client
// to the new token and remembers the answer for the renewal loop.
func (c *Client) logIn(ctx context.Context) (*api.Secret, error) {
	path := "auth/" + strings.Trim(c.auth.MountPath, "/") + "/login"
	doing := fmt.Sprintf("logging in to vault with %s at %s", c.auth.Method, path)
	data, err := c.loginData()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	secret, err := c.login.Logical().WriteWithContext(ctx, path, data)
	if err != nil {
		return nil, classifyLogin(doing, err, loginHint(c.auth))
	}
	if secret == nil || secret.Auth == nil || secret.Auth.ClientToken == "" {
		return nil, jobs.Permanent(CodeDenied, fmt.Errorf("%s: vault answered without a token", doing))
	}
	c.api.SetToken(secret.Auth.ClientToken)
	c.mu.Lock()
	c.secret = secret
	c.mu.Unlock()
	c.logger.Info("vault login", "method", c.auth.Method, "mount", c.auth.MountPath,
		"ttl", secret.Auth.LeaseDuration, "renewable", secret.Auth.Renewable)
	return secret, nil
}

// loginData builds the login request's body, reading the credential file
// anew so that a rotated secret id or service account token is picked up.
func (c *Client) loginData() (map[string]any, error) {
	switch c.auth.Method {
	case MethodAppRole:
		data := map[string]any{"role_id": c.auth.RoleID}
		if c.auth.SecretIDFile != "" {
			id, err := readCredential(c.auth.SecretIDFile, "secret id")
			if err != nil {
				return nil, err
			}
			data["secret_id"] = id
		}
		return data, nil
	case MethodKubernetes:
		jwt, err := readCredential(c.auth.JWTFile, "service account token")
		if err != nil {
			return nil, err
		}
		return map[string]any{"role": c.auth.Role, "jwt": jwt}, nil
	default:
		return nil, fmt.Errorf("%w: auth method %q does not log in", ErrInvalidConfig, c.auth.Method)
	}
}

// readCredential reads a file holding one secret and trims the whitespace
// editors and `echo` add around it. Errors name the file, never its content.
func readCredential(path, what string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		// The *PathError names the path and the reason only.
		return "", jobs.Permanent(CodeConfig, fmt.Errorf("reading %s file: %w", what, err))
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", jobs.Permanent(CodeConfig, fmt.Errorf("reading %s file %s: %w", what, path, errEmptyFile))
	}
	return s, nil
}

// loginHint tells the operator what a refused login usually means.
func loginHint(a Auth) string {
	switch a.Method {
	case MethodAppRole:
		return "check the role_id and that the secret id is valid and not expired or used up"
	case MethodKubernetes:
		return fmt.Sprintf("check that role %q exists and binds this pod's service account and namespace", a.Role)
	}
	return ""
}

// classifyLogin classifies a failed login: Vault answers bad credentials
// with 400 ("invalid role or secret ID") as well as 403, both denials.
func classifyLogin(doing string, err error, hint string) error {
	var re *api.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusBadRequest {
		return jobs.Permanent(CodeDenied, fmt.Errorf("%s: %w: %s", doing, responseError{re: re}, hint))
	}
	return classify(doing, err, hint)
}
