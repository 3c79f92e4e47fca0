package main

import (
	"bytes"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets a test run this package's main in a child process (the test
// binary itself), so signals and exit codes are tested for real.
func TestMain(m *testing.M) {
	if os.Getenv("SIDECAR_HTTP_TEST_RUN_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// logBuffer collects a logger's output; safe for concurrent writes and reads.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const timeRE = `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`

// waitForLine waits until a line of buf matches pattern (anchored to the
// whole line) and returns its submatches.
func waitForLine(t *testing.T, buf interface{ String() string }, pattern string) []string {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + pattern + `$`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := re.FindStringSubmatch(buf.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line matches %q; log:\n%s", pattern, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countLines counts the lines of s matching pattern (anchored).
func countLines(s, pattern string) int {
	return len(regexp.MustCompile(`(?m)^`+pattern+`$`).FindAllString(s, -1))
}

func lineCount(s string) int { return strings.Count(s, "\n") }

// closedAddr is a 127.0.0.1 address nothing listens on (a port just freed).
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
