package main

import (
	"bufio"
	"strings"
)

// outcome is what a fuzz run's exit status, output and corpus say about it.
type outcome int

const (
	// passed: go test exited 0.
	passed outcome = iota
	// failed: a real failure (reproducer written, panic, fatal error,
	// t.Error or t.Fatal output, build failure, or anything unrecognised).
	failed
	// deadlineOnly: go test failed and its only complaint was the fuzzing
	// coordinator's deadline ("context deadline exceeded"), with no
	// reproducer written: the known race of golang/go#75804.
	deadlineOnly
)

func (o outcome) String() string {
	switch o {
	case passed:
		return "passed"
	case deadlineOnly:
		return "coordinator deadline only"
	default:
		return "failed"
	}
}

// classify decides the outcome of one fuzz run. exitOK is whether go test
// exited 0, output its combined output, newCorpus whether a file appeared
// under testdata/fuzz/<target> during the run.
//
// It fails closed: only an output whose every failure line is the known
// deadline message is deadlineOnly; any other failure text, or none at all,
// is failed.
func classify(exitOK bool, output string, newCorpus bool) outcome {
	if newCorpus {
		return failed
	}
	if exitOK {
		return passed
	}
	sawDeadline := false
	sc := bufio.NewScanner(strings.NewReader(output))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	inFail := false
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.Contains(line, "Failing input written to"),
			strings.HasPrefix(trimmed, "panic:"),
			strings.HasPrefix(trimmed, "fatal error:"),
			strings.Contains(line, "To re-run:"),
			strings.Contains(line, "[build failed]"),
			strings.Contains(line, "[setup failed]"):
			return failed
		case strings.HasPrefix(trimmed, "--- FAIL:"):
			inFail = true
		case inFail && strings.HasPrefix(line, "    "):
			// The body of a --- FAIL block: test output. Only the
			// coordinator's deadline message is tolerated.
			if trimmed == "context deadline exceeded" {
				sawDeadline = true
				continue
			}
			if trimmed != "" {
				return failed
			}
		case trimmed == "FAIL", strings.HasPrefix(trimmed, "FAIL\t"),
			strings.HasPrefix(trimmed, "exit status "),
			strings.HasPrefix(trimmed, "fuzz: elapsed:"),
			strings.HasPrefix(trimmed, "warning: starting with empty corpus"),
			trimmed == "":
			inFail = false
		default:
			return failed // unrecognised text: fail closed
		}
	}
	if sc.Err() != nil || !sawDeadline {
		return failed
	}
	return deadlineOnly
}
