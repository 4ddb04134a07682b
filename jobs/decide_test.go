package jobs

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
)

func TestDue(t *testing.T) {
	t.Parallel()
	nb, na := testNow.Add(-60*day), testNow.Add(40*day) // 100-day lifetime
	for _, tc := range []struct {
		rb   RenewBefore
		now  time.Time
		want bool
	}{
		{RenewBefore{Duration: 30 * day}, testNow, false},
		{RenewBefore{Duration: 30 * day}, na.Add(-30 * day), true}, // the window's first instant
		{RenewBefore{Duration: 30 * day}, na.Add(-30*day - time.Second), false},
		{RenewBefore{}, na.Add(-RenewBeforeDefault), true},
		{RenewBefore{Fraction: 0.5}, testNow, true},
		{RenewBefore{Fraction: 0.25}, testNow, false},
		{RenewBefore{Fraction: 0.25}, na.Add(-25 * day), true},
	} {
		if got := due(Certificate{NotBefore: nb, NotAfter: na}, tc.rb, tc.now); got != tc.want {
			t.Errorf("due(%+v at %s) = %v, want %v", tc.rb, tc.now, got, tc.want)
		}
	}
}

func TestCrossed(t *testing.T) {
	t.Parallel()
	th := WarnBeforeDefault()
	for _, tc := range []struct {
		left time.Duration
		want string
	}{
		{31 * day, ""},
		{30 * day, "30d"},
		{20 * day, "30d"},
		{14 * day, "14d"},
		{2 * day, "7d"},
		{time.Hour, "1d"},
		{-time.Hour, "1d"},
	} {
		got, ok := crossed(tc.left, th)
		if (tc.want == "") == ok || (ok && FormatThreshold(got) != tc.want) {
			t.Errorf("crossed(%s) = %s, %v; want %q", tc.left, got, ok, tc.want)
		}
	}
}

func TestFormatThresholdAndDaysLeft(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{7 * day: "7d", 36 * time.Hour: "36h", 90 * time.Minute: "1h30m0s"} {
		if got := FormatThreshold(d); got != want {
			t.Errorf("FormatThreshold(%s) = %q, want %q", d, got, want)
		}
	}
	for left, want := range map[time.Duration]int{47 * time.Hour: 1, 48 * time.Hour: 2, 0: 0, -time.Hour: -1} {
		if got := daysLeft(left); got != want {
			t.Errorf("daysLeft(%s) = %d, want %d", left, got, want)
		}
	}
	if got := WarningKey("j", "c", "ab12", "7d"); got != "j.c.AB12.7d" {
		t.Errorf("WarningKey = %q", got)
	}
}

// BenchmarkRotate runs a job with 10 connectors against in-memory fakes that
// accept every upload, so that it measures the pipeline: one fetch, decode,
// validate and (sub-benchmark reencode) SHA1/3DES re-encode per run, then 10
// reads, decisions, uploads and verifications.
func BenchmarkRotate(b *testing.B) {
	for _, reencode := range []bool{false, true} {
		name := "plain"
		if reencode {
			name = "reencode"
		}
		b.Run(name, func(b *testing.B) {
			tb := validBundle(b)
			job := testJob(10)
			job.Reencode = reencode
			uploaded := ConnectorState{Certificates: []Certificate{{Thumbprint: tb.Thumbprint, NotBefore: tb.NotBefore, NotAfter: tb.NotAfter, IsActive: true}}}
			c := fakeConnector{
				GetFunc: func(context.Context, string, string) (ConnectorState, error) {
					return ConnectorState{Certificates: []Certificate{oldCert}}, nil
				},
				UploadFunc: func(context.Context, string, string, []byte, string) (ConnectorState, error) { return uploaded, nil },
			}
			r := newTestRotator(b, sourceOf(materialOf(tb, 1)), c, nil)
			req := Request{Job: job.Name}
			b.ReportAllocs()
			for b.Loop() {
				if out := r.Rotate(context.Background(), job, req); out[9].Status != contract.StatusSucceeded {
					b.Fatalf("outcome = %+v", out[9])
				}
			}
		})
	}
}

func TestSelectConnectorsRunsEachOnce(t *testing.T) {
	t.Parallel()
	job := testJob(2)
	job.Connectors = append(job.Connectors, job.Connectors[0])
	refs, err := selectConnectors(job, Request{Connectors: []string{strings.ToUpper(conn1), conn1}})
	if err != nil || len(refs) != 1 || refs[0].ID != conn1 {
		t.Errorf("selectConnectors = %+v, %v; want %s once", refs, err, conn1)
	}
	if refs, _ := selectConnectors(job, Request{}); len(refs) != 2 {
		t.Errorf("without narrowing: %d connectors, want the job's 2 distinct ones", len(refs))
	}
}

// TestHasPrefersActiveDuplicate: after a rollback Graph lists the same
// thumbprint twice, once inactive (the old upload) and once active.
func TestHasPrefersActiveDuplicate(t *testing.T) {
	t.Parallel()
	st := ConnectorState{Certificates: []Certificate{
		{Thumbprint: "AA", IsActive: false},
		{Thumbprint: "BB", IsActive: false},
		{Thumbprint: "aa", IsActive: true},
	}}
	c, ok := st.Has("AA")
	if !ok || !c.IsActive {
		t.Fatalf("Has(AA) = %+v, %v; want the active duplicate", c, ok)
	}
	if _, ok := st.Has("CC"); ok {
		t.Fatal("Has(CC) = true for a missing thumbprint")
	}
}
