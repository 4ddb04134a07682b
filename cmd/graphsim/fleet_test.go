package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFleetServesCounts(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fleet := filepath.Join(dir, "fleet.json")
	const doc = `{"tenants":[{"tenant_id":"t1","client_id":"c1","connectors":["a","b"]},{"tenant_id":"t2","client_id":"c2","connectors":["c"]}]}`
	if err := os.WriteFile(fleet, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"--listen", "127.0.0.1:0", "--ca-out", filepath.Join(dir, "ca.pem"), "--fleet", fleet,
			"--counts-listen", "127.0.0.1:0", "--pfx-cache", "--http2", "--client-secret-env", "SECRET"}, pw, env(map[string]string{"SECRET": "s3cret"}))
		pw.Close()
	}()
	var counts string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "counts: "); ok {
			counts = u
			break
		}
	}
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if counts == "" {
		t.Fatal("no counts URL printed")
	}
	resp, err := http.Get(counts)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep countsReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Tenants) != 2 {
		t.Errorf("counts of %d tenants, want the fleet's 2: %+v", len(rep.Tenants), rep)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop")
	}
}

func TestFleetRefusesBadEntries(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"no client id": `{"tenants":[{"tenant_id":"t1","connectors":["a"]}]}`,
		"duplicate":    `{"tenants":[{"tenant_id":"t1","client_id":"c","connectors":["a","a"]}]}`,
		"not json":     `tenants: []`,
	} {
		fleet := filepath.Join(t.TempDir(), "fleet.json")
		if err := os.WriteFile(fleet, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		err := run(t.Context(), []string{"--listen", "127.0.0.1:0", "--fleet", fleet, "--client-secret-env", "S"}, io.Discard, env(map[string]string{"S": "s"}))
		if !errors.Is(err, errUsage) {
			t.Errorf("%s: err = %v, want errUsage", name, err)
		}
	}
}
