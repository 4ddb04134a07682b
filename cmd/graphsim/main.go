// Command graphsim runs the Microsoft Graph emulator standalone, for demos
// and scripts:
//
//	GRAPH_SECRET=s3cret graphsim --listen 127.0.0.1:8443 --ca-out ca.pem \
//	    --tenant TENANT_ID --client-id CLIENT_ID --client-secret-env GRAPH_SECRET \
//	    --connector 7b3a0c1e-...=contoso-api [--connector ID[=displayName]]... \
//	    [--latency 80ms] [--page-size 100] [--app-limit 200] [--tenant-limit 300] [--limit-window 1m]
//
// For benchmarks (bench/ runs it in a process of its own): --fleet FILE adds
// many tenants and connectors from a JSON file (every app with the same
// secret), --pfx-cache decodes each distinct uploaded PFX once
// (graphsim.SetPFXCache), --http2 offers HTTP/2 (graphsim.WithHTTP2), and
// --counts-listen 127.0.0.1:0 serves GET /counts (calls and 429s per tenant)
// in plain HTTP on loopback.
//
// It enforces Graph's throttling limits for API connectors (200 calls a
// minute per app per tenant, 300 per tenant) unless told otherwise; a
// shorter --limit-window compresses the clock for benchmarks (200 per 6s),
// and a limit of 0 turns it off. It prints the URL and the tenant block to put in certrotator's config,
// writes the CA certificate to --ca-out, and serves until SIGINT or SIGTERM.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
)

// errUsage marks bad flags (exit code 2).
var errUsage = errors.New("bad usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Getenv)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "graphsim:", err)
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "graphsim:", err)
		os.Exit(1)
	}
}

type options struct {
	listen, caOut, tenant, clientID, secretEnv, secret string
	connectors                                         []connectorFlag
	latency                                            time.Duration
	pageSize                                           int
	limits                                             graphsim.Limits
	fleet, countsListen                                string
	pfxCache, http2                                    bool
}

type connectorFlag struct{ id, displayName string }

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("graphsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8443", "address to serve HTTPS on")
	fs.StringVar(&o.caOut, "ca-out", "graphsim-ca.pem", "file to write the CA certificate (PEM) to")
	fs.StringVar(&o.tenant, "tenant", "", "tenant id (required)")
	fs.StringVar(&o.clientID, "client-id", "", "app (client) id (required)")
	fs.StringVar(&o.secretEnv, "client-secret-env", "GRAPHSIM_CLIENT_SECRET", "environment variable holding the app's client secret")
	fs.DurationVar(&o.latency, "latency", 0, "delay of every Graph call")
	fs.IntVar(&o.pageSize, "page-size", graphsim.PageSizeDefault, "connectors per page of the list call")
	fs.IntVar(&o.limits.AppPerWindow, "app-limit", graphsim.GraphLimits.AppPerWindow, "calls per app per tenant per window (0: none)")
	fs.IntVar(&o.limits.TenantPerWindow, "tenant-limit", graphsim.GraphLimits.TenantPerWindow, "calls per tenant per window, every app together (0: none)")
	fs.DurationVar(&o.limits.Window, "limit-window", graphsim.GraphLimits.Window, "the window the limits count over")
	fs.StringVar(&o.fleet, "fleet", "", "JSON file of tenants and connectors to add (benchmarks)")
	fs.StringVar(&o.countsListen, "counts-listen", "", "loopback address to serve GET /counts on, in plain HTTP (benchmarks)")
	fs.BoolVar(&o.pfxCache, "pfx-cache", false, "decode each distinct uploaded PFX and password once (benchmarks)")
	fs.BoolVar(&o.http2, "http2", false, "offer HTTP/2 as well as HTTP/1.1")
	fs.Func("connector", "connector `ID[=displayName]` (repeatable)", func(v string) error {
		id, name, _ := strings.Cut(v, "=")
		if id == "" {
			return errors.New("empty connector id")
		}
		o.connectors = append(o.connectors, connectorFlag{id: id, displayName: cmp.Or(name, id)})
		return nil
	})
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	o.secret = getenv(o.secretEnv)
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	case (o.tenant == "") != (o.clientID == ""), o.tenant == "" && o.fleet == "":
		return o, fmt.Errorf("%w: --tenant and --client-id are required (or --fleet)", errUsage)
	case o.tenant == "" && len(o.connectors) > 0:
		return o, fmt.Errorf("%w: --connector needs --tenant", errUsage)
	case o.secret == "":
		return o, fmt.Errorf("%w: environment variable %s (--client-secret-env) is empty", errUsage, o.secretEnv)
	case o.latency < 0 || o.pageSize < 1 || o.limits.AppPerWindow < 0 || o.limits.TenantPerWindow < 0 || o.limits.Window <= 0:
		return o, fmt.Errorf("%w: --latency, --app-limit and --tenant-limit must not be negative, --page-size and --limit-window must be positive", errUsage)
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	o, err := parseFlags(args, getenv, stdout)
	if err != nil {
		return err
	}
	s := graphsim.New()
	if o.tenant != "" {
		s.AddTenant(o.tenant, o.clientID, o.secret)
	}
	for _, c := range o.connectors {
		s.AddConnector(o.tenant, c.id, c.displayName)
	}
	if o.fleet != "" {
		tenants, connectors, err := loadFleet(o.fleet, s, o.secret)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "fleet: %d tenants, %d connectors from %s\n", tenants, connectors, o.fleet)
	}
	if o.http2 {
		s.WithHTTP2()
	}
	if err := s.StartOn(o.listen); err != nil {
		return fmt.Errorf("starting emulator: %w", err)
	}
	defer s.Close()
	s.SetLatency(o.latency)
	s.SetPageSize(o.pageSize)
	s.SetLimits(o.limits)
	s.SetPFXCache(o.pfxCache)
	if o.fleet != "" {
		s.SetRecording(false) // thousands of calls: keep memory flat
	}
	if o.countsListen != "" {
		url, stop, err := serveCounts(ctx, o.countsListen, s)
		if err != nil {
			return err
		}
		defer stop()
		fmt.Fprintf(stdout, "counts: %s\n", url)
	}
	if err := os.WriteFile(o.caOut, s.CACertPEM(), 0o644); err != nil {
		return fmt.Errorf("writing CA certificate %s: %w", o.caOut, err)
	}
	printBanner(stdout, s.URL(), o)
	<-ctx.Done()
	return nil
}

func printBanner(w io.Writer, url string, o options) {
	fmt.Fprintf(w, "graphsim serving Entra and Graph on %s\n", url)
	fmt.Fprintf(w, "limits: %d calls per app per tenant, %d per tenant, per %s (0: none); latency %s; page size %d\n",
		o.limits.AppPerWindow, o.limits.TenantPerWindow, o.limits.Window, o.latency, o.pageSize)
	fmt.Fprintf(w, "CA certificate written to %s (Go clients trust it with SSL_CERT_FILE=%s)\n\n", o.caOut, o.caOut)
	if o.tenant == "" {
		return // a --fleet only: its tenants are the benchmark's to configure
	}
	fmt.Fprintf(w, "certrotator config:\n\ntenants:\n  graphsim:\n")
	fmt.Fprintf(w, "    tenant_id: %s\n    client_id: %s\n    client_secret: ${%s}\n", o.tenant, o.clientID, o.secretEnv)
	fmt.Fprintf(w, "    authority_url: %s\n    graph_url: %s\n\nconnectors:\n", url, url)
	for _, c := range o.connectors {
		fmt.Fprintf(w, "  - {tenant: graphsim, id: %s}   # %s\n", c.id, c.displayName)
	}
}
