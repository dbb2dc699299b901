// Command fuzzsmoke runs every Go fuzz target of the given modules for a
// bounded number of executions each: the fuzz smoke run of the test command
// (scripts/test.sh).
//
// It exists because a duration budget (-fuzztime 15s) races the fuzzing
// coordinator's own deadline: when the time runs out while a worker is busy,
// go test may report "context deadline exceeded" as a failure with no failing
// input (golang/go#75804, golang/go#51484). A run here is deterministic in
// what fails it:
//
//   - each target gets an execution count (-fuzztime Nx), not a duration;
//   - a run fails when go test writes a reproducer (a new file under
//     testdata/fuzz/<target>), prints a panic or a fatal error, reports a
//     failure of its own (t.Error, t.Fatal), or fails to build;
//   - a run whose only complaint is the coordinator's deadline is retried
//     once, and reported as a warning if it happens again.
//
// The seed corpus replay (plain go test) stays the deterministic gate;
// fuzzing for longer belongs to scripts/fuzz.sh.
//
// Usage:
//
//	go run ./internal/fuzzsmoke [-scale F] [-fuzztime D] [module dir ...]
//
// With -fuzztime set (a duration such as 10m), every target runs for that
// long instead of its execution budget: the long run of scripts/fuzz.sh.
package main
