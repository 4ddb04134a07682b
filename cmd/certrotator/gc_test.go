package main

import (
	"runtime/debug"
	"testing"
)

// Not parallel: the GC target is the process's.
func TestTuneGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	tuneGC(&env{lookup: mapLookup(nil)})
	if got := debug.SetGCPercent(100); got != gcPercentDefault {
		t.Errorf("GC target without GOGC = %d, want %d", got, gcPercentDefault)
	}
	// GOGC set: the runtime read it at start; tuneGC leaves it be.
	debug.SetGCPercent(150)
	tuneGC(&env{lookup: mapLookup(map[string]string{envGOGC: "150"})})
	if got := debug.SetGCPercent(100); got != 150 {
		t.Errorf("GC target with GOGC=150 = %d, want 150 (left to the runtime)", got)
	}
}

// mapLookup is an env's lookup over m.
func mapLookup(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}
