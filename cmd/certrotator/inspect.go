package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/jobs"
)

func cmdInspect(e *env, fs *flag.FlagSet, args []string) int {
	passEnv := fs.String("password-env", "", "environment variable holding the password (empty variable: no password)")
	passFile := fs.String("password-file", "", "file holding the password (trailing newline ignored)")
	var minValidity time.Duration
	durationVar(fs, &minValidity, "min-validity", jobs.MinValidityDefault, "reject bundles valid for less than this (e.g. 7d)")
	pos, code, ok := parseArgs(e, fs, args)
	if !ok {
		return code
	}
	if *passEnv != "" && *passFile != "" {
		return usageError(e, "give --password-env or --password-file, not both")
	}
	password, err := readPassword(e, *passEnv, *passFile)
	if err != nil {
		return usageError(e, "%v", err)
	}
	pfx, err := readBundleFile(pos[0])
	if err != nil {
		return usageError(e, "reading bundle %s: %v", pos[0], err)
	}
	report := bundle.JudgeFile(pfx, password, time.Now(), minValidity)
	clear(pfx)
	if err := printJSON(e, report); err != nil {
		return exitFailed
	}
	if report.Verdict == bundle.VerdictReject {
		return exitFailed
	}
	return exitOK
}

// readBundleFile reads at most one byte more than bundle.JudgeFile judges,
// so that a huge file given by mistake is refused without being read.
func readBundleFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, bundle.Base64SizeMax+1))
}

// readPassword reads the password from an environment variable or a file,
// by the rule the worker applies to the Vault field (a trailing line break
// is not part of it). An unset variable is an error; an empty one means no
// password.
func readPassword(e *env, envVar, file string) (string, error) {
	switch {
	case envVar != "":
		v, ok := e.lookup(envVar)
		if !ok {
			return "", fmt.Errorf("--password-env %s: the variable is not set (set it, empty for no password)", envVar)
		}
		return bundle.PasswordFromText(v), nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading --password-file: %w", err)
		}
		return bundle.PasswordFromText(string(b)), nil
	}
	return "", nil
}

func printJSON(e *env, v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(e.stderr, "certrotator: writing output: %v\n", err)
		return err
	}
	return nil
}
