package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// requestBody is a request as `certrotator rotate` publishes it: every
// field a person sets, two connectors named.
var requestBody = []byte(`{"job":"contoso-b2c","connectors":["7b3a0c1e-0000-4000-8000-000000000001",` +
	`"7b3a0c1e-0000-4000-8000-000000000002"],"force":false,"reason":"quarterly rotation",` +
	`"requested_by":"alice@contoso.example","trigger":"event","version":3}`)

// decodeRequest decodes a request body the way the worker's decodeStrict
// does (unexported there): unknown fields refused, trailing data refused.
// The worker decodes every message it fetches, so this is per request.
func decodeRequest(data []byte, req *jobs.Request) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil {
		return err
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// BenchmarkRequestDecode measures the strict decoding of one request.
func BenchmarkRequestDecode(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(requestBody)))
	for b.Loop() {
		var req jobs.Request
		if err := decodeRequest(requestBody, &req); err != nil {
			b.Fatal(err)
		}
		if req.Version != 3 || len(req.Connectors) != 2 {
			b.Fatalf("decoded %+v", req)
		}
	}
}

// succeededOutcome is the most common outcome of a fleet run: an upload,
// with the certificate put in place and the one it replaced.
func succeededOutcome() jobs.Outcome {
	nb := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	return jobs.Outcome{
		Job: "contoso-b2c", Tenant: "contoso", Connector: "7b3a0c1e-0000-4000-8000-000000000001",
		RequestID: "fleet-contoso-b2c", Trigger: contract.TriggerEvent, RequestReason: "quarterly rotation",
		RequestedBy: "alice@contoso.example", Status: contract.StatusSucceeded,
		Certificate: &jobs.CertInfo{Thumbprint: "0123456789ABCDEF0123456789ABCDEF01234567", Subject: "CN=api.contoso.example",
			NotBefore: nb, NotAfter: nb.AddDate(0, 3, 0), SourceVersion: 3},
		Previous: &jobs.CertInfo{Thumbprint: "89ABCDEF0123456789ABCDEF0123456789ABCDEF", Subject: "CN=api.contoso.example",
			NotBefore: nb.AddDate(0, -3, 0), NotAfter: nb.AddDate(0, 0, 2)},
		Attempt: 1, Final: true, DurationMS: 162,
	}
}

// BenchmarkOutcomeEncode measures building one outcome's CloudEvent and
// marshalling it: the worker does both for every connector of every run.
func BenchmarkOutcomeEncode(b *testing.B) {
	o := succeededOutcome()
	now := time.Now()
	b.ReportAllocs()
	var n int
	for b.Loop() {
		data, err := json.Marshal(contract.NewEvent("bench", o, now))
		if err != nil {
			b.Fatal(err)
		}
		n = len(data)
	}
	b.SetBytes(int64(n))
	if n == 0 {
		b.Fatal("empty event")
	}
}
