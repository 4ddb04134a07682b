package graphsim

import (
	"crypto/sha256"
	"sync"
	"sync/atomic"
)

// pfxCacheMax bounds the verdicts kept: a benchmark uploads a handful of
// distinct bundles; past this many the cache starts afresh rather than grow.
const pfxCacheMax = 1024

// pfxCache remembers the verdict of each distinct (pkcs12Value, password)
// of uploadClientCertificate, keyed by a SHA-256 of the two (never the
// bytes or the password themselves), once SetPFXCache turned it on.
type pfxCache struct {
	mu       sync.Mutex
	on       bool
	verdicts map[[sha256.Size]byte]pfxVerdict
	decodes  int // real decodes by uploadClientCertificate
	conns    atomic.Int64
}

type pfxVerdict struct {
	cert Cert
	rej  *pfxRejection
}

// SetPFXCache turns on (or off, the default) a benchmark mode in which
// uploadClientCertificate decodes each distinct PFX and password once and
// answers later uploads of the same pair with the first verdict. The first
// upload of a pair is a real decode with B2C's rules, so what is accepted
// and refused does not change; what goes is the emulator's own CPU (the
// SHA-1/3DES key derivation of every upload), which would otherwise
// dominate a benchmark of thousands of uploads of a few bundles. PATCH
// always decodes. Turning it off drops what it holds.
func (s *Server) SetPFXCache(on bool) {
	s.pfx.mu.Lock()
	defer s.pfx.mu.Unlock()
	s.pfx.on = on
	s.pfx.verdicts = nil
}

// PFXDecodes returns how many PFX files uploadClientCertificate decoded;
// with SetPFXCache, uploads answered from the cache are not counted.
func (s *Server) PFXDecodes() int {
	s.pfx.mu.Lock()
	defer s.pfx.mu.Unlock()
	return s.pfx.decodes
}

// Connections returns how many client connections the server has
// accepted, so that a benchmark can tell connection reuse (a few, with
// keep-alive or HTTP/2) from a handshake per call.
func (s *Server) Connections() int64 { return s.pfx.conns.Load() }

// decodeUploadCached is decodeUpload through the cache when it is on.
func (s *Server) decodeUploadCached(value, password string) (Cert, *pfxRejection) {
	s.pfx.mu.Lock()
	on := s.pfx.on
	var key [sha256.Size]byte
	if on {
		h := sha256.New()
		h.Write([]byte(value))
		h.Write([]byte{0}) // base64 holds no NUL: the pair is unambiguous
		h.Write([]byte(password))
		h.Sum(key[:0])
		if v, ok := s.pfx.verdicts[key]; ok {
			s.pfx.mu.Unlock()
			return v.cert, v.rej
		}
	}
	s.pfx.decodes++
	s.pfx.mu.Unlock()

	cert, rej := decodeUpload(value, password)
	if on {
		s.pfx.mu.Lock()
		if s.pfx.on {
			if s.pfx.verdicts == nil || len(s.pfx.verdicts) >= pfxCacheMax {
				s.pfx.verdicts = map[[sha256.Size]byte]pfxVerdict{}
			}
			s.pfx.verdicts[key] = pfxVerdict{cert: cert, rej: rej}
		}
		s.pfx.mu.Unlock()
	}
	return cert, rej
}

// WithHTTP2 makes the server offer HTTP/2 in TLS's ALPN besides HTTP/1.1,
// as Graph's front ends do, so that a client keeps one connection for
// every call in flight instead of one per call. The emulator's default is
// HTTP/1.1 only (each concurrent call its own connection, as some front
// ends do); benchmarks that measure the client, not TLS handshakes, turn
// this on. It panics after Start.
func (s *Server) WithHTTP2() *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustNotBeStarted("WithHTTP2")
	s.http2 = true
	return s
}
