package jobs

import "github.com/certrotator/certrotator/contract"

// ValidName reports whether s can name a job or a tenant
// (contract.ValidName): names become NATS subject tokens and KV keys.
func ValidName(s string) bool { return contract.ValidName(s) }

// IsGUID reports whether s is a GUID in Graph's 8-4-4-4-12 hex form, as
// connector ids, tenant ids and client ids are.
func IsGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}
