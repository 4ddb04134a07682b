package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
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
	opts, err := bus.ClientOptions(natsOptions(n, "certrotator-doctor/"+cfg.Instance, cfg.Instance, nil))
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
	for _, f := range bus.Verify(context.Background(), js, bus.VerifyOptions{Prefix: prefix, MaxDeliver: jobs.LargestMaxAttempts(cfg.Jobs), Notify: len(cfg.Notify) > 0, Call: p.call(d)}) {
		v := d.natsFinding(p, f, jobs.LargestMaxAttempts(cfg.Jobs))
		present[f.Name] = v.Verdict != verdictFail
		d.report(v)
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

// natsFinding turns what bus.Verify found of one object into doctor's
// words: a missing stream or bucket fails (setup.sh creates them), a
// missing consumer is fine (the worker creates it at start), settings
// other than the contract's fail with the command that fixes them, and a
// bucket must also be readable and writable by this user.
func (d *doctor) natsFinding(p *natsProbe, f bus.Finding, maxDeliver int) finding {
	out := finding{Area: "nats", Check: f.Object(), Verdict: verdictFail}
	var denied *violation
	switch {
	case f.State == bus.Unreadable && errors.As(f.Err, &denied):
		out.Detail, out.Fix = denied.text, permissionFix(denied.text)
	case f.State == bus.Unreadable:
		out.Detail, out.Fix = f.Err.Error(), "check the server's JetStream"
	case f.State == bus.Missing && f.Kind == "consumer":
		out.Verdict, out.Detail = verdictOK, "not created yet: the worker creates it at start"
	case f.State == bus.Missing:
		out.Detail, out.Fix = "missing", natsSetupFix
	case f.State == bus.Differs:
		out.Detail, out.Fix = f.Detail, differsFix(f, maxDeliver)
	case f.Kind == "bucket":
		return d.natsBucketAccess(p, f)
	default:
		out.Verdict, out.Detail = verdictOK, f.Detail
	}
	return out
}

// differsFix is how to bring an object whose settings differ to the
// contract.
func differsFix(f bus.Finding, maxDeliver int) string {
	stream, durable, _ := strings.Cut(f.Name, "/")
	switch {
	case f.Kind == "stream":
		return "edit the stream to the contract (nats stream edit " + f.Name + ", or deploy/nats/stream-*.json); the worker rewrites these at start only when its user may update streams"
	case f.Kind == "bucket":
		return "edit the bucket (nats kv edit " + f.Name + "); the worker rewrites these at start only when its user may"
	case strings.HasPrefix(f.Detail, "max deliver"):
		return fmt.Sprintf("nats consumer edit %s %s --max-deliver %d (the worker sets it at start when its user may)", stream, durable, maxDeliver)
	default:
		return "delete the consumer (nats consumer rm " + stream + " " + durable + "); the worker recreates it"
	}
}

// natsBucketAccess checks that the worker may read a bucket Verify found
// (a get of a key that does not exist) and write it (an update that
// JetStream refuses for its revision, so nothing is written).
func (d *doctor) natsBucketAccess(p *natsProbe, f bus.Finding) finding {
	out := finding{Area: "nats", Check: f.Object(), Verdict: verdictFail}
	var (
		kv  jetstream.KeyValue
		err error
	)
	if denied := d.probe(p, func(ctx context.Context) error { kv, err = p.js.KeyValue(ctx, f.Name); return err }); denied != "" {
		out.Detail, out.Fix = denied, permissionFix(denied)
		return out
	}
	if err != nil {
		out.Detail, out.Fix = err.Error(), "check the server's JetStream"
		return out
	}
	const probeKey = "certrotator-doctor-probe"
	if denied := d.probe(p, func(ctx context.Context) error { _, err = kv.Get(ctx, probeKey); return err }); denied != "" {
		out.Detail, out.Fix = "may not read: "+denied, permissionFix(denied)
		return out
	}
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		out.Detail, out.Fix = "reading a key: "+err.Error(), "check the server's JetStream"
		return out
	}
	// A revision no key can have: JetStream refuses the write, after the
	// server has checked the publish permission.
	if denied := d.probe(p, func(ctx context.Context) error { _, err = kv.Update(ctx, probeKey, nil, 1<<62); return err }); denied != "" {
		out.Detail, out.Fix = "may not write: "+denied, permissionFix(denied)
		return out
	}
	out.Verdict, out.Detail = verdictOK, f.Detail+", readable and writable"
	return out
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

// violation is the permission violation that stopped a call of
// bus.Verify.
type violation struct{ text string }

func (v *violation) Error() string { return v.text }

// call is bus.Verify's Call: each call runs as a probe, and a denied one
// fails with the violation.
func (p *natsProbe) call(d *doctor) func(context.Context, func(context.Context) error) error {
	return func(_ context.Context, fn func(context.Context) error) error {
		var err error
		if denied := d.probe(p, func(ctx context.Context) error { err = fn(ctx); return err }); denied != "" {
			return &violation{text: denied}
		}
		return err
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
