package bundle

import (
	"encoding/asn1"
	"fmt"
)

// decoderInput returns the bytes to hand to go-pkcs12: the file itself (in
// DER) when the decoder can read it as it is, or a rebuilt copy. A rebuild
// is needed when normalizing BER changed the bytes the MAC covers, when the
// authenticated safe has more than the two items the decoder accepts, or
// when a password was given for a file without a MAC (the decoder then
// refuses to decrypt). A rebuilt copy carries a fresh MAC, so the file's
// own MAC is verified here first: a wrong password is still reported as
// such.
func (f *pfxFile) decoderInput(password string) ([]byte, *Error) {
	switch {
	case f.plainKeys > 1:
		return nil, errManyKeys()
	case len(f.items) == 0:
		return nil, errNothing(nil)
	case !f.changed && len(f.items) <= 2 && (f.hasMAC() || password == ""):
		return f.der, nil
	}
	return f.rebuild(password)
}

// rebuild writes the normalized, merged file with a hand-off MAC.
func (f *pfxFile) rebuild(password string) ([]byte, *Error) {
	items, e := f.mergedItems()
	if e != nil {
		return nil, e
	}
	safe, err := asn1.Marshal(items)
	f.own(safe)
	if err != nil {
		return nil, errMalformed(fmt.Errorf("bundle: writing authenticated safe: %w", err))
	}
	octets, err := asn1.Marshal(safe)
	f.own(octets)
	if err != nil {
		return nil, errMalformed(fmt.Errorf("bundle: writing authenticated safe: %w", err))
	}
	pdu := pfxPDU{Version: 3, AuthSafe: contentInfo{ContentType: oidData, Content: explicitZero(octets)}}
	switch {
	case f.hasMAC():
		form, e := f.verifyPassword(password)
		if e != nil {
			return nil, e
		}
		pdu.MacData = handoffMAC(safe, form)
	case password != "":
		form, _ := encodeBMP(password) // Decode checked the password encodes
		pdu.MacData = handoffMAC(safe, f.own(form))
	}
	out, err := asn1.Marshal(pdu)
	f.own(out)
	if err != nil {
		return nil, errMalformed(fmt.Errorf("bundle: writing PFX: %w", err))
	}
	return out, nil
}

// mergedItems returns the authenticated safe with at most two items, as
// go-pkcs12 requires: the encrypted items as they are, then every
// plaintext bag in one item. Encrypted items cannot be merged without
// decrypting them, so a file with more than two is not supported.
func (f *pfxFile) mergedItems() ([]contentInfo, *Error) {
	if len(f.items) <= 2 {
		cis := make([]contentInfo, len(f.items))
		for i, it := range f.items {
			cis[i] = it.ci
		}
		return cis, nil
	}
	var cis []contentInfo
	var bags []asn1.RawValue
	for _, it := range f.items {
		if it.encrypted {
			cis = append(cis, it.ci)
		} else {
			bags = append(bags, it.bags...)
		}
	}
	if len(cis) > 2 || len(cis) == 2 && len(bags) > 0 {
		return nil, errUnsupported(fmt.Sprintf("%d separately encrypted sections", len(cis)), nil)
	}
	if len(bags) > 0 || len(cis) == 0 {
		it, err := plainItem(bags)
		if err != nil {
			return nil, errMalformed(err)
		}
		cis = append(cis, it.ci)
		f.own(it.ci.Content.Bytes)
	}
	return cis, nil
}
