package bundle

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/internal/testkit"
)

// berChunk is the size berify splits OCTET STRINGs into.
const berChunk = 64

// berify re-encodes DER as BER the way Windows and Java exporters do: every
// constructed element gets an indefinite length, and OCTET STRINGs (and
// the [0] IMPLICIT primitive that holds encrypted content) longer than
// berChunk are split into a constructed string of chunks. It does not look
// inside primitive contents.
func berify(tb testing.TB, der []byte) []byte {
	tb.Helper()
	var out []byte
	for len(der) > 0 {
		h, body, err := parseBERHeader(der)
		if err != nil {
			tb.Fatalf("berify: %v", err)
		}
		content := body[:h.length]
		der = body[h.length:]
		switch {
		case h.compound:
			out = append(out, h.tag...)
			out = append(out, berIndefinite)
			out = append(out, berify(tb, content)...)
			out = append(out, 0, 0)
		case len(h.tag) == 1 && (h.tag[0] == tagOctetString || h.tag[0] == 0x80) && len(content) > berChunk:
			out = append(out, h.tag[0]|berConstructed, berIndefinite)
			for c := range slicesChunk(content, berChunk) {
				out = appendHeader(out, []byte{tagOctetString}, len(c))
				out = append(out, c...)
			}
			out = append(out, 0, 0)
		default:
			out = appendHeader(out, h.tag, h.length)
			out = append(out, content...)
		}
	}
	return out
}

func slicesChunk(b []byte, n int) func(func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(b) > 0 {
			c := b[:min(n, len(b))]
			b = b[len(c):]
			if !yield(c) {
				return
			}
		}
	}
}

// berifyDeep re-encodes a PFX as BER down to the SafeContents inside the
// MAC'd authenticated safe, and recomputes the MAC over the BER bytes, as
// a BER-writing exporter would. Decoding it needs the rebuild path.
func berifyDeep(tb testing.TB, pfx []byte, password string) []byte {
	tb.Helper()
	f := mustParsePFX(tb, pfx)
	var cis []contentInfo
	for _, it := range f.items {
		if it.encrypted {
			cis = append(cis, it.ci)
			continue
		}
		sc := berify(tb, marshal(tb, it.bags))
		cis = append(cis, contentInfo{ContentType: oidData, Content: explicitZero(marshal(tb, sc))})
	}
	safe := berify(tb, marshal(tb, cis))
	pdu := pfxPDU{Version: 3, AuthSafe: contentInfo{ContentType: oidData, Content: explicitZero(marshal(tb, safe))}}
	if f.hasMAC() {
		pdu.MacData = f.pdu.MacData
		form, err := verifyMAC(&f.pdu.MacData, f.macked, password)
		if err != nil {
			tb.Fatalf("berifyDeep: %v", err)
		}
		digest, err := macDigest(&pdu.MacData, safe, form)
		if err != nil {
			tb.Fatalf("berifyDeep: %v", err)
		}
		pdu.MacData.Mac.Digest = digest
	}
	return berify(tb, marshal(tb, pdu))
}

func TestToDER(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want, rest string // hex
		err                  error
	}{
		{name: "DER passes through", in: "3006020101020102", want: "3006020101020102"},
		{name: "indefinite sequence", in: "3080020101020102" + "0000", want: "3006020101020102"},
		{name: "nested indefinite", in: "3080308002010100000000", want: "30053003020101"},
		{name: "constructed octet string", in: "2480" + "0402aabb" + "0401cc" + "0000", want: "0403aabbcc"},
		{name: "nested constructed octet string", in: "2480" + "2480" + "0401aa" + "0000" + "0401bb" + "0000", want: "0402aabb"},
		{name: "definite constructed octet string", in: "2407" + "0402aabb" + "0401cc", want: "0403aabbcc"},
		{name: "non-minimal length", in: "0482000201ff", want: "040201ff"},
		{name: "high tag number", in: "9f8101" + "01" + "aa", want: "9f810101aa"},
		{name: "implicit [0] constructed is kept", in: "a080" + "0401aa" + "0000", want: "a0030401aa"},
		{name: "rest is returned", in: "0101ff" + "0500", want: "0101ff", rest: "0500"},
		{name: "truncated", in: "3006020101", err: errBERTruncated},
		{name: "missing end of contents", in: "3080020101", err: errBERTruncated},
		{name: "truncated long length", in: "3082ff", err: errBERTruncated},
		{name: "primitive with indefinite length", in: "0480aa0000"},
		{name: "octet string with a sequence chunk", in: "24803000" + "0000"},
		{name: "length too long", in: "3085ffffffffff"},
		{name: "empty", in: "", err: errBERTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, _ := hex.DecodeString(tt.in)
			out, rest, err := toDER(in)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("toDER(%s) = %x, want an error", tt.in, out)
				}
				if tt.err != nil && !errors.Is(err, tt.err) {
					t.Fatalf("toDER(%s) error = %v, want %v", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("toDER(%s): %v", tt.in, err)
			}
			if got := hex.EncodeToString(out); got != tt.want {
				t.Errorf("toDER(%s) = %s, want %s", tt.in, got, tt.want)
			}
			if got := hex.EncodeToString(rest); got != tt.rest {
				t.Errorf("toDER(%s) rest = %s, want %s", tt.in, got, tt.rest)
			}
		})
	}
}

func TestToDERTooDeep(t *testing.T) {
	t.Parallel()
	in := append(bytes.Repeat([]byte{0x30, 0x80}, berMaxDepth+2), bytes.Repeat([]byte{0, 0}, berMaxDepth+2)...)
	if _, _, err := toDER(in); !errors.Is(err, errBERTooDeep) {
		t.Fatalf("toDER(deep) error = %v, want %v", err, errBERTooDeep)
	}
	ok := append(bytes.Repeat([]byte{0x30, 0x80}, 10), bytes.Repeat([]byte{0, 0}, 10)...)
	if _, _, err := toDER(ok); err != nil {
		t.Fatalf("toDER(10 levels): %v", err)
	}
}

func TestToDERLongContent(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000} {
		data := bytes.Repeat([]byte{0xab}, n)
		ber := berify(t, marshal(t, struct{ A, B []byte }{data, data}))
		got, _, err := toDER(ber)
		if err != nil {
			t.Fatalf("toDER(%d bytes): %v", n, err)
		}
		want := marshal(t, struct{ A, B []byte }{data, data})
		if !bytes.Equal(got, want) {
			t.Fatalf("toDER(berify(%d bytes)) differs from the DER", n)
		}
	}
}

func TestBerifyProducesBER(t *testing.T) {
	t.Parallel()
	pfx := testkit.EncodePFX(t, pkcs12.Modern2023, testkit.RSA2048Key(t), issue(t, leafSpec{key: testkit.RSA2048Key(t)}), nil, "pw")
	ber := berifyDeep(t, pfx, "pw")
	if bytes.Equal(ber, pfx) || !bytes.HasPrefix(ber, []byte{0x30, 0x80}) {
		t.Fatalf("berifyDeep did not produce indefinite lengths: % x", ber[:4])
	}
	if _, err := asn1.Unmarshal(ber, new(pfxPDU)); err == nil || !strings.Contains(err.Error(), "indefinite length") {
		t.Fatalf("encoding/asn1 accepted the BER form (err %v): the BER tests would prove nothing", err)
	}
}
