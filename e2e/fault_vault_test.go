package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc"
)

// waitFailure waits for a non-final failed event of the request with the
// given code ("" for any): the worker published the attempt.
func waitFailure(t *testing.T, c *workertest.Events, requestID, code string) jobs.Outcome {
	t.Helper()
	return waitFor(t, c, requestID, "failed "+code, func(ev contract.Event) bool {
		return ev.Data.Status == contract.StatusFailed && ev.Data.Error != nil && (code == "" || ev.Data.Error.Code == code)
	}).Data
}

// TestFaultVaultDown: Vault refusing connections when the worker starts,
// and again in the middle of its life, fails the attempt as transient
// (nothing uploaded, the request retried) and the retry after Vault is back
// uploads the bundle once.
func TestFaultVaultDown(t *testing.T) {
	t.Parallel()
	fs := setupFaults(t)
	b1 := fs.put(t, "b2c/vdown", validFor(t, 60*24*time.Hour, "p4ss-vdown-1"))
	fs.vaultLink.Down()
	j := job("b2c/vdown", connectorIDs[0])
	f := fs.runWorker(t, "w-vdown", j)

	for i, b := range []struct {
		id   string
		want string
	}{{"vdown-at-start", b1.Thumbprint}, {"vdown-mid-run", ""}} {
		if i == 1 {
			b.want = fs.put(t, "b2c/vdown", validFor(t, 90*24*time.Hour, "p4ss-vdown-2")).Thumbprint
			fs.vaultLink.Down()
		}
		f.publish(t, j.Name, b.id, `{"job":"contoso-api"}`)
		fail := waitFailure(t, f.ev, b.id, vaultsrc.CodeUnavailable)
		if fail.Final || fail.Error.Class != jobs.ClassTransient {
			t.Errorf("%s: Vault down gave final=%v class %s, want a transient, retried failure", b.id, fail.Final, fail.Error.Class)
		}
		if n := len(fs.uploads(connectorIDs[0])); n != i {
			t.Errorf("%s: %d uploads while Vault was down, want %d", b.id, n, i)
		}
		fs.vaultLink.Up()
		fin := finals(t, f.ev, b.id)
		if len(fin) != 1 || fin[0].Status != contract.StatusSucceeded || fin[0].Attempt < 2 {
			t.Fatalf("%s: final outcomes %+v, want one succeeded on a later attempt", b.id, fin)
		}
		if got := fs.active(t, connectorIDs[0]); got != b.want {
			t.Errorf("%s: active %s, want %s", b.id, got, b.want)
		}
	}
	if n := len(fs.uploads(connectorIDs[0])); n != 2 {
		t.Errorf("%d uploads in all, want 2 (one per bundle)", n)
	}
}

// TestFaultVaultSealed: a sealed Vault is a transient failure on every
// attempt, final on the last; nothing is uploaded.
func TestFaultVaultSealed(t *testing.T) {
	t.Parallel()
	fs := setupFaults(t)
	fs.put(t, "b2c/sealed", validFor(t, 60*24*time.Hour, "p4ss-sealed"))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := fs.vault.Client(t).Sys().SealWithContext(ctx); err != nil {
		t.Fatalf("sealing vault: %v", err)
	}
	j := job("b2c/sealed", connectorIDs[0])
	j.MaxAttempts = 2
	f := fs.runWorker(t, "w-sealed", j)
	f.publish(t, j.Name, "sealed-1", `{"job":"contoso-api"}`)
	first := waitFailure(t, f.ev, "sealed-1", vaultsrc.CodeUnavailable)
	fin := finals(t, f.ev, "sealed-1")
	if first.Error.Class != jobs.ClassTransient {
		t.Errorf("sealed: class %s, want transient", first.Error.Class)
	}
	if len(fin) != 1 || fin[0].Status != contract.StatusFailed || fin[0].Attempt != 2 || code(fin[0]) != vaultsrc.CodeUnavailable {
		t.Errorf("sealed: finals %+v, want one failed %s on attempt 2", fin, vaultsrc.CodeUnavailable)
	}
	if n := len(fs.uploads(connectorIDs[0])); n != 0 {
		t.Errorf("%d uploads from a sealed Vault", n)
	}
}
