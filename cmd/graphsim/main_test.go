package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/certrotator/certrotator/connector/graphsim"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseFlags(t *testing.T) {
	t.Parallel()
	secret := env(map[string]string{"SECRET": "s3cret"})
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{"complete", []string{"--tenant", "t", "--client-id", "c", "--client-secret-env", "SECRET", "--connector", "a=Alpha", "--connector", "b"}, false},
		{"no tenant", []string{"--client-id", "c", "--client-secret-env", "SECRET"}, true},
		{"secret env empty", []string{"--tenant", "t", "--client-id", "c", "--client-secret-env", "MISSING"}, true},
		{"empty connector id", []string{"--tenant", "t", "--client-id", "c", "--client-secret-env", "SECRET", "--connector", "=x"}, true},
		{"stray argument", []string{"--tenant", "t", "--client-id", "c", "--client-secret-env", "SECRET", "extra"}, true},
		{"negative limit", []string{"--tenant", "t", "--client-id", "c", "--client-secret-env", "SECRET", "--app-limit", "-1"}, true},
		{"zero window", []string{"--tenant", "t", "--client-id", "c", "--client-secret-env", "SECRET", "--limit-window", "0s"}, true},
		{"zero page size", []string{"--tenant", "t", "--client-id", "c", "--client-secret-env", "SECRET", "--page-size", "0"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o, err := parseFlags(tt.args, secret, &bytes.Buffer{})
			if tt.wantErr {
				if !errors.Is(err, errUsage) {
					t.Errorf("err = %v, want errUsage", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.limits != graphsim.GraphLimits || o.pageSize != graphsim.PageSizeDefault || o.latency != 0 {
				t.Errorf("defaults: limits %+v, page size %d, latency %s; want Graph's limits, %d, 0", o.limits, o.pageSize, o.latency, graphsim.PageSizeDefault)
			}
			if o.secret != "s3cret" || len(o.connectors) != 2 || o.connectors[0] != (connectorFlag{"a", "Alpha"}) || o.connectors[1] != (connectorFlag{"b", "b"}) {
				t.Errorf("options = %+v", o)
			}
		})
	}
}

func TestRunWritesCAAndConfig(t *testing.T) {
	t.Parallel()
	caOut := filepath.Join(t.TempDir(), "ca.pem")
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // serve, print, then stop at once
	var out bytes.Buffer
	err := run(ctx, []string{"--listen", "127.0.0.1:0", "--ca-out", caOut, "--tenant", "t1", "--client-id", "c1",
		"--client-secret-env", "SECRET", "--connector", "conn-1=demo"}, &out, env(map[string]string{"SECRET": "s3cret"}))
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(caOut)
	if err != nil || !bytes.HasPrefix(pem, []byte("-----BEGIN CERTIFICATE-----")) {
		t.Errorf("CA file: %q, %v", pem, err)
	}
	for _, want := range []string{"authority_url: https://127.0.0.1:", "graph_url: https://127.0.0.1:", "client_secret: ${SECRET}", "id: conn-1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "s3cret") {
		t.Error("output holds the client secret")
	}
}

func TestParseFlagsCompressedClock(t *testing.T) {
	t.Parallel()
	o, err := parseFlags([]string{"--tenant", "t", "--client-id", "c", "--client-secret-env", "SECRET",
		"--latency", "80ms", "--page-size", "50", "--limit-window", "6s", "--tenant-limit", "0"}, env(map[string]string{"SECRET": "s"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := graphsim.Limits{AppPerWindow: 200, TenantPerWindow: 0, Window: 6 * time.Second}
	if o.limits != want || o.latency != 80*time.Millisecond || o.pageSize != 50 {
		t.Errorf("options: limits %+v latency %s page size %d; want %+v, 80ms, 50", o.limits, o.latency, o.pageSize, want)
	}
}
