package bundle

import (
	"errors"
	"fmt"
)

// berMaxDepth bounds the nesting toDER follows. A PFX nests about a dozen
// levels deep; the bound keeps hostile input from exhausting the stack.
const berMaxDepth = 64

const (
	tagOctetString            = 0x04
	tagOctetStringConstructed = 0x24
	berConstructed            = 0x20
	berIndefinite             = 0x80
)

var (
	errBERTruncated = errors.New("bundle: ASN.1 data is truncated")
	errBERTooDeep   = errors.New("bundle: ASN.1 data nests too deeply")
)

// toDER re-encodes one BER element as DER, as far as encoding/asn1 needs:
// indefinite lengths become definite, lengths become minimal, and
// constructed (chunked) OCTET STRINGs are concatenated into one primitive
// OCTET STRING. It does not look inside primitive contents: a PFX nests
// encodings inside OCTET STRINGs, and the caller normalizes those itself.
// rest is whatever follows the element.
func toDER(in []byte) (out, rest []byte, err error) {
	out, rest, err = appendDER(make([]byte, 0, len(in)), in, 0)
	if err != nil {
		return nil, nil, err
	}
	return out, rest, nil
}

// berHeader is a parsed identifier and length.
type berHeader struct {
	tag        []byte // the identifier octets as they appear
	compound   bool
	indefinite bool
	length     int
}

// appendDER appends the DER form of the element at the start of in to dst.
func appendDER(dst, in []byte, depth int) (out, rest []byte, err error) {
	if depth > berMaxDepth {
		return nil, nil, errBERTooDeep
	}
	h, body, err := parseBERHeader(in)
	if err != nil {
		return nil, nil, err
	}
	if !h.compound {
		if h.indefinite {
			return nil, nil, errors.New("bundle: ASN.1 primitive with indefinite length")
		}
		dst = appendHeader(dst, h.tag, h.length)
		return append(dst, body[:h.length]...), body[h.length:], nil
	}
	if len(h.tag) == 1 && h.tag[0] == tagOctetStringConstructed {
		data, rest, err := appendChunks(nil, h, body, depth)
		if err != nil {
			return nil, nil, err
		}
		dst = appendHeader(dst, []byte{tagOctetString}, len(data))
		dst = append(dst, data...)
		clear(data) // a copy of the file's bytes, which may hold a plain key
		return dst, rest, nil
	}
	children, rest, err := appendChildren(nil, h, body, depth)
	if err != nil {
		return nil, nil, err
	}
	dst = appendHeader(dst, h.tag, len(children))
	dst = append(dst, children...)
	clear(children)
	return dst, rest, nil
}

// appendChildren appends the DER form of every child of a constructed
// element and returns what follows the element.
func appendChildren(dst []byte, h berHeader, body []byte, depth int) (out, rest []byte, err error) {
	rest, err = walkContents(h, body, func(content []byte) (left []byte, err error) {
		if len(content) == 0 {
			return nil, errBERTruncated
		}
		dst, left, err = appendDER(dst, content, depth+1)
		return left, err
	})
	if err != nil {
		return nil, nil, err
	}
	return dst, rest, nil
}

// appendChunks appends the contents of the chunks of a constructed OCTET
// STRING, which may themselves be constructed, and returns what follows it.
func appendChunks(dst []byte, h berHeader, body []byte, depth int) (out, rest []byte, err error) {
	if depth > berMaxDepth {
		return nil, nil, errBERTooDeep
	}
	rest, err = walkContents(h, body, func(content []byte) (left []byte, err error) {
		ch, chBody, err := parseBERHeader(content)
		if err != nil {
			return nil, err
		}
		switch {
		case len(ch.tag) == 1 && ch.tag[0] == tagOctetString && !ch.indefinite:
			dst = append(dst, chBody[:ch.length]...)
			return chBody[ch.length:], nil
		case len(ch.tag) == 1 && ch.tag[0] == tagOctetStringConstructed:
			dst, left, err = appendChunks(dst, ch, chBody, depth+1)
			return left, err
		default:
			return nil, errors.New("bundle: constructed OCTET STRING holds something else")
		}
	})
	if err != nil {
		return nil, nil, err
	}
	return dst, rest, nil
}

// walkContents hands the contents of a constructed element to step, one
// child at a time, until they end: at the length for a definite-length
// element, at the end-of-contents marker for an indefinite one (BER allows
// both, and DER conversion and chunk joining must end the same way). step
// consumes the child at the front and returns the contents after it; what
// follows the whole element is returned.
func walkContents(h berHeader, body []byte, step func(content []byte) ([]byte, error)) (rest []byte, err error) {
	content := body
	if !h.indefinite {
		content, rest = body[:h.length], body[h.length:]
	}
	for {
		if h.indefinite && isEOC(content) {
			return content[2:], nil
		}
		if !h.indefinite && len(content) == 0 {
			return rest, nil
		}
		if content, err = step(content); err != nil {
			return nil, err
		}
	}
}

// isEOC reports whether b starts with the end-of-contents marker.
func isEOC(b []byte) bool { return len(b) >= 2 && b[0] == 0 && b[1] == 0 }

// parseBERHeader reads an identifier and a length. For a definite length it
// checks that the contents are all there; body starts at the contents.
func parseBERHeader(in []byte) (h berHeader, body []byte, err error) {
	if len(in) < 2 {
		return h, nil, errBERTruncated
	}
	n := 1
	if in[0]&0x1f == 0x1f { // high tag number form: base-128 digits follow
		for n < len(in) && in[n]&0x80 != 0 {
			n++
		}
		n++
		if n > 6 || n >= len(in) {
			return h, nil, errors.New("bundle: ASN.1 tag too long")
		}
	}
	h.tag, h.compound = in[:n], in[0]&berConstructed != 0
	l := in[n]
	n++
	switch {
	case l < 0x80:
		h.length = int(l)
	case l == berIndefinite:
		h.indefinite = true
		return h, in[n:], nil
	default:
		if h.length, n, err = parseLongLength(in, n, int(l&0x7f)); err != nil {
			return h, nil, err
		}
	}
	if h.length > len(in)-n {
		return h, nil, errBERTruncated
	}
	return h, in[n:], nil
}

// parseLongLength reads a long-form length of size octets at in[n:].
func parseLongLength(in []byte, n, size int) (length, next int, err error) {
	if size > 4 {
		return 0, 0, fmt.Errorf("bundle: ASN.1 length of %d octets is too long", size)
	}
	if size > len(in)-n {
		return 0, 0, errBERTruncated
	}
	for _, b := range in[n : n+size] {
		length = length<<8 | int(b)
	}
	if length < 0 {
		return 0, 0, errors.New("bundle: ASN.1 length overflows")
	}
	return length, n + size, nil
}

// appendHeader appends tag and a minimal DER length.
func appendHeader(dst, tag []byte, length int) []byte {
	dst = append(dst, tag...)
	switch {
	case length < 0x80:
		return append(dst, byte(length))
	case length <= 0xff:
		return append(dst, 0x81, byte(length))
	case length <= 0xffff:
		return append(dst, 0x82, byte(length>>8), byte(length))
	case length <= 0xffffff:
		return append(dst, 0x83, byte(length>>16), byte(length>>8), byte(length))
	default:
		return append(dst, 0x84, byte(length>>24), byte(length>>16), byte(length>>8), byte(length))
	}
}
