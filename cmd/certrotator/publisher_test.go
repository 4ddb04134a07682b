package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/certrotator/certrotator/internal/testkit"
)

// publisherCreds writes a creds file as `nsc generate creds` does: a user
// JWT and the user's seed. The test's server runs without accounts, so it
// takes any signed connect; the file is what the docs have the operator
// copy to CI.
func publisherCreds(t *testing.T, dir string) string {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	seed, _ := kp.Seed()
	const jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJwdWJsaXNoZXIifQ.c2ln"
	return testkit.WriteFile(t, dir, "publisher.creds", fmt.Sprintf(`-----BEGIN NATS USER JWT-----
%s
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.

-----BEGIN USER NKEY SEED-----
%s
------END USER NKEY SEED------
`, jwt, seed))
}

// TestPublisherConfig follows the docs' small publisher config (nats.url
// and nats.creds_file, nothing else) as a CI job would: validate accepts
// it and says what it is for, rotate publishes a job that the config does
// not list (the worker knows it), status, events and history read, and the
// commands that need the worker's config say so.
func TestPublisherConfig(t *testing.T) {
	t.Parallel()
	v := vaultHolding(t, "b2c/publisher")
	conn := freshConn(t)
	path := cliConfig(t, v, "b2c/publisher", conn)
	listen := addNATSListen(t, path)
	defer startServing(t, path)()

	dir := t.TempDir()
	publisher := testkit.WriteFile(t, dir, "publisher.yaml", fmt.Sprintf(`nats:
  url: nats://%s
  creds_file: %s
`, listen, publisherCreds(t, dir)))

	code, out, errOut := runCLI(t, nil, "validate", "-c", publisher)
	if code != exitOK || !strings.Contains(out, "a publisher config (NATS only)") {
		t.Fatalf("validate: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, nil, "rotate", "-c", publisher, "cli-job", "--wait", "30s")
	if code != exitOK || !strings.Contains(out, "succeeded  cli-job/"+conn) || !strings.Contains(out, "1 succeeded, 0 failed") {
		t.Fatalf("rotate --wait: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	// A job no worker knows is published all the same: the workers answer it.
	if code, out, errOut = runCLI(t, nil, "rotate", "-c", publisher, "not-a-job"); code != exitOK || !strings.Contains(out, "requested not-a-job") {
		t.Errorf("rotate of a job the publisher config does not list: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	for _, args := range [][]string{{"status"}, {"events", "--since", "1h"}, {"history", "cli-job"}} {
		code, out, errOut := runCLI(t, nil, append(args, "-c", publisher)...)
		if code != exitOK || !strings.Contains(out, conn) {
			t.Errorf("%s -c publisher.yaml: exit %d, stdout %q, stderr %q", args[0], code, out, errOut)
		}
	}
	for _, args := range [][]string{{"plan", "cli-job"}, {"rotate", "cli-job", "--local"}, {"check-source"}} {
		code, _, errOut := runCLI(t, nil, append(args, "-c", publisher)...)
		if code != exitUsage || !strings.Contains(errOut, "publisher config") {
			t.Errorf("%s -c publisher.yaml: exit %d, stderr %q; want exit 2 saying it needs the worker's config", args[0], code, errOut)
		}
	}
}
