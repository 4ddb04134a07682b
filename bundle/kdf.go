package bundle

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// KDFIterationsMax is the most key-derivation iterations Decode lets any
// one derivation of a file ask for: the MAC's, each encrypted section's and
// the private key's. A file is read in clear text, so whoever writes it
// chooses these counts, and each derivation costs time linear in its count
// before the password is even known to be right.
//
// Real exports stay far below: OpenSSL 3 writes 2048, Windows 2000 to
// 10000, Java 10000, and the highest current advice (OWASP 2023: 600,000
// for PBKDF2-HMAC-SHA256) fits too; the MAC had this cap already. One
// derivation at the cap costs 0.3 to 0.6 s on one shared core
// (BenchmarkKDFAtCap). A file makes a bounded number of them: the MAC
// (twice for an empty password), at most two encrypted sections (each
// twice: checkSections, then go-pkcs12) and one key, PBES1 deriving key
// and IV apart. So a file at the cap costs seconds, once per run, where an
// uncapped one cost minutes; over the cap, Decode refuses it in
// microseconds, before deriving anything (BenchmarkDecodeHostileKDF).
const KDFIterationsMax = 1 << 20

// KDFWorkMax is the most key-derivation iterations Decode spends on one
// file in total: the sum, over every derivation it and go-pkcs12 run, of
// that derivation's count. KDFIterationsMax alone let a file just under it
// in every place cost about seven derivations (3 to 5 s of CPU) per decode.
//
// A file written with OWASP's 600,000 PBKDF2 iterations everywhere (MAC,
// certificate section, key) plans 3,000,000 and fits; real exports at
// 2048 or 10000 plan well under 100,000. At the cap a decode costs about
// three derivations at KDFIterationsMax (BenchmarkDecodeAtWorkCap). The
// plan is made before any derivation, except for keys inside encrypted
// sections, which are counted once their section is decrypted and before
// go-pkcs12 derives them.
const KDFWorkMax = 3 << 20

// Password-based encryption algorithms whose key derivation go-pkcs12 runs
// (RFC 7292 appendix C, RFC 8018 appendix A.4). Other algorithms are
// refused by go-pkcs12 before any derivation.
var (
	oidPBEWithSHAAnd3KeyTripleDESCBC = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 3}
	oidPBEWithSHAAnd128BitRC2CBC     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 5}
	oidPBEWithSHAAnd40BitRC2CBC      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 1, 6}
	oidPBES2                         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
)

// pbeParams are the parameters of a PKCS#12 PBES1 algorithm.
type pbeParams struct {
	Salt       []byte
	Iterations int
}

// pbes2Params are the parameters of PBES2 (RFC 8018 appendix A.4).
type pbes2Params struct {
	KDF    pkix.AlgorithmIdentifier
	Scheme pkix.AlgorithmIdentifier
}

// pbkdf2Count is PBKDF2-params with the salt left raw: go-pkcs12 accepts
// only an OCTET STRING salt, but refuses others only after reading the
// count, so the count is what matters here.
type pbkdf2Count struct {
	Salt       asn1.RawValue
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

// pbeDerivations is how many derivations decrypting with alg runs: PBES1
// derives the key and the IV apart, PBES2 derives the key once (its IV is
// in the parameters).
func pbeDerivations(alg pkix.AlgorithmIdentifier) int64 {
	if alg.Algorithm.Equal(oidPBES2) {
		return 1
	}
	return 2
}

// workCost is the derivation work of decrypting once with alg: 0 for an
// algorithm go-pkcs12 refuses before deriving (checkWork read the counts).
func workCost(alg pkix.AlgorithmIdentifier) int64 {
	n, known, err := pbeIterations(alg)
	if err != nil || !known {
		return 0
	}
	return int64(n) * pbeDerivations(alg)
}

// planWork sums the derivation work a decode of f with password runs, as
// far as it shows without the password: the MAC (verified here and again
// by go-pkcs12, each time with both forms of the empty password), each
// encrypted section (decrypted by checkSections and again by go-pkcs12)
// and the first shrouded key in a plain item (go-pkcs12 derives one key).
// It refuses a plan over KDFWorkMax before anything is derived.
func (f *pfxFile) planWork(password string) *Error {
	var w int64
	if f.hasMAC() {
		n, err := macIterations(&f.pdu.MacData)
		if err != nil {
			return errMalformed(fmt.Errorf("bundle: reading MAC parameters: %w", err))
		}
		forms := int64(1)
		if password == "" {
			forms = 2
		}
		w += 2 * forms * int64(n)
	}
	for _, it := range f.items {
		switch {
		case it.encrypted:
			w += 2 * workCost(it.alg)
		case !f.keyCounted:
			if c, ok := firstKeyCost(it.bags); ok {
				w += c
				f.keyCounted = true
			}
		}
	}
	f.work = w
	return f.checkTotal()
}

// addKeyWork counts the first shrouded key of bags found in a decrypted
// section, unless a key was counted already, and checks the total.
func (f *pfxFile) addKeyWork(bags []asn1.RawValue) *Error {
	if f.keyCounted {
		return nil
	}
	if c, ok := firstKeyCost(bags); ok {
		f.work += c
		f.keyCounted = true
	}
	return f.checkTotal()
}

// checkTotal refuses a file whose planned work is over KDFWorkMax.
func (f *pfxFile) checkTotal() *Error {
	if f.work > KDFWorkMax {
		return errKDFWork(f.work)
	}
	return nil
}

// firstKeyCost is the derivation work of the first shrouded key bag in
// bags, and whether there is one.
func firstKeyCost(bags []asn1.RawValue) (int64, bool) {
	for _, b := range bags {
		var bag safeBag
		if err := unmarshalDER(b.FullBytes, &bag); err != nil || !bag.ID.Equal(oidPKCS8ShroudedKeyBag) {
			continue
		}
		var epki struct {
			Algorithm pkix.AlgorithmIdentifier
			Data      []byte
		}
		if err := unmarshalDER(bag.Value.Bytes, &epki); err != nil {
			return 0, false // checkBags refuses it
		}
		return workCost(epki.Algorithm), true
	}
	return 0, false
}

// checkWork refuses, before any key derivation runs, a file that asks for
// more than KDFIterationsMax iterations in any derivation go-pkcs12 would
// run on it: the MAC, an encrypted section, a shrouded key bag found in
// plain text. checkSections checks the key bags inside encrypted sections
// once the password is at hand.
func (f *pfxFile) checkWork() *Error {
	if f.hasMAC() {
		n, err := macIterations(&f.pdu.MacData)
		if err != nil {
			return errMalformed(fmt.Errorf("bundle: reading MAC parameters: %w", err))
		}
		if e := checkIterations(n, "its MAC"); e != nil {
			return e
		}
	}
	for _, it := range f.items {
		if it.encrypted {
			if e := checkAlgorithm(it.alg, "an encrypted section"); e != nil {
				return e
			}
		}
		if e := checkBags(it.bags); e != nil {
			return e
		}
	}
	return nil
}

// checkBags checks the encryption of every shrouded key bag in bags.
func checkBags(bags []asn1.RawValue) *Error {
	for _, b := range bags {
		var bag safeBag
		if err := unmarshalDER(b.FullBytes, &bag); err != nil || !bag.ID.Equal(oidPKCS8ShroudedKeyBag) {
			continue // readBags checked the bag; only shrouded keys derive
		}
		var epki struct {
			Algorithm pkix.AlgorithmIdentifier
			Data      []byte
		}
		if err := unmarshalDER(bag.Value.Bytes, &epki); err != nil {
			return errMalformed(fmt.Errorf("bundle: reading shrouded key bag: %w", err))
		}
		if e := checkAlgorithm(epki.Algorithm, "its private key"); e != nil {
			return e
		}
	}
	return nil
}

// checkAlgorithm checks the iteration count of a password-based encryption
// algorithm; what names what it protects, for the message.
func checkAlgorithm(alg pkix.AlgorithmIdentifier, what string) *Error {
	n, known, err := pbeIterations(alg)
	if err != nil {
		return errMalformed(fmt.Errorf("bundle: reading the encryption parameters of %s: %w", what, err))
	}
	if !known {
		return nil // go-pkcs12 refuses it before deriving anything
	}
	return checkIterations(n, what)
}

// checkIterations refuses a count over KDFIterationsMax, or under one
// (which no encoder writes and RFC 8018 forbids).
func checkIterations(n int, what string) *Error {
	switch {
	case n > KDFIterationsMax:
		return errKDFIterations(n, what)
	case n < 1:
		return errMalformed(fmt.Errorf("bundle: %s asks for %d key-derivation iterations", what, n))
	}
	return nil
}

// pbeIterations returns the iteration count alg asks for; known is false
// for an algorithm go-pkcs12 does not derive keys for.
func pbeIterations(alg pkix.AlgorithmIdentifier) (n int, known bool, err error) {
	switch {
	case alg.Algorithm.Equal(oidPBEWithSHAAnd3KeyTripleDESCBC),
		alg.Algorithm.Equal(oidPBEWithSHAAnd128BitRC2CBC),
		alg.Algorithm.Equal(oidPBEWithSHAAnd40BitRC2CBC):
		var p pbeParams
		if err := unmarshalDER(alg.Parameters.FullBytes, &p); err != nil {
			return 0, true, err
		}
		return p.Iterations, true, nil
	case alg.Algorithm.Equal(oidPBES2):
		var p pbes2Params
		if err := unmarshalDER(alg.Parameters.FullBytes, &p); err != nil {
			return 0, true, err
		}
		return pbkdf2Iterations(p.KDF)
	}
	return 0, false, nil
}

// pbkdf2Iterations returns the iteration count of a PBKDF2 algorithm
// identifier; known is false for another KDF.
func pbkdf2Iterations(kdf pkix.AlgorithmIdentifier) (n int, known bool, err error) {
	if !kdf.Algorithm.Equal(oidPBKDF2) {
		return 0, false, nil
	}
	var p pbkdf2Count
	if err := unmarshalDER(kdf.Parameters.FullBytes, &p); err != nil {
		return 0, true, err
	}
	return p.Iterations, true, nil
}

// macIterations returns the iteration count of a file's MAC: the MacData
// count for a classic MAC, the PBKDF2 count for PBMAC1 (RFC 9579), which
// ignores the former.
func macIterations(m *macData) (int, error) {
	if !m.Mac.Algorithm.Algorithm.Equal(oidPBMAC1) {
		return m.Iterations, nil
	}
	var p pbmac1Params
	if err := unmarshalDER(m.Mac.Algorithm.Parameters.FullBytes, &p); err != nil {
		return 0, err
	}
	n, known, err := pbkdf2Iterations(p.KDF)
	if err != nil || !known {
		return 1, err // an unknown KDF: go-pkcs12 refuses it before deriving
	}
	return n, nil
}
