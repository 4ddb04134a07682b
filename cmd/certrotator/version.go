package main

import (
	"cmp"
	"fmt"
	"runtime"
	"runtime/debug"
)

// Stamped by `make release` and `make image` with
// -ldflags "-X main.version=… -X main.commit=…", because a binary built from
// a clone (rather than `go install module@version`) carries "(devel)" as its
// module version, and a -trimpath build from a tarball carries no VCS data.
// Empty means "take it from the build info".
var (
	version string
	commit  string
)

// buildVersion is what `certrotator --version` says, assembled from the
// stamped values first and the Go build info second, so that an operator can
// always tell which source a running binary came from.
type buildVersion struct {
	Version  string // module or stamped version; "(devel)" when unknown
	Commit   string // VCS revision; "unknown" when absent
	Modified bool   // built from a work tree with uncommitted changes
	Go       string // toolchain, e.g. go1.26.8
	Platform string // GOOS/GOARCH
}

// readVersion combines the stamped values with info (as returned by
// debug.ReadBuildInfo; nil when the binary has none). Stamped values win:
// they are what the release process decided.
func readVersion(info *debug.BuildInfo, stampedVersion, stampedCommit string) buildVersion {
	v := buildVersion{Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	var revision string
	if info != nil {
		v.Version = info.Main.Version
		v.Go = cmp.Or(info.GoVersion, v.Go)
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				v.Modified = s.Value == "true"
			}
		}
	}
	v.Version = cmp.Or(stampedVersion, v.Version, "(devel)")
	v.Commit = cmp.Or(stampedCommit, revision, "unknown")
	return v
}

func (v buildVersion) String() string {
	s := fmt.Sprintf("certrotator %s (commit %s", v.Version, v.Commit)
	if v.Modified {
		s += ", modified"
	}
	return s + ", " + v.Go + " " + v.Platform + ")"
}

// cmdVersion prints one line: version, commit, toolchain and platform.
func cmdVersion(e *env, args []string) int {
	if len(args) > 0 {
		return usageError(e, "--version takes no arguments")
	}
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(e.stdout, readVersion(info, version, commit))
	return exitOK
}
