package contract

// ValidName reports whether s can name a job or a tenant: letters, digits,
// '-' and '_'. Names become NATS subject tokens and KV keys, where dots,
// wildcards and spaces would change the meaning. config enforces it at
// load time and the worker when it reads a job from a subject.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-', c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		default:
			return false
		}
	}
	return true
}
