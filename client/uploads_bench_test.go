package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

// BenchmarkLastSucceeded measures `status`' pass over the results stream:
// 100 connectors with 200 outcomes each (about 50 days of 6-hourly runs),
// every fourth a success.
func BenchmarkLastSucceeded(b *testing.B) {
	const connectors, perConnector = 100, 200
	s := testkit.NATS(b, "")
	ctx := context.Background()
	js, err := jetstream.New(testkit.Connect(b, s))
	if err != nil {
		b.Fatal(err)
	}
	prefix := contract.SubjectPrefixDefault
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: contract.ResultsStream, Subjects: []string{contract.AllResults(prefix)}}); err != nil {
		b.Fatal(err)
	}
	for i := range perConnector {
		for c := range connectors {
			status := contract.StatusSkipped
			if i%4 == 0 {
				status = contract.StatusSucceeded
			}
			conn := fmt.Sprintf("7b3a0c1e-aaaa-bbbb-cccc-%012d", c)
			o := contract.Outcome{Job: jobName, Connector: conn, Status: status, Final: true,
				Certificate: &jobs.CertInfo{Thumbprint: "8E71A2B4C3D4E5F60718293A4B5C6D7E8F901234", NotAfter: time.Now()}}
			body, _ := json.Marshal(contract.NewEvent("bench", o, time.Now()))
			if _, err := js.PublishAsync(contract.ResultSubject(prefix, jobName, conn), body); err != nil {
				b.Fatal(err)
			}
		}
		<-js.PublishAsyncComplete()
	}
	c, err := client.Dial(ctx, s.ClientURL(), client.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		last, err := c.LastSucceeded(ctx)
		if err != nil || len(last) != connectors {
			b.Fatalf("%d connectors, %v", len(last), err)
		}
	}
	b.ReportMetric(float64(connectors*perConnector), "events/op")
}
