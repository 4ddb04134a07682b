package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

// maxErrorText is what issue 8 calls bounded: a few hundred bytes.
const maxErrorText = 512

// TestFaultHostileRequests: requests crafted to hurt (a 200 KB connector
// id, unknown fields, wrong types, garbage) each get exactly one final
// bad_request outcome that names no connector, quotes none of the input and
// stays small; no connector of the job is failed and nothing is uploaded. A
// valid request with a 60 KB Msg-Id runs under its stream sequence instead
// ("seq-N"), and the events never carry the huge id.
func TestFaultHostileRequests(t *testing.T) {
	t.Parallel()
	fs := setupFaults(t)
	fs.put(t, "b2c/hostile", validFor(t, 60*24*time.Hour, "p4ss-hostile"))
	j := job("b2c/hostile", connectorIDs...)
	f := fs.runWorker(t, "w-hostile", j)

	hugeID := strings.Repeat("7", 200_000)
	type hostile struct {
		msgID, body, marker string
	}
	cases := map[string]hostile{
		"huge connector id": {"hostile-conn", `{"job":"contoso-api","connectors":["` + hugeID + `"]}`, hugeID[:64]},
		"unknown field":     {"hostile-unknown", `{"job":"contoso-api","pfx":"SECRETSECRETSECRET"}`, "SECRETSECRETSECRET"},
		"wrong type":        {"hostile-type", `{"job":"contoso-api","force":"WRONGTYPEVALUE"}`, "WRONGTYPEVALUE"},
		"wrong type array":  {"hostile-array", `{"job":["contoso-api"],"connectors":{"a":1}}`, `"a":1`},
		"not json":          {"hostile-garbage", "\x00\xff" + strings.Repeat("{", 10_000), strings.Repeat("{", 64)},
	}
	for _, c := range cases {
		f.publish(t, j.Name, c.msgID, c.body)
	}
	for name, c := range cases {
		id := c.msgID
		fin := finals(t, f.ev, id)
		if len(fin) != 1 {
			t.Errorf("%s: %d final outcomes, want 1", name, len(fin))
			continue
		}
		o := fin[0]
		if o.Status != contract.StatusFailed || code(o) != contract.CodeBadRequest || o.Connector != "" {
			t.Errorf("%s: outcome %s code %s connector %q, want failed bad_request for no connector", name, o.Status, code(o), o.Connector)
		}
		if o.Error != nil && len(o.Error.Message) > maxErrorText {
			t.Errorf("%s: error text of %d bytes, want at most %d", name, len(o.Error.Message), maxErrorText)
		}
		raw, _ := json.Marshal(f.ev.Of(id))
		if strings.Contains(string(raw), c.marker) {
			t.Errorf("%s: the outcome quotes the input", name)
		}
		if len(raw) > 4<<10 {
			t.Errorf("%s: %d bytes of events for one bad request", name, len(raw))
		}
	}
	for _, ev := range f.ev.All() {
		if ev.Data.Connector != "" {
			t.Errorf("a hostile request produced an outcome for connector %s", ev.Data.Connector)
		}
	}
	if got := fs.uploads(connectorIDs[0]); len(got) != 0 {
		t.Errorf("uploads %v for hostile requests", got)
	}

	hugeMsgID := strings.Repeat("m", 60_000)
	seq := f.publishAck(t, j.Name, hugeMsgID, []byte(`{"job":"contoso-api"}`)).Sequence
	id := fmt.Sprintf("seq-%d", seq)
	fin := finalsN(t, f.ev, id, len(connectorIDs))
	if len(fin) != len(connectorIDs) {
		t.Errorf("huge Msg-Id: %d final outcomes, want one per connector", len(fin))
	}
	for _, o := range fin {
		if o.Status != contract.StatusSucceeded {
			t.Errorf("huge Msg-Id: connector %s %s, want succeeded", o.Connector, o.Status)
		}
	}
	raw, _ := json.Marshal(f.ev.Of(id))
	if strings.Contains(string(raw), hugeMsgID[:64]) {
		t.Error("huge Msg-Id: the events carry it")
	}
}

// hostileKDF returns a PFX whose key bag and certificate section ask for
// 8,388,607 key-derivation rounds (8 times bundle.KDFIterationsMax, about
// 7 s each on one core): encoded with 65536 rounds, then the 3-byte
// iteration counts of both bags rewritten in place, so the DER lengths do
// not move. The MAC keeps its count and no longer matches, which does not
// matter: the file must be refused before anything is derived.
func hostileKDF(t *testing.T) testkit.Bundle {
	t.Helper()
	b := bundleFrom(t, -time.Hour, 60*24*time.Hour, testkit.BundleSpec{Password: "p4ss-kdf", Encoder: pkcs12.LegacyDES.WithIterations(1 << 16)})
	count := []byte{0x02, 0x03, 0x01, 0x00, 0x00} // INTEGER 65536
	if n := bytes.Count(b.PFX, count); n < 3 {
		t.Fatalf("found %d iteration counts to rewrite, want the key bag's, the section's and the MAC's", n)
	}
	last := bytes.LastIndex(b.PFX, count) // the MAC's, at the end
	head := bytes.ReplaceAll(b.PFX[:last], count, []byte{0x02, 0x03, 0x7f, 0xff, 0xff})
	b.PFX = append(head, b.PFX[last:]...)
	return b
}

// TestFaultHostileBundles: a bundle asking for a costly key derivation and
// one over the size cap are refused as permanent bundle failures with the
// code that says why (the KDF code is only given before any derivation;
// BenchmarkDecodeHostileKDF in bundle/ measures the cost), and nothing is
// uploaded.
func TestFaultHostileBundles(t *testing.T) {
	t.Parallel()
	fs := setupFaults(t)
	fs.put(t, "b2c/kdf", hostileKDF(t))
	big := append(validFor(t, 60*24*time.Hour, "p4ss-big").PFX, make([]byte, bundle.SizeMax)...)
	fs.vault.PutBundle(t, mount, "b2c/big", big, "p4ss-big")
	for _, c := range []struct {
		path string
		want bundle.Code
	}{{"b2c/kdf", bundle.CodeKDFIterations}, {"b2c/big", bundle.CodeTooLarge}} {
		start := time.Now()
		out := fs.rotateFirst(t, job(c.path, connectorIDs[0]), jobs.Request{ID: "hostile-" + c.path})
		took := time.Since(start)
		if out.Status != contract.StatusFailed || code(out) != string(c.want) || out.Error.Class != jobs.ClassPermanent {
			t.Errorf("%s: outcome %s code %s, want a permanent %s", c.path, out.Status, code(out), c.want)
		}
		t.Logf("%s refused in %s", c.path, took.Round(time.Millisecond))
	}
	if got := fs.uploads(connectorIDs[0]); len(got) != 0 {
		t.Errorf("uploads %v of hostile bundles", got)
	}
}
