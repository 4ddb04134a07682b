package bundle

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
)

var (
	oidData                = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidEncryptedData       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}
	oidKeyBag              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 1}
	oidPKCS8ShroudedKeyBag = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}
	oidCertBag             = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 3}
)

// The PFX structures of RFC 7292, as far as the structural pass reads them.
type pfxPDU struct {
	Version  int
	AuthSafe contentInfo
	MacData  macData `asn1:"optional"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

type encryptedData struct {
	Version              int
	EncryptedContentInfo encryptedContentInfo
}

type encryptedContentInfo struct {
	ContentType                asn1.ObjectIdentifier
	ContentEncryptionAlgorithm pkix.AlgorithmIdentifier
	EncryptedContent           asn1.RawValue `asn1:"tag:0,optional"`
}

type safeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue `asn1:"tag:0,explicit"`
	Attributes asn1.RawValue `asn1:"optional"`
}

// pfxFile is a PFX as read without its password: enough to tell whether
// go-pkcs12 can decode it as it is, and to rebuild it when it cannot.
type pfxFile struct {
	der       []byte // the file in DER (the input itself when it was DER)
	pdu       pfxPDU
	macked    []byte     // the bytes the file's MAC covers, as written
	items     []safeItem // the authenticated safe, normalized
	changed   bool       // normalizing changed the authenticated safe
	plainKeys int        // key bags outside encrypted items
	// work is the derivation work planned so far (see planWork), and
	// keyCounted whether it includes the key's.
	work       int64
	keyCounted bool
	owner      // the copies of the file's bytes made while reading it

	// macForm is the password form the file's MAC verified with, once
	// macChecked (nil is a form: the empty password as empty bytes).
	macForm    []byte
	macChecked bool
}

// owner collects the buffers a decode fills with bytes of the file (which
// may hold an unencrypted key) or of the password, so that they are zeroed
// once the decode is done rather than left for the garbage collector.
type owner struct{ bufs [][]byte }

// own records b as a buffer to wipe and returns it.
func (o *owner) own(b []byte) []byte {
	o.bufs = append(o.bufs, b)
	return b
}

// wipe zeroes every buffer recorded. Nothing may read them afterwards.
func (o *owner) wipe() {
	for _, b := range o.bufs {
		clear(b)
	}
	o.bufs = nil
}

// safeItem is one ContentInfo of the authenticated safe.
type safeItem struct {
	ci         contentInfo
	bags       []asn1.RawValue // a plaintext item's bags
	encrypted  bool
	alg        pkix.AlgorithmIdentifier // an encrypted item's encryption
	ciphertext []byte                   // an encrypted item's content
}

// hasMAC reports whether the file carries a password MAC.
func (f *pfxFile) hasMAC() bool { return len(f.pdu.MacData.Mac.Algorithm.Algorithm) > 0 }

// parsePFX reads the structure of a PFX, accepting BER, without decrypting
// anything. The caller wipes the result when done; on failure, parsePFX
// has wiped what it copied.
func parsePFX(in []byte) (*pfxFile, *Error) {
	f := &pfxFile{}
	e := f.read(in)
	if e != nil {
		f.wipe()
		return nil, e
	}
	return f, nil
}

// read is parsePFX's work.
func (f *pfxFile) read(in []byte) *Error {
	der, rest, err := toDER(in)
	if err != nil {
		if errors.Is(err, errBERTruncated) {
			return errTruncated(err)
		}
		return errMalformed(err)
	}
	f.own(der)
	if len(rest) > 0 {
		return errMalformed(errors.New("bundle: data follows the PFX"))
	}
	if bytes.Equal(der, in) {
		der = in // keep the caller's bytes: nothing to normalize
	}
	f.der = der
	if err := unmarshalDER(der, &f.pdu); err != nil {
		return errMalformed(fmt.Errorf("bundle: reading PFX: %w", err))
	}
	if e := f.checkOuter(); e != nil {
		return e
	}
	err = unmarshalDER(f.pdu.AuthSafe.Content.Bytes, &f.macked)
	f.own(f.macked) // encoding/asn1 copies into a []byte
	if err != nil {
		return errMalformed(fmt.Errorf("bundle: reading authenticated safe: %w", err))
	}
	if e := f.readSafe(); e != nil {
		return e
	}
	return f.checkWork()
}

// checkOuter rejects PFX forms go-pkcs12 cannot read whatever is done.
func (f *pfxFile) checkOuter() *Error {
	switch {
	case f.pdu.Version != 3:
		return errUnsupported(fmt.Sprintf("PFX version %d", f.pdu.Version), nil)
	case f.pdu.AuthSafe.ContentType.Equal(oidSignedData):
		return errUnsupported("public-key integrity mode (signed data)", nil)
	case !f.pdu.AuthSafe.ContentType.Equal(oidData):
		return errUnsupported("authenticated safe type "+f.pdu.AuthSafe.ContentType.String(), nil)
	}
	return nil
}

// readSafe parses the authenticated safe and each of its items,
// normalizing BER found inside OCTET STRINGs.
func (f *pfxFile) readSafe() *Error {
	safeDER, rest, err := toDER(f.macked)
	f.own(safeDER)
	if err == nil && len(rest) > 0 {
		err = errors.New("bundle: data follows the authenticated safe")
	}
	var cis []contentInfo
	if err == nil {
		err = unmarshalDER(safeDER, &cis)
	}
	if err != nil {
		return errMalformed(fmt.Errorf("bundle: reading authenticated safe: %w", err))
	}
	f.changed = !bytes.Equal(safeDER, f.macked)
	for _, ci := range cis {
		it, changed, e := f.readItem(ci)
		if e != nil {
			return e
		}
		f.changed = f.changed || changed
		f.items = append(f.items, it)
		for _, b := range it.bags {
			if id := bagID(b); id.Equal(oidKeyBag) || id.Equal(oidPKCS8ShroudedKeyBag) {
				f.plainKeys++
			}
		}
	}
	return nil
}

// readItem parses one item of the authenticated safe and reports whether
// normalizing changed it.
func (f *pfxFile) readItem(ci contentInfo) (safeItem, bool, *Error) {
	switch {
	case ci.ContentType.Equal(oidData):
		var data []byte
		err := unmarshalDER(ci.Content.Bytes, &data)
		f.own(data)
		if err != nil {
			return safeItem{}, false, errMalformed(fmt.Errorf("bundle: reading safe contents: %w", err))
		}
		bags, dataDER, err := readBags(data)
		f.own(dataDER)
		if err != nil {
			return safeItem{}, false, errMalformed(fmt.Errorf("bundle: reading safe contents: %w", err))
		}
		if bytes.Equal(dataDER, data) {
			return safeItem{ci: ci, bags: bags}, false, nil
		}
		it, err := plainItem(bags)
		if err != nil {
			return safeItem{}, false, errMalformed(err)
		}
		f.own(it.ci.Content.Bytes)
		return it, true, nil
	case ci.ContentType.Equal(oidEncryptedData):
		return f.readEncrypted(ci)
	}
	return safeItem{}, false, errUnsupported("safe contents of type "+ci.ContentType.String(), nil)
}

// readBags parses SafeContents, which may be BER, into its bags.
func readBags(data []byte) (bags []asn1.RawValue, der []byte, err error) {
	der, rest, err := toDER(data)
	if err == nil && len(rest) > 0 {
		err = errors.New("bundle: data follows the safe contents")
	}
	if err == nil {
		err = unmarshalDER(der, &bags)
	}
	if err != nil {
		return nil, nil, err
	}
	for _, b := range bags {
		var bag safeBag
		if err := unmarshalDER(b.FullBytes, &bag); err != nil {
			return nil, nil, fmt.Errorf("bundle: reading safe bag: %w", err)
		}
	}
	return bags, der, nil
}

// bagID returns the type of a bag readBags accepted.
func bagID(b asn1.RawValue) asn1.ObjectIdentifier {
	var bag safeBag
	_ = unmarshalDER(b.FullBytes, &bag) // readBags already checked it
	return bag.ID
}

// readEncrypted parses an encrypted item; a BER encoder may have split its
// ciphertext ([0] IMPLICIT OCTET STRING) into chunks, which are joined.
func (f *pfxFile) readEncrypted(ci contentInfo) (safeItem, bool, *Error) {
	var ed encryptedData
	if err := unmarshalDER(ci.Content.Bytes, &ed); err != nil {
		return safeItem{}, false, errMalformed(fmt.Errorf("bundle: reading encrypted data: %w", err))
	}
	it := safeItem{ci: ci, encrypted: true, alg: ed.EncryptedContentInfo.ContentEncryptionAlgorithm}
	ct := &ed.EncryptedContentInfo.EncryptedContent
	if !ct.IsCompound {
		it.ciphertext = ct.Bytes
		return it, false, nil
	}
	var joined []byte
	for rest := ct.Bytes; len(rest) > 0; {
		var chunk []byte
		var err error
		if rest, err = asn1.Unmarshal(rest, &chunk); err != nil {
			return safeItem{}, false, errMalformed(fmt.Errorf("bundle: reading encrypted content: %w", err))
		}
		joined = append(joined, chunk...)
		clear(chunk)
	}
	f.own(joined)
	it.ciphertext = joined
	*ct = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: joined}
	content, err := asn1.Marshal(ed)
	f.own(content)
	if err != nil {
		return safeItem{}, false, errMalformed(fmt.Errorf("bundle: writing encrypted data: %w", err))
	}
	it.ci.Content = explicitZero(content)
	return it, true, nil
}

// plainItem builds a plaintext item holding bags.
func plainItem(bags []asn1.RawValue) (safeItem, error) {
	if bags == nil {
		bags = []asn1.RawValue{}
	}
	sc, err := asn1.Marshal(bags)
	if err != nil {
		return safeItem{}, fmt.Errorf("bundle: writing safe contents: %w", err)
	}
	defer clear(sc) // the bags may hold an unencrypted key; octets is a copy
	octets, err := asn1.Marshal(sc)
	if err != nil {
		return safeItem{}, fmt.Errorf("bundle: writing safe contents: %w", err)
	}
	return safeItem{ci: contentInfo{ContentType: oidData, Content: explicitZero(octets)}, bags: bags}, nil
}

// explicitZero wraps an encoded element in a [0] EXPLICIT tag.
func explicitZero(inner []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner}
}

// unmarshalDER is asn1.Unmarshal that also rejects trailing data.
func unmarshalDER(in []byte, out any) error {
	rest, err := asn1.Unmarshal(in, out)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errors.New("bundle: trailing data after ASN.1 value")
	}
	return nil
}
