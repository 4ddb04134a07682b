package main

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// printable escapes what a terminal would act on instead of show: C0 and C1
// control characters (ESC starts ANSI sequences that recolour, move the
// cursor or retitle the window; a newline forges a line), DEL, bidi
// overrides, and bytes that are not UTF-8. Fields a publisher sets
// (trigger, requested_by, reason) and error texts reach human output only
// through it; JSON output is written exactly as received.
func printable(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r < utf8.RuneSelf && unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func needsEscape(s string) bool {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return true
			}
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return true
		}
	}
	return false
}
