package bundle

import "strings"

// PasswordFromText is the one rule for a bundle password read from text: a
// file (`inspect --password-file`), an environment variable, or a Vault
// field written with `vault kv put … password=@file`, which keeps the
// file's last line break. Trailing line breaks (\n, \r\n) are not part of
// the password: editors and `echo` add them, and no exporter writes a
// password ending with one. Everything else, spaces included, is kept.
func PasswordFromText(s string) string {
	return strings.TrimRight(s, "\r\n")
}

// passwordHint says what in a refused password may be the cause: a line
// break or a space that Decode was given as part of it. It never shows the
// password.
func passwordHint(password string) string {
	switch {
	case strings.ContainsAny(password, "\r\n"):
		return " (the password given holds a line break, which is part of it: a password written from a file keeps the file's newline; " +
			"PasswordFromText drops a trailing one)"
	case strings.TrimSpace(password) != password:
		return " (the password given starts or ends with a space, which is part of it)"
	}
	return ""
}
