package connector

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

// uploadBodyTTL is how long a built upload body is kept after its last
// use: as long as the Rotator keeps a bundle for the runs of one tick, so
// that the PFX and its password are held no longer than before.
const uploadBodyTTL = 15 * time.Second

// uploadBodyMax bounds the bodies kept (the Rotator's bundles of a tick
// are shared by many connectors, but few at once).
const uploadBodyMax = 16

// uploadBodies builds each bundle's uploadClientCertificate body once for
// every connector that gets it. The Rotator hands every connector of a
// tick the same PFX slice for one bundle, so a body is found by that
// slice's identity (its first byte's address and its length) and the
// password. Before, every upload base64-encoded the PFX and JSON-encoded
// the result: 70 of the 500 MB a 10,000-connector tick allocated, and 7 KB
// live per upload in flight.
type uploadBodies struct {
	mu      sync.Mutex
	entries []*uploadEntry
	sweep   *time.Timer // drops expired entries when no upload comes
}

type uploadEntry struct {
	pfx      []byte // kept for its identity; never read
	password string
	value    string // the standard base64 of pfx, for redaction
	payload  []byte
	expires  time.Time
}

// get returns the body for pfx and password, and the secrets to scrub
// from errors, building it on first use.
func (u *uploadBodies) get(pfx []byte, password string) ([]byte, []string, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	now := time.Now()
	u.dropExpired(now)
	for _, e := range u.entries {
		if e.same(pfx, password) {
			e.expires = now.Add(uploadBodyTTL)
			return e.payload, []string{e.value, password}, nil
		}
	}
	value := base64.StdEncoding.EncodeToString(pfx)
	payload, err := json.Marshal(uploadBody{PKCS12Value: value, Password: password})
	if err != nil {
		return nil, nil, jobs.Permanent("invalid_request", errors.New("encoding upload body"))
	}
	if len(pfx) == 0 {
		return payload, []string{value, password}, nil
	}
	if len(u.entries) == uploadBodyMax {
		u.entries = u.entries[1:]
	}
	u.entries = append(u.entries, &uploadEntry{pfx: pfx, password: password, value: value, payload: payload, expires: now.Add(uploadBodyTTL)})
	if u.sweep == nil {
		u.sweep = time.AfterFunc(uploadBodyTTL, u.onSweep)
	}
	return payload, []string{value, password}, nil
}

// same reports whether pfx is the very slice this entry was built from.
func (e *uploadEntry) same(pfx []byte, password string) bool {
	return len(pfx) == len(e.pfx) && len(pfx) > 0 && &pfx[0] == &e.pfx[0] && password == e.password
}

func (u *uploadBodies) dropExpired(now time.Time) {
	kept := u.entries[:0]
	for _, e := range u.entries {
		if now.Before(e.expires) {
			kept = append(kept, e)
		}
	}
	clear(u.entries[len(kept):])
	u.entries = kept
}

// onSweep drops what expired and comes back while anything is kept.
func (u *uploadBodies) onSweep() {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.dropExpired(time.Now())
	if len(u.entries) == 0 {
		u.sweep = nil
		return
	}
	u.sweep.Reset(uploadBodyTTL)
}
