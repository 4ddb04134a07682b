package main

import (
	"bytes"
	"context"
	"regexp"
	"runtime/debug"
	"testing"
)

func TestReadVersion(t *testing.T) {
	t.Parallel()
	info := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/certrotator/certrotator", Version: "v1.2.0"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0807cb6aaaa"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	tests := []struct {
		name            string
		info            *debug.BuildInfo
		stamped, commit string
		want            string
	}{
		{"build info only", info, "", "", "certrotator v1.2.0 (commit 0807cb6aaaa, modified, go1.26.8 "},
		{"stamped wins", info, "v1.3.0-2-gabc", "abc1234", "certrotator v1.3.0-2-gabc (commit abc1234, modified, go1.26.8 "},
		{"nothing known", nil, "", "", "certrotator (devel) (commit unknown, go"},
		{"devel module, stamped commit", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "", "feed", "certrotator (devel) (commit feed, "},
	}
	for _, tt := range tests {
		got := readVersion(tt.info, tt.stamped, tt.commit).String()
		if !bytes.HasPrefix([]byte(got), []byte(tt.want)) {
			t.Errorf("%s: %q, want prefix %q", tt.name, got, tt.want)
		}
	}
}

func TestVersionFlag(t *testing.T) {
	t.Parallel()
	line := regexp.MustCompile(`^certrotator \S+ \(commit \S+?(, modified)?, go\S+ [a-z0-9]+/[a-z0-9]+\)\n$`)
	for _, arg := range []string{"--version", "-version", "version"} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{arg}, &out, &errOut, nil)
		if code != exitOK || !line.MatchString(out.String()) || errOut.Len() > 0 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q", arg, code, out.String(), errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"--version", "extra"}, &out, &errOut, nil); code != exitUsage {
		t.Errorf("--version extra: exit %d, want %d", code, exitUsage)
	}
}
