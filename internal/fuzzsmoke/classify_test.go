package main

import "testing"

// flake is the output of the known coordinator race (golang/go#75804), as
// CI printed it.
const flake = `fuzz: elapsed: 0s, gathering baseline coverage: 0/203 completed
fuzz: elapsed: 3s, execs: 59766 (19916/sec), new interesting: 6 (total: 203)
fuzz: elapsed: 6s, execs: 59766 (0/sec), new interesting: 6 (total: 203)
--- FAIL: FuzzObject (16.04s)
    context deadline exceeded
FAIL
exit status 1
FAIL	github.com/bearerguard/bearerguard/internal/jsonscan	16.092s
`

const crasher = `fuzz: elapsed: 0s, gathering baseline coverage: 0/3 completed
fuzz: elapsed: 0s, gathering baseline coverage: 3/3 completed, now fuzzing with 2 workers
fuzz: minimizing 41-byte failing input file
fuzz: elapsed: 0s, minimizing
--- FAIL: FuzzParse (0.12s)
    --- FAIL: FuzzParse (0.00s)
        fuzz_test.go:20: round trip changed "a\x00"

    Failing input written to testdata/fuzz/FuzzParse/1b6fa0b1d2c3
    To re-run:
    go test -run=FuzzParse/1b6fa0b1d2c3
FAIL
exit status 1
FAIL	github.com/bearerguard/bearerguard/scopes	0.140s
`

const panicked = `--- FAIL: FuzzExtract (0.30s)
panic: runtime error: index out of range [3] with length 3 [recovered]
FAIL
`

const seedFailure = `--- FAIL: FuzzValue (0.00s)
    --- FAIL: FuzzValue/seed#3 (0.00s)
        fuzz_test.go:40: value accepted twice
FAIL
exit status 1
`

const deadlineAndError = `--- FAIL: FuzzObject (16.04s)
    context deadline exceeded
    fuzz_test.go:70: decoders disagree
FAIL
`

const buildFailure = `# github.com/bearerguard/bearerguard/scopes [github.com/bearerguard/bearerguard/scopes.test]
./fuzz_test.go:9:2: undefined: nope
FAIL	github.com/bearerguard/bearerguard/scopes [build failed]
`

func TestClassify(t *testing.T) {
	tests := []struct {
		name      string
		exitOK    bool
		output    string
		newCorpus bool
		want      outcome
	}{
		{"clean run", true, "fuzz: elapsed: 3s, execs: 1000\nPASS\nok\tx\t3.1s\n", false, passed},
		{"coordinator deadline only", false, flake, false, deadlineOnly},
		{"deadline with a reproducer written", false, flake, true, failed},
		{"crasher", false, crasher, true, failed},
		{"crasher text without a new corpus file", false, crasher, false, failed},
		{"panic", false, panicked, false, failed},
		{"seed corpus failure", false, seedFailure, false, failed},
		{"deadline beside a t.Error", false, deadlineAndError, false, failed},
		{"build failure", false, buildFailure, false, failed},
		{"non-zero exit, no output", false, "", false, failed},
		{"non-zero exit, unknown output", false, "signal: killed\n", false, failed},
		{"deadline, then unindented failure text", false,
			"--- FAIL: X\n    context deadline exceeded\nsignal: killed\nruntime: out of memory\nFAIL\n", false, failed},
		{"exit 0 but a reproducer appeared", true, "PASS\n", true, failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := classify(tt.exitOK, tt.output, tt.newCorpus); got != tt.want {
				t.Errorf("classify = %v, want %v", got, tt.want)
			}
		})
	}
}
