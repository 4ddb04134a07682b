package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc"
)

// cmdRollback rolls a job back the Vault-native way, as `vault kv rollback`
// does: it writes version N's data as a new KV version (check-and-set on
// the current one, custom metadata saying from which version and who
// asked) with the caller's own Vault credentials, then publishes a forced
// request pinned to that new version. The latest version is then the
// rolled-back bundle, so every later run (cron, watch, event) agrees with
// it until someone writes a newer one; the worker itself needs no write on
// the path. A version Vault deleted or destroyed is refused before
// anything is written.
func cmdRollback(e *env, fs *flag.FlagSet, args []string) int {
	path := fs.String("c", "", "config file")
	version := fs.Int("to-version", 0, "the Vault KV version to roll back to (required; see `certrotator history`)")
	var connectors stringList
	fs.Var(&connectors, "connector", "connector id to roll back (repeatable; default: all of the job's)")
	var wait time.Duration
	durationVar(fs, &wait, "wait", 0, "wait this long for the outcomes, print them, exit 1 if any failed")
	asJSON := fs.Bool("json", false, "with --wait: print the outcomes as CloudEvent JSON lines")
	cfg, job, code := parseJob(e, fs, args, path)
	if cfg == nil {
		return code
	}
	if *version <= 0 {
		return usageError(e, "rollback needs --to-version N, a KV version (see `certrotator history`)")
	}
	by := requester(e)
	written, err := rollbackInVault(e, cfg, job, *version, by)
	if err != nil {
		return failure(e, err) // exit 3 when Vault cannot be reached
	}
	fmt.Fprintf(e.stderr, "certrotator: wrote version %d of %s/%s as version %d\n", *version, job.Source.Mount, job.Source.Path, written)
	req := jobs.Request{
		Job: job.Name, Connectors: connectors, Force: true, Version: written,
		Reason:      "rollback to version " + strconv.Itoa(*version) + " (written as version " + strconv.Itoa(written) + ")",
		RequestedBy: by, Trigger: contract.TriggerManual,
	}
	c, err := dialConfig(e, cfg)
	if err != nil {
		// Exit 3 when NATS cannot be reached; the version is written either way.
		return failure(e, fmt.Errorf("%w (version %d is written: `certrotator rotate %s` rolls it out)", err, written, job.Name))
	}
	defer c.Close()
	return rotateRemote(e, c, req, wait, *asJSON)
}

// rollbackInVault writes version `to` of the job's path as a new version
// with the caller's own credentials: VAULT_TOKEN (and VAULT_ADDR) when set,
// otherwise the config's vault section.
func rollbackInVault(e *env, cfg *config.Config, job jobs.Job, to int, by string) (int, error) {
	vc := callerVault(e, cfg, newLogger(cfg.Log, e.stderr))
	ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
	defer cancel()
	return withVault(ctx, vc, func(src *vaultsrc.Client) (int, error) {
		return src.Rollback(ctx, job.Source, to, by)
	})
}

// callerVault is the config's vault section, with the caller's token and
// address from VAULT_TOKEN and VAULT_ADDR when they are set: a rollback is
// a person's write, made with that person's rights, not the worker's.
func callerVault(e *env, cfg *config.Config, logger *slog.Logger) vaultsrc.Config {
	vc := sourceConfig(cfg, logger)
	if addr, ok := e.lookup("VAULT_ADDR"); ok && addr != "" {
		vc.Address = addr
	}
	if token, ok := e.lookup("VAULT_TOKEN"); ok && token != "" {
		vc.Auth = vaultsrc.Auth{Method: vaultsrc.MethodToken, Token: token}
	}
	return vc
}
