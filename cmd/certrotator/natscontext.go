package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/certrotator/certrotator/config"
)

// natsContext is the part of a `nats` CLI context that says where and how
// to connect. The nats CLI keeps one JSON file per context in
// ~/.config/nats/context/<name>.json and the selected name in
// ~/.config/nats/context.txt; reading the same files lets an operator who
// already uses the nats CLI run certrotator's NATS commands with no config.
type natsContext struct {
	URL      string `json:"url"`
	User     string `json:"user"`
	Password string `json:"password"`
	Token    string `json:"token"`
	Creds    string `json:"creds"`
	NKey     string `json:"nkey"`
	Cert     string `json:"cert"`
	Key      string `json:"key"`
	CA       string `json:"ca"`
	// InboxPrefix is the nats CLI's `--inbox-prefix` kept in the context:
	// a user whose permissions allow only its own replies needs it.
	InboxPrefix string `json:"inbox_prefix"`
}

// errNoContext: no context was named and none is selected.
var errNoContext = errors.New("no nats context selected")

// natsContextDir is where the nats CLI keeps its contexts: under
// $XDG_CONFIG_HOME when set, as the nats CLI does, else ~/.config.
func natsContextDir(e *env) (string, error) {
	if x, ok := e.lookup("XDG_CONFIG_HOME"); ok && x != "" {
		return filepath.Join(x, "nats"), nil
	}
	home, ok := e.lookup("HOME")
	if !ok || home == "" {
		return "", errors.New("finding nats contexts: HOME is not set")
	}
	return filepath.Join(home, ".config", "nats"), nil
}

// loadNATSContext reads the context called name, or the selected one
// (NATS_CONTEXT, then context.txt) when name is empty. It returns
// errNoContext when nothing is named or selected.
func loadNATSContext(e *env, name string) (natsContext, error) {
	if name == "" {
		name, _ = e.lookup("NATS_CONTEXT")
	}
	dir, err := natsContextDir(e)
	if err != nil && name == "" {
		return natsContext{}, errNoContext // no home, nothing selected
	}
	if err != nil {
		return natsContext{}, err
	}
	if name == "" {
		sel, err := os.ReadFile(filepath.Join(dir, "context.txt"))
		if errors.Is(err, os.ErrNotExist) {
			return natsContext{}, errNoContext
		}
		if err != nil {
			return natsContext{}, fmt.Errorf("reading the selected nats context: %w", err)
		}
		name = strings.TrimSpace(string(sel))
	}
	if name == "" {
		return natsContext{}, errNoContext
	}
	if strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return natsContext{}, fmt.Errorf("nats context %q is not a context name", name)
	}
	path := filepath.Join(dir, "context", name+".json")
	body, err := os.ReadFile(path)
	if err != nil {
		return natsContext{}, fmt.Errorf("reading nats context %s: %w", name, err)
	}
	var c natsContext
	if err := json.Unmarshal(body, &c); err != nil {
		return natsContext{}, fmt.Errorf("decoding nats context %s (%s): %w", name, path, err)
	}
	home, _ := e.lookup("HOME")
	for _, p := range []*string{&c.Creds, &c.NKey, &c.Cert, &c.Key, &c.CA} {
		*p = expandHome(*p, home)
	}
	return c, nil
}

// expandHome turns a leading ~ into home, as the nats CLI accepts it in
// context files.
func expandHome(p, home string) string {
	if home != "" && (p == "~" || strings.HasPrefix(p, "~/")) {
		return filepath.Join(home, p[1:])
	}
	return p
}

// natsSettings maps the context onto the config's NATS settings, so that
// one function (bus.ClientOptions) turns either into connection options.
func (c natsContext) natsSettings() config.NATS {
	return config.NATS{
		URL: c.URL, User: c.User, Password: c.Password, CredsFile: c.Creds, NKeyFile: c.NKey,
		TLS:           config.TLS{CAFile: c.CA, CertFile: c.Cert, KeyFile: c.Key},
		SubjectPrefix: config.SubjectPrefixDefault, InboxPrefix: c.InboxPrefix,
	}
}
