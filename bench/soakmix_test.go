package bench

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// The soak's mix (issue 15 item 2, issue 20): its jobs spread over
// tenants, with a share in one tenant kept saturated on purpose; some jobs
// issue from Vault PKI, some are watched, and one is rolled back and then
// rewritten while requests run.
const (
	soakSpreadTenants = 24 // tenants sharing the spread jobs
	soakHotJobs       = 8  // jobs of the one saturated tenant (soak-0 .. soak-7)
	// Every soakHotShare-th request goes to the hot tenant, at most
	// soakHotWindow of them unanswered at once: enough to keep its Graph
	// budget (3 calls a second) always waiting, few enough that its runs do
	// not take the worker's run slots from the other tenants.
	soakHotShare      = 20
	soakHotWindow     = 6
	soakPKIEvery      = 16 // every 16th spread job issues from Vault PKI
	soakWatchEvery    = 12 // every 12th spread job is watched
	soakWatchInterval = 2 * time.Second
	soakRollbackJob   = "soak-9" // a plain KV job, rolled back in the second batch
	soakHotTenant     = "hot"
)

// soakJobKind says what a job of the mix does.
type soakJobKind struct {
	hot, pki, watch bool
}

func soakKind(i int) soakJobKind {
	if i < soakHotJobs {
		return soakJobKind{hot: true}
	}
	k := i - soakHotJobs
	pki := k%soakPKIEvery == 5
	return soakJobKind{pki: pki, watch: !pki && k%soakWatchEvery == 3}
}

func soakTenantOf(i int) (key, id string) {
	if i < soakHotJobs {
		return soakHotTenant, soakTenantID(soakSpreadTenants)
	}
	n := (i - soakHotJobs) % soakSpreadTenants
	return fmt.Sprintf("t%02d", n), soakTenantID(n)
}

func soakTenantID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", 5000+n) }

// soakJobs builds the jobs of the mix and registers their tenants and
// connectors with graphsim (before it starts).
func (s *soak) soakJobs(pki *vaulttest.PKI) {
	for n := range soakSpreadTenants + 1 {
		s.graph.AddTenant(soakTenantID(n), clientID, secret)
	}
	base := jobs.Job{
		Source: jobs.SourceRef{Mount: "secret", PFXField: "pfx", PasswordField: "password"},
		Policy: jobs.PolicyOnChange, MinValidity: jobs.MinValidityDefault, MaxAttempts: 8, Reencode: true,
		WarnBefore: jobs.WarnBeforeDefault(),
	}
	for i := range soakJobs {
		key, tid := soakTenantOf(i)
		id := fmt.Sprintf("7b3a0c1e-0000-4000-8000-%012d", i+1)
		s.graph.AddConnector(tid, id, "soak "+id)
		j := base
		j.Name = fmt.Sprintf("soak-%d", i)
		j.Source.Path = "b2c/" + j.Name
		j.Connectors = []jobs.ConnectorRef{{Tenant: key, ID: id}}
		kind := soakKind(i)
		if kind.pki {
			j.Source.PKI = &jobs.PKIRef{Mount: pki.Mount, Role: pki.Role, CommonName: j.Name + ".example.com", TTL: 1440 * time.Hour}
		}
		if kind.watch {
			j.Watch = soakWatchInterval
		}
		s.kinds = append(s.kinds, kind)
		s.app.Jobs = append(s.app.Jobs, j)
	}
}

// soakTenants are the connector's tenants, on graphsim once it started.
func (s *soak) soakTenants() map[string]connector.Tenant {
	tenants := map[string]connector.Tenant{}
	for n := range soakSpreadTenants + 1 {
		key := fmt.Sprintf("t%02d", n)
		if n == soakSpreadTenants {
			key = soakHotTenant
		}
		tenants[key] = connector.Tenant{TenantID: soakTenantID(n), ClientID: clientID, ClientSecret: secret,
			AuthorityURL: s.graph.URL(), GraphURL: s.graph.URL()}
	}
	return tenants
}

// reissue soft-deletes the current version of every PKI job's path, so
// that each one's next run finds it gone and issues anew (as a certificate
// deleted by an operator is replaced).
func (s *soak) reissue(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i, j := range s.app.Jobs {
		if !s.kinds[i].pki {
			continue
		}
		if err := s.kv.Delete(ctx, j.Source.Path); err != nil {
			t.Fatalf("deleting the current version of %s: %v", j.Source.Path, err)
		}
	}
}

// rollback does by hand what `certrotator rollback --to-version 1` does,
// Vault-natively: it writes version 1's data as a new version (check-and-set
// on the current one, with rolled_back_from in the custom metadata) and
// publishes a forced request pinned to that new version. It returns the
// request's id and the rolled-back bundle's thumbprint.
func (s *soak) rollback(t *testing.T, job jobs.Job) (string, string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	meta, err := s.kv.GetMetadata(ctx, job.Source.Path)
	if err != nil {
		t.Fatalf("rollback: reading metadata of %s: %v", job.Source.Path, err)
	}
	old, err := s.kv.GetVersion(ctx, job.Source.Path, 1)
	if err != nil {
		t.Fatalf("rollback: reading version 1 of %s: %v", job.Source.Path, err)
	}
	ref := job.Source
	ref.Version = 1
	thumb, _ := s.bundleAt(ref)
	written, err := s.kv.Put(ctx, job.Source.Path, old.Data, api.WithCheckAndSet(meta.CurrentVersion))
	if err != nil {
		t.Fatalf("rollback: writing version 1's data as a new version of %s: %v", job.Source.Path, err)
	}
	if err := s.kv.PatchMetadata(ctx, job.Source.Path, api.KVMetadataPatchInput{CustomMetadata: map[string]any{
		"rolled_back_from": "1", "rolled_back_by": "soak"}}); err != nil {
		t.Fatalf("rollback: recording rolled_back_from on %s: %v", job.Source.Path, err)
	}
	v := written.VersionMetadata.Version
	id := fmt.Sprintf("soak-rollback-%s-%d", job.Name, v)
	body := fmt.Sprintf(`{"job":%q,"force":true,"version":%d,"trigger":%q,"reason":"rollback to version 1","requested_by":"soak"}`,
		job.Name, v, contract.TriggerManual)
	s.mu.Lock()
	ch := make(chan struct{})
	s.answered[id] = ch
	s.rollbackDone = ch
	s.mu.Unlock()
	if _, err := s.js.Publish("certrotation.request."+job.Name, []byte(body), nats.MsgId(id)); err != nil {
		t.Fatalf("publishing rollback %s: %v", id, err)
	}
	return id, thumb
}

// checkRollback waits for the rollback's final outcome and checks that the
// connector is on the rolled-back bundle, which is now the latest version.
// It runs on a goroutine of the batch: it reports with Errorf.
func (s *soak) checkRollback(ctx context.Context, job jobs.Job, id, thumb string) {
	select {
	case <-s.rollbackDone:
	case <-ctx.Done():
		s.t.Errorf("rollback %s never answered", id)
		return
	}
	s.mu.Lock()
	outcomes := s.finals.set(id, false).events()
	s.mu.Unlock()
	for _, o := range outcomes {
		if !strings.HasPrefix(o.outcome, contract.StatusSucceeded+"/") {
			s.t.Errorf("rollback %s ended %s, want succeeded", id, o.outcome)
		}
	}
	if got := s.active(job); got != thumb {
		s.t.Errorf("after rollback %s, %s's connector is on %s, want version 1's %s", id, job.Name, got, thumb)
	}
	s.newest[job.Name] = thumb
	s.rollbacks++
}

// active is the thumbprint of the job's connector's active certificate.
func (s *soak) active(job jobs.Job) string {
	_, tid := soakTenantOf(s.jobIndex(job.Name))
	for _, c := range s.graph.Certificates(tid, job.Connectors[0].ID) {
		if c.IsActive {
			return c.Thumbprint
		}
	}
	return ""
}

func (s *soak) jobIndex(name string) int {
	i, _ := strconv.Atoi(strings.TrimPrefix(name, "soak-"))
	return i
}

// latestPKI reads a PKI job's latest version from Vault: the thumbprint its
// connector must end on, and its serial in Vault's notation.
func (s *soak) latestPKI(job jobs.Job) (thumb, serial string) { return s.bundleAt(job.Source) }

// bundleAt reads the bundle at ref (a pinned version, or the latest) and
// returns its thumbprint and its leaf's serial.
func (s *soak) bundleAt(ref jobs.SourceRef) (thumb, serial string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := s.src.Fetch(ctx, ref)
	if err != nil {
		s.t.Fatalf("reading %s version %d: %v", ref.Path, ref.Version, err)
	}
	b, err := bundle.Decode(m.PFX, m.Password)
	if err != nil {
		s.t.Fatalf("decoding %s version %d: %v", ref.Path, ref.Version, err)
	}
	return b.Thumbprint(), vaultSerial(b.Leaf.SerialNumber)
}

// vaultSerial writes a serial as Vault names it: hex byte pairs joined by
// colons.
func vaultSerial(n *big.Int) string {
	b := n.Bytes()
	parts := make([]string, len(b))
	for i, x := range b {
		parts[i] = fmt.Sprintf("%02x", x)
	}
	return strings.Join(parts, ":")
}

// dialWorker dials the worker's NATS connection with the options the worker
// itself uses, plus an error handler counting slow-consumer drops: the
// soak fails on any (a dropped message on a subscription the worker
// depends on is a lost request, reply or lock answer).
func (s *soak) dialWorker() *nats.Conn {
	bo := bustest.Options(s.app)
	bo.Logger = s.log
	opts, err := bus.ClientOptions(bo)
	if err != nil {
		s.t.Fatal(err)
	}
	nc, err := nats.Connect(s.app.NATS.URL, append(opts, nats.ErrorHandler(s.onNATSError("worker")))...)
	if err != nil {
		s.t.Fatalf("dialing the worker's NATS connection: %v", err)
	}
	return nc
}

// onNATSError counts slow-consumer drops (and logs every async error) of
// the connection named who.
func (s *soak) onNATSError(who string) nats.ErrHandler {
	return func(_ *nats.Conn, sub *nats.Subscription, err error) {
		subject := ""
		if sub != nil {
			subject = sub.Subject
		}
		if errors.Is(err, nats.ErrSlowConsumer) {
			n := s.slowDrops.Add(1)
			if n <= 5 && sub != nil {
				msgs, bytes, _ := sub.Pending()
				maxMsgs, maxBytes, _ := sub.PendingLimits()
				dropped, _ := sub.Dropped()
				// -1s: the subscription was closed by the time the report came.
				s.t.Logf("slow consumer on the %s's connection, subscription %q (%s, report %d): %d msgs, %d bytes pending of limits %d, %d; %d dropped so far",
					who, subject, subscriptionType(sub), n, msgs, bytes, maxMsgs, maxBytes, dropped)
			}
			return
		}
		s.t.Logf("nats async error on the %s's connection, subscription %q: %v", who, subject, err)
	}
}

// soakCounters are the mix's counts, reported and checked at the end.
type soakCounters struct {
	slowDrops atomic.Int64 // slow-consumer reports (each may stand for several dropped messages)
	rollbacks int
	hotSent   int
}

// soakApp is the worker's config of the mix: the faultproxy's NATS URL,
// no HTTP, 32 runs at once.
func soakApp(natsURL string) *config.Config {
	return &config.Config{Instance: "soak", NATS: config.NATS{URL: natsURL, SubjectPrefix: "certrotation"},
		HTTP: config.HTTP{Listen: "off"}, Concurrency: 32}
}

// watchRequests counts the watch requests (Msg-Id vault-<job>-...) that got
// a final outcome. The caller holds s.mu.
func (s *soak) watchRequests() int {
	n := 0
	for id := range s.finals.named {
		if strings.HasPrefix(id, "vault-") {
			n++
		}
	}
	return n
}

// subscriptionType names how a subscription delivers: a channel one drops
// what its channel cannot hold.
func subscriptionType(sub *nats.Subscription) string {
	switch sub.Type() {
	case nats.ChanSubscription:
		return "channel"
	case nats.AsyncSubscription:
		return "callback"
	case nats.SyncSubscription:
		return "sync"
	}
	return "other"
}
