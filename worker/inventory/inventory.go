// Package inventory owns the worker's scheduled inventory of the tenants
// with inventory: once across replicas per slot it lists every connector
// and key container (jobs.Inventory), stores the scan for the other
// replicas, exports the expiry of the certificates no job manages and
// warns about them once per threshold across replicas.
package inventory

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/baseservice"
	"github.com/certrotator/certrotator/internal/startstop"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker/statusview"
	"github.com/certrotator/certrotator/worker/warnings"
)

// EveryDefault is how often a tenant with inventory is scanned when its
// Tenant.Every is zero.
const EveryDefault = time.Hour

// inventoryRefresh is how often a replica re-reads the scans another
// replica stored, so that every replica exports and shows them.
const inventoryRefresh = time.Minute

// inventoryItemsMax bounds the unmanaged items kept per tenant (soonest
// expiry first), so that a tenant's record stays far below NATS' payload
// limit.
const inventoryItemsMax = 1000

// Tenant is a tenant the worker scans: tenants.<t>.inventory.
type Tenant struct {
	Tenant string
	// Every is the scan period (inventory_every); slots are multiples of it
	// since the Unix epoch, the same on every replica. Defaults to
	// EveryDefault.
	Every time.Duration
}

// Scan is the latest scan of a tenant as every replica sees it:
// stored by the replica that scanned in the outcomes bucket
// (contract.InventoryKey) and read by the others.
type Scan struct {
	Tenant    string    `json:"tenant"`
	Slot      time.Time `json:"slot"`    // the schedule slot it was made for
	Scanned   time.Time `json:"scanned"` // when it was made
	By        string    `json:"by"`      // the instance that made it
	Total     int       `json:"total"`
	Managed   int       `json:"managed"`
	Unmanaged int       `json:"unmanaged"`
	// Items are the unmanaged targets, soonest expiry first (those without
	// an active certificate last), at most inventoryItemsMax.
	Items []jobs.InventoryItem `json:"items"`
	// ConnectorsError and KeySetsError say why a kind was not listed.
	ConnectorsError string `json:"connectors_error,omitempty"`
	KeySetsError    string `json:"keysets_error,omitempty"`
}

// newScan keeps what the replicas share of a tenant's inventory.
func newScan(inv jobs.TenantInventory, slot, now time.Time, instance string) Scan {
	sc := Scan{Tenant: inv.Tenant, Slot: slot.UTC(), Scanned: now.UTC(), By: instance, Total: len(inv.Items)}
	for _, it := range inv.Items {
		if it.Managed {
			sc.Managed++
			continue
		}
		sc.Unmanaged++
		sc.Items = append(sc.Items, it)
	}
	slices.SortStableFunc(sc.Items, func(a, b jobs.InventoryItem) int { return expiryKey(a).Compare(expiryKey(b)) })
	sc.Items = sc.Items[:min(len(sc.Items), inventoryItemsMax)]
	if inv.ConnectorsErr != nil {
		sc.ConnectorsError = inv.ConnectorsErr.Error()
	}
	if inv.KeySetsErr != nil {
		sc.KeySetsError = inv.KeySetsErr.Error()
	}
	return sc
}

// keepFailed carries over from prev the unmanaged items of a kind this
// scan could not list, so that a Graph outage or a revoked permission does
// not make their series vanish (and their alerts resolve) until the next
// scan that lists them; the kind's error still says the list failed.
func (sc *Scan) keepFailed(prev Scan) {
	failed := map[string]bool{jobs.KindConnector: sc.ConnectorsError != "", jobs.KindKeySet: sc.KeySetsError != ""}
	kept := 0
	for _, it := range prev.Items {
		if failed[it.Kind] {
			sc.Items = append(sc.Items, it)
			kept++
		}
	}
	if kept == 0 {
		return
	}
	sc.Unmanaged += kept
	slices.SortStableFunc(sc.Items, func(a, b jobs.InventoryItem) int { return expiryKey(a).Compare(expiryKey(b)) })
	sc.Items = sc.Items[:min(len(sc.Items), inventoryItemsMax)]
}

// expiryKey sorts items without an active certificate or expiry last.
func expiryKey(it jobs.InventoryItem) time.Time {
	if it.Active == nil || it.Active.NotAfter.IsZero() {
		return time.Unix(1<<40, 0)
	}
	return it.Active.NotAfter
}

// Scanner is the service that scans the tenants with inventory on their
// schedule, once across replicas: at each slot every replica tries to
// create the slot's key in the locks bucket and the one that does lists
// the tenant (jobs.Inventory), stores the scan for the others, exports the
// unmanaged certificates' expiry and publishes their expiry warnings, once
// per threshold across replicas through the warnings bucket. The others
// read the stored scan every inventoryRefresh. At start each tenant's
// current slot is due, unless a scan of it is stored already.
type Scanner struct {
	startstop.Base
	baseservice.BaseService
	o       Options
	tenants []Tenant
	// OpTimeout bounds one NATS round trip.
	OpTimeout time.Duration

	mu    sync.Mutex           // guards scans
	scans map[string]Scan      // tenant → latest scan seen
	next  map[string]time.Time // tenant → next slot; owned by the loop
}

// Options are what a Scanner needs.
type Options struct {
	Instance, Prefix string     // of the claims, events and subjects
	Jobs             []jobs.Job // what is managed
	Lister           jobs.InventoryLister
	Tenants          []Tenant
	// JetStream publishes the warnings; Locks (the slots' claims),
	// Outcomes (the stored scans) and Seen (the warnings published) are
	// nil until the worker provisioned the buckets.
	JetStream jetstream.JetStream
	Locks     func() jetstream.KeyValue
	Outcomes  func() jetstream.KeyValue
	Seen      func() jobs.Warnings
}

// New checks the tenants and returns a Scanner of them.
func New(a *baseservice.Archetype, o Options) (*Scanner, error) {
	s := &Scanner{o: o, OpTimeout: 10 * time.Second}
	seen := map[string]bool{}
	for _, t := range o.Tenants {
		if t.Tenant == "" || seen[t.Tenant] {
			return nil, fmt.Errorf("worker: inventory tenant %q is empty or listed twice", t.Tenant)
		}
		seen[t.Tenant] = true
		s.tenants = append(s.tenants, Tenant{Tenant: t.Tenant, Every: cmp.Or(max(t.Every, 0), EveryDefault)})
	}
	s.Init(a)
	return s, nil
}

// Start launches the loop when a tenant has inventory and a lister is set.
func (s *Scanner) Start(ctx context.Context) error {
	return s.Launch(ctx, func(runCtx context.Context) (func(), error) {
		switch {
		case len(s.tenants) == 0 || s.o.Lister == nil:
			return nil, nil
		case s.o.JetStream == nil || s.o.Locks() == nil:
			return nil, baseservice.ErrNotConnected
		}
		return func() {
			s.Repeat(runCtx, func(ctx context.Context) time.Duration { s.RunOnce(ctx); return s.Wake() })
		}, nil
	})
}

// Wake is how long the loop sleeps: until the next slot, at most
// inventoryRefresh.
func (s *Scanner) Wake() time.Duration {
	d := inventoryRefresh
	now := s.Now()
	for _, t := range s.next {
		d = min(d, max(t.Sub(now), 0))
	}
	return d
}

// RunOnce scans each tenant whose slot is due and refreshes the others
// from the stored scans. At the first step each tenant's current slot is
// due.
func (s *Scanner) RunOnce(ctx context.Context) {
	now := s.Now()
	if s.next == nil {
		s.next = map[string]time.Time{}
		for _, t := range s.tenants {
			s.next[t.Tenant] = now.Truncate(t.Every) // the current slot: due now
		}
	}
	for _, t := range s.tenants {
		slot := s.next[t.Tenant]
		if slot.After(now) {
			s.Refresh(ctx, t.Tenant)
			continue
		}
		if _, err := s.RunSlot(ctx, t.Tenant, slot); err != nil && ctx.Err() == nil {
			s.Logger().Warn("scanning the tenant's inventory", "tenant", t.Tenant, "slot", slot, "error", err)
		}
		s.next[t.Tenant] = now.Truncate(t.Every).Add(t.Every)
	}
}

// RunSlot scans tenant for slot unless a scan of it is stored or another
// replica claimed it; scanned says whether this replica scanned.
func (s *Scanner) RunSlot(ctx context.Context, tenant string, slot time.Time) (scanned bool, err error) {
	locks := s.o.Locks()
	if locks == nil {
		return false, baseservice.ErrNotConnected
	}
	prev, ok, err := s.load(ctx, tenant)
	if err != nil {
		return false, err
	}
	if ok && !prev.Slot.Before(slot) {
		s.adopt(prev)
		return false, nil
	}
	claimCtx, cancel := context.WithTimeout(ctx, s.OpTimeout)
	_, err = locks.Create(claimCtx, contract.InventoryLockKey(tenant, slot.Unix()), []byte(s.o.Instance))
	cancel()
	switch {
	case errors.Is(err, jetstream.ErrKeyExists):
		return false, nil // another replica scans this slot; refresh adopts its scan
	case err != nil:
		return false, fmt.Errorf("claiming inventory slot %s of tenant %s: %w", slot.UTC().Format(time.RFC3339), tenant, err)
	}
	now := s.Now()
	sc := newScan(jobs.Inventory(ctx, s.o.Lister, tenant, s.o.Jobs, now), slot, now, s.o.Instance)
	if ok {
		sc.keepFailed(prev)
	}
	if err := s.store(ctx, sc); err != nil {
		return true, err
	}
	s.adopt(sc)
	s.Logger().Info("inventory scanned", "tenant", tenant, "targets", sc.Total, "unmanaged", sc.Unmanaged,
		"connectors_error", sc.ConnectorsError, "keysets_error", sc.KeySetsError)
	s.warnAll(ctx, sc, now)
	return true, nil
}

// Refresh adopts the stored scan of tenant when it is newer than the one
// this replica has.
func (s *Scanner) Refresh(ctx context.Context, tenant string) {
	sc, ok, err := s.load(ctx, tenant)
	if err != nil {
		if ctx.Err() == nil {
			s.Logger().Warn("reading the stored inventory", "tenant", tenant, "error", err)
		}
		return
	}
	if ok {
		s.adopt(sc)
	}
}

func (s *Scanner) load(ctx context.Context, tenant string) (Scan, bool, error) {
	kv := s.o.Outcomes()
	if kv == nil {
		return Scan{}, false, baseservice.ErrNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, s.OpTimeout)
	defer cancel()
	e, err := kv.Get(ctx, contract.InventoryKey(tenant))
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return Scan{}, false, nil
	case err != nil:
		return Scan{}, false, fmt.Errorf("reading inventory of tenant %s: %w", tenant, err)
	}
	var sc Scan
	if err := json.Unmarshal(e.Value(), &sc); err != nil {
		return Scan{}, false, fmt.Errorf("decoding inventory of tenant %s: %w", tenant, err)
	}
	return sc, true, nil
}

func (s *Scanner) store(ctx context.Context, sc Scan) error {
	data, err := json.Marshal(sc)
	if err != nil {
		return fmt.Errorf("encoding inventory of tenant %s: %w", sc.Tenant, err)
	}
	kv := s.o.Outcomes()
	if kv == nil {
		return baseservice.ErrNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, s.OpTimeout)
	defer cancel()
	if _, err := kv.Put(ctx, contract.InventoryKey(sc.Tenant), data); err != nil {
		return fmt.Errorf("storing inventory of tenant %s: %w", sc.Tenant, err)
	}
	return nil
}

// adopt makes sc the tenant's scan unless a later one is known.
func (s *Scanner) adopt(sc Scan) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scans == nil {
		s.scans = map[string]Scan{}
	}
	if cur, ok := s.scans[sc.Tenant]; ok && cur.Scanned.After(sc.Scanned) {
		return
	}
	s.scans[sc.Tenant] = sc
}

// Scans returns the latest scan of each tenant with inventory that this
// replica has seen, by tenant; none before the first.
func (s *Scanner) Scans() []Scan {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Scan, 0, len(s.scans))
	for _, sc := range s.scans {
		out = append(out, sc)
	}
	slices.SortFunc(out, func(a, b Scan) int { return cmp.Compare(a.Tenant, b.Tenant) })
	return out
}

// warnAll publishes the expiry warnings of sc's unmanaged certificates.
func (s *Scanner) warnAll(ctx context.Context, sc Scan, now time.Time) {
	scanID := contract.InventoryLockKey(sc.Tenant, sc.Slot.Unix())
	for _, it := range sc.Items {
		if err := s.warn(ctx, it, scanID, now); err != nil && ctx.Err() == nil {
			s.Logger().Warn("publishing an unmanaged certificate's expiry warning", "tenant", it.Tenant, "kind", it.Kind, "id", it.ID, "error", err)
		}
	}
}

// warn publishes certrotator.certificate.expiring for an unmanaged item
// within one of the jobs' default thresholds, unless a replica already
// did for this certificate and threshold (the warnings bucket, as jobs).
func (s *Scanner) warn(ctx context.Context, it jobs.InventoryItem, scanID string, now time.Time) error {
	if it.Active == nil || it.Active.NotAfter.IsZero() {
		return nil
	}
	threshold, ok := jobs.Crossed(it.Active.NotAfter.Sub(now), jobs.WarnBeforeDefault())
	if !ok {
		return nil
	}
	label := jobs.FormatThreshold(threshold)
	key := contract.ExpiringKey(contract.InventoryJob, it.ID, cmp.Or(it.Active.Thumbprint, it.Active.Kid), label)
	o := unmanagedExpiring(it, now, label)
	o.RequestID = scanID // one scan's warnings are one notification
	ev := contract.NewEvent(s.o.Instance, o, now)
	ctx, cancel := context.WithTimeout(ctx, s.OpTimeout)
	defer cancel()
	published, err := warnings.Announce(ctx, s.o.JetStream, s.o.Seen(), key, contract.ResultSubjectOf(s.o.Prefix, contract.InventoryJob, ev.Data), ev)
	if published {
		s.Logger().Warn("an unmanaged certificate expires soon", "tenant", it.Tenant, "kind", it.Kind, "id", it.ID,
			"expires", it.Active.NotAfter.UTC().Format(time.RFC3339), "threshold", label)
	}
	return err
}

// unmanagedExpiring is the expiring outcome of an unmanaged target: job
// contract.InventoryJob, the reason saying no job rotates it.
func unmanagedExpiring(it jobs.InventoryItem, now time.Time, label string) jobs.Outcome {
	cert := *it.Active
	return jobs.Outcome{
		Job: contract.InventoryJob, Tenant: it.Tenant, Connector: it.ID, TargetKind: it.Kind,
		Status: contract.StatusExpiring, Final: true,
		Reason:      "unmanaged: no job of this certrotator rotates it; bind it to a job or renew it by hand",
		Certificate: &cert, Previous: it.Active,
		DaysLeft: jobs.DaysLeft(it.Active.NotAfter.Sub(now)), Threshold: label,
	}
}

// Collector exports the unmanaged certificates' expiry under the
// name of the managed ones, certrotator_certificate_expiry_timestamp_seconds,
// with managed="false", tenant and kind, so that one query and one
// dashboard cover both. Its labels differ from the status collector's, which
// a checked collector may not do under one name: it is unchecked (Describe
// sends nothing) and shares the help text, which Gather requires.
type Collector struct {
	inv  *Scanner
	desc *prometheus.Desc
}

// NewCollector returns the collector of inv's scans.
func NewCollector(inv *Scanner) *Collector {
	return &Collector{inv: inv, desc: prometheus.NewDesc(statusview.ExpiryMetric, statusview.ExpiryHelp,
		[]string{"connector", "tenant", "kind", "managed"}, nil)}
}

// Desc is the series' description, which Describe does not send.
func (c *Collector) Desc() *prometheus.Desc { return c.desc }

// Describe sends nothing: see Collector.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect sends the expiry of each unmanaged certificate of the latest
// scans. A target's series lasts until a scan no longer lists it unmanaged.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.inv.mu.Lock()
	defer c.inv.mu.Unlock()
	for _, sc := range c.inv.scans {
		for _, it := range sc.Items {
			if it.Active == nil || it.Active.NotAfter.IsZero() {
				continue
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(it.Active.NotAfter.Unix()),
				it.ID, it.Tenant, it.Kind, "false")
		}
	}
}
