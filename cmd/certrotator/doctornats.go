package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker"
)

// natsSetupFix is how an operator creates what the worker expects when its
// own user may not (deploy/nats/setup.sh creates the streams, consumers
// and buckets).
const natsSetupFix = "run deploy/nats/setup.sh against this server, or start the worker once with a user allowed to create it"

// checkNATS connects as the worker does, then checks JetStream, the
// streams, the consumer, the buckets and the worker's permissions.
func (d *doctor) checkNATS(cfg *config.Config) {
	n := cfg.NATS
	if n.URL == "" {
		d.report(finding{Area: "nats", Check: "server", Verdict: verdictOK,
			Detail: "nats.url is empty: the worker embeds its own JetStream server (store_dir " + orDefault(n.StoreDir, config.StoreDirDefault) + ")"})
		return
	}
	p := &natsProbe{violations: make(chan string, 64)}
	opts, err := worker.NATSOptions(n, "certrotator-doctor/"+cfg.Instance, slog.New(slog.DiscardHandler))
	if err != nil {
		d.report(finding{Area: "nats", Check: "credentials", Verdict: verdictFail, Detail: err.Error(), Fix: "check nats.nkey_file"})
		return
	}
	opts = append(opts, nats.Timeout(d.timeout), nats.ErrorHandler(p.onError))
	nc, err := nats.Connect(n.URL, opts...)
	if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
		d.report(finding{Area: "nats", Check: "reachable at " + n.URL, Verdict: verdictOK})
		d.report(finding{Area: "nats", Check: "credentials", Verdict: verdictFail, Detail: err.Error(),
			Fix: "check nats.user and nats.password, nats.creds_file or nats.nkey_file against the server's users (deploy/nats)"})
		return
	}
	if err != nil {
		d.report(finding{Area: "nats", Check: "reachable at " + n.URL, Verdict: verdictFail, Detail: err.Error(),
			Fix: "check nats.url, that the server runs and this host may reach it, and nats.tls for a TLS server"})
		return
	}
	defer nc.Close()
	d.report(finding{Area: "nats", Check: "reachable at " + n.URL, Verdict: verdictOK})
	d.report(finding{Area: "nats", Check: "credentials", Verdict: verdictOK, Detail: credentialKind(n)})
	js, err := jetstream.New(nc)
	if err != nil {
		d.report(finding{Area: "nats", Check: "jetstream", Verdict: verdictFail, Detail: err.Error()})
		return
	}
	p.js = js
	if !d.natsAccount(p) {
		return
	}
	prefix := cfg.NATS.SubjectPrefix
	if prefix == "" {
		prefix = contract.SubjectPrefixDefault
	}
	present := map[string]bool{}
	for _, want := range contract.Streams(prefix) {
		f := d.natsStream(p, want, cfg.Jobs)
		present[want.Name] = f.Verdict != verdictFail
		d.report(f)
	}
	for _, want := range contract.Buckets() {
		if want.Only == "notify" && len(cfg.Notify) == 0 {
			continue // created only by a worker that notifies
		}
		d.report(d.natsBucket(p, want))
	}
	// Publishing into a stream that failed its check would only repeat it.
	if present[contract.RequestsStream] {
		d.natsPublish(p, contract.RequestSubject(prefix, "_doctor"))
	}
	if present[contract.ResultsStream] {
		d.natsPublish(p, contract.ResultSubject(prefix, "_doctor", ""))
	}
}

// credentialKind names the credentials the config gives, never their value.
func credentialKind(n config.NATS) string {
	switch {
	case n.CredsFile != "":
		return "accepted (creds file " + n.CredsFile + ")"
	case n.NKeyFile != "":
		return "accepted (nkey " + n.NKeyFile + ")"
	case n.User != "":
		return "accepted (user " + n.User + ")"
	}
	return "none configured; the server allows anonymous clients"
}

// natsAccount checks JetStream is enabled for the account.
func (d *doctor) natsAccount(p *natsProbe) bool {
	var err error
	denied := d.probe(p, func(ctx context.Context) error { _, err = p.js.AccountInfo(ctx); return err })
	f := finding{Area: "nats", Check: "jetstream", Verdict: verdictOK, Detail: "enabled for this account"}
	switch {
	case denied != "":
		f.Verdict, f.Detail, f.Fix = verdictFail, denied, permissionFix(denied)
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		f.Verdict, f.Detail, f.Fix = verdictFail, err.Error(), "enable JetStream on the server and for the account (`jetstream: enabled`)"
	case err != nil:
		f.Verdict, f.Detail, f.Fix = verdictFail, err.Error(), "check the server's JetStream"
	}
	d.report(f)
	return f.Verdict == verdictOK
}

// natsStream checks one stream's presence and settings, and its durable.
func (d *doctor) natsStream(p *natsProbe, want contract.Stream, jj []jobs.Job) finding {
	f := finding{Area: "nats", Check: "stream " + want.Name, Verdict: verdictFail}
	var (
		st  jetstream.Stream
		err error
	)
	if denied := d.probe(p, func(ctx context.Context) error { st, err = p.js.Stream(ctx, want.Name); return err }); denied != "" {
		f.Detail, f.Fix = denied, permissionFix(denied)
		return f
	}
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		f.Detail, f.Fix = "missing", natsSetupFix
		return f
	case err != nil:
		f.Detail, f.Fix = err.Error(), "check the server's JetStream"
		return f
	}
	c := st.CachedInfo().Config
	var bad []string
	if !slices.Equal(c.Subjects, want.Subjects) {
		bad = append(bad, fmt.Sprintf("subjects %v, want %v", c.Subjects, want.Subjects))
	}
	if have := jsonWord(c.Retention); have != string(want.Retention) {
		bad = append(bad, fmt.Sprintf("retention %s, want %s", have, want.Retention))
	}
	if want.Duplicates > 0 && c.Duplicates != want.Duplicates {
		bad = append(bad, fmt.Sprintf("duplicate window %s, want %s", c.Duplicates, want.Duplicates))
	}
	if want.MaxAge > 0 && c.MaxAge != want.MaxAge {
		bad = append(bad, fmt.Sprintf("max age %s, want %s", c.MaxAge, want.MaxAge))
	}
	if len(bad) > 0 {
		f.Detail = fmt.Sprintf("%v", bad)
		f.Fix = "edit the stream to the contract (nats stream edit " + want.Name + ", or deploy/nats/stream-*.json); the worker rewrites these at start only when its user may update streams"
		return f
	}
	f.Verdict, f.Detail = verdictOK, fmt.Sprintf("%s retention, %d messages", c.Retention, st.CachedInfo().State.Msgs)
	if want.Consumer != "" {
		d.report(d.natsConsumer(p, st, want.Name, want.Consumer, jj))
	}
	return f
}

// natsConsumer checks the worker's durable on stream: missing is fine (the
// worker creates it), but an existing one must redeliver at least as often
// as the largest max_attempts asks.
func (d *doctor) natsConsumer(p *natsProbe, st jetstream.Stream, stream, name string, jj []jobs.Job) finding {
	f := finding{Area: "nats", Check: "consumer " + stream + "/" + name, Verdict: verdictFail}
	var (
		c   jetstream.Consumer
		err error
	)
	if denied := d.probe(p, func(ctx context.Context) error { c, err = st.Consumer(ctx, name); return err }); denied != "" {
		f.Detail, f.Fix = denied, permissionFix(denied)
		return f
	}
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		f.Verdict, f.Detail = verdictOK, "not created yet: the worker creates it at start"
		return f
	case err != nil:
		f.Detail, f.Fix = err.Error(), "check the server's JetStream"
		return f
	}
	cc := c.CachedInfo().Config
	if cc.AckPolicy != jetstream.AckExplicitPolicy {
		f.Detail, f.Fix = fmt.Sprintf("ack policy %s, want explicit", cc.AckPolicy), "delete the consumer (nats consumer rm "+stream+" "+name+"); the worker recreates it"
		return f
	}
	if name == contract.ConsumerName {
		if need := contract.Consumer(jobs.LargestMaxAttempts(jj)).MaxDeliver; cc.MaxDeliver >= 0 && cc.MaxDeliver < need {
			f.Detail = fmt.Sprintf("max deliver %d, below the largest max_attempts %d", cc.MaxDeliver, need)
			f.Fix = fmt.Sprintf("nats consumer edit %s %s --max-deliver %d (the worker sets it at start when its user may)", stream, name, need)
			return f
		}
	}
	f.Verdict, f.Detail = verdictOK, fmt.Sprintf("max deliver %d, %d pending", cc.MaxDeliver, c.CachedInfo().NumPending)
	return f
}

// jsonWord is a JetStream enum as its JSON spells it ("workqueue"), the
// spelling of the contract's data.
func jsonWord(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return strings.Trim(string(b), `"`)
}

// natsBucket checks one bucket's presence, history and TTL, and that the
// worker may read it (a get of a key that does not exist) and write it (an
// update that JetStream refuses for its revision, so nothing is written).
func (d *doctor) natsBucket(p *natsProbe, want contract.Bucket) finding {
	f := finding{Area: "nats", Check: "bucket " + want.Name, Verdict: verdictFail}
	var (
		kv  jetstream.KeyValue
		sts jetstream.KeyValueStatus
		err error
	)
	denied := d.probe(p, func(ctx context.Context) error {
		if kv, err = p.js.KeyValue(ctx, want.Name); err != nil {
			return err
		}
		sts, err = kv.Status(ctx)
		return err
	})
	switch {
	case denied != "":
		f.Detail, f.Fix = denied, permissionFix(denied)
		return f
	case errors.Is(err, jetstream.ErrBucketNotFound):
		f.Detail, f.Fix = "missing", natsSetupFix
		return f
	case err != nil:
		f.Detail, f.Fix = err.Error(), "check the server's JetStream"
		return f
	}
	if sts.History() != int64(want.History) || sts.TTL() != want.TTL {
		f.Detail = fmt.Sprintf("history %d and TTL %s, want %d and %s", sts.History(), sts.TTL(), want.History, want.TTL)
		f.Fix = "edit the bucket (nats kv edit " + want.Name + "); the worker rewrites these at start only when its user may"
		return f
	}
	const probeKey = "certrotator-doctor-probe"
	if denied := d.probe(p, func(ctx context.Context) error { _, err = kv.Get(ctx, probeKey); return err }); denied != "" {
		f.Detail, f.Fix = "may not read: "+denied, permissionFix(denied)
		return f
	}
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		f.Detail, f.Fix = "reading a key: "+err.Error(), "check the server's JetStream"
		return f
	}
	// A revision no key can have: JetStream refuses the write, after the
	// server has checked the publish permission.
	if denied := d.probe(p, func(ctx context.Context) error { _, err = kv.Update(ctx, probeKey, nil, 1<<62); return err }); denied != "" {
		f.Detail, f.Fix = "may not write: "+denied, permissionFix(denied)
		return f
	}
	f.Verdict, f.Detail = verdictOK, fmt.Sprintf("history %d, TTL %s, readable and writable", want.History, want.TTL)
	return f
}

// natsPublish checks the worker may publish on subj (requests from the
// scheduler, outcome events), with an expected last sequence no stream has,
// so that JetStream refuses to store the message.
func (d *doctor) natsPublish(p *natsProbe, subj string) {
	f := finding{Area: "nats", Check: "publish " + subj, Verdict: verdictOK, Detail: "allowed"}
	var err error
	denied := d.probe(p, func(ctx context.Context) error {
		_, err = p.js.Publish(ctx, subj, nil, jetstream.WithExpectLastSequence(1<<62))
		return err
	})
	switch {
	case denied != "":
		f.Verdict, f.Detail, f.Fix = verdictFail, denied, permissionFix(denied)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), errors.Is(err, jetstream.ErrNoStreamResponse):
		f.Verdict, f.Detail, f.Fix = verdictFail, err.Error(), "no stream answered: check the stream's subjects and the publish permission"
	}
	d.report(f)
}

// permissionFix tells how to grant what a permissions violation names.
func permissionFix(violation string) string {
	return "allow it in the worker user's permissions (deploy/nats/nats-permissions.conf lists all the worker needs): " + violation
}

// natsProbe runs JetStream calls one at a time and catches the permission
// violations the server reports asynchronously: a denied request never
// gets an answer, only the violation naming its subject.
type natsProbe struct {
	js         jetstream.JetStream
	violations chan string
}

func (p *natsProbe) onError(_ *nats.Conn, _ *nats.Subscription, err error) {
	if errors.Is(err, nats.ErrPermissionViolation) {
		select {
		case p.violations <- err.Error():
		default: // full: one per probe is enough
		}
	}
}

// probe runs fn under a check's deadline and returns the permission
// violation that stopped it, or "" when fn finished by itself.
func (d *doctor) probe(p *natsProbe, fn func(context.Context) error) string {
	for drained := false; !drained; {
		select {
		case <-p.violations: // left over from an earlier probe
		default:
			drained = true
		}
	}
	ctx, cancel := d.ctx()
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fn(ctx) // fn keeps its own error
	}()
	select {
	case <-done:
		return ""
	case v := <-p.violations:
		cancel()
		<-done
		return v
	}
}
