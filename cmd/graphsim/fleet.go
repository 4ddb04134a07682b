package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
)

// fleetFile is --fleet's JSON: many tenants and their connectors, for the
// fleet benchmark (bench/), which runs graphsim in a process of its own.
// Every app uses the secret of --client-secret-env, so the file holds no
// secret.
type fleetFile struct {
	Tenants []struct {
		TenantID   string   `json:"tenant_id"`
		ClientID   string   `json:"client_id"`
		Connectors []string `json:"connectors"`
	} `json:"tenants"`
}

// loadFleet reads --fleet into s; the error names the entry at fault.
func loadFleet(path string, s *graphsim.Server, secret string) (tenants, connectors int, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, fmt.Errorf("reading --fleet: %w", err)
	}
	var f fleetFile
	if err := json.Unmarshal(data, &f); err != nil {
		return 0, 0, fmt.Errorf("%w: --fleet %s: %w", errUsage, path, err)
	}
	seen := map[string]bool{}
	for i, t := range f.Tenants {
		if t.TenantID == "" || t.ClientID == "" {
			return 0, 0, fmt.Errorf("%w: --fleet %s: tenants[%d] needs tenant_id and client_id", errUsage, path, i)
		}
		s.AddTenant(t.TenantID, t.ClientID, secret)
		for j, id := range t.Connectors {
			if id == "" || seen[id] {
				return 0, 0, fmt.Errorf("%w: --fleet %s: tenants[%d].connectors[%d] is empty or a duplicate (%q)", errUsage, path, i, j, id)
			}
			seen[id] = true
			s.AddConnector(t.TenantID, id, id)
		}
	}
	return len(f.Tenants), len(seen), nil
}

// countsReport is what the counts endpoint answers: graphsim.Counts per
// tenant id, and the PFX decodes (see graphsim.PFXDecodes).
type countsReport struct {
	Tenants    map[string]graphsim.Counts `json:"tenants"`
	PFXDecodes int                        `json:"pfx_decodes"`
	// Connections is graphsim.Connections: the client connections accepted.
	Connections int64 `json:"connections"`
}

// serveCounts answers GET /counts on addr, in plain HTTP (loopback only:
// the counts say nothing secret, but the endpoint is for a benchmark on
// the same host), until ctx ends. It returns the URL it serves on.
func serveCounts(ctx context.Context, addr string, s *graphsim.Server) (string, func(), error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("listening for --counts-listen %s: %w", addr, err)
	}
	if ip := l.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		l.Close()
		return "", nil, fmt.Errorf("%w: --counts-listen %s: use a loopback address", errUsage, addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /counts", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(countsReport{Tenants: s.AllCounts(), PFXDecodes: s.PFXDecodes(), Connections: s.Connections()})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(l) // http.ErrServerClosed after stop
	}()
	stop := func() {
		_ = srv.Close()
		<-done
	}
	return "http://" + l.Addr().String() + "/counts", stop, nil
}
