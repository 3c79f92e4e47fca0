package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// logger writes the sidecar's stdout: one line per event, each starting with
// the time (RFC 3339, UTC, seconds) and the component name, so `kubectl logs`
// can be grepped by either. Requests are logged as
//
//	<time> <component> <METHOD> <target> <status> <duration>ms [key=value ...]
//
// (README.md has the full list). A mutex keeps concurrent handlers from
// interleaving partial lines.
type logger struct {
	mu        sync.Mutex
	w         io.Writer
	component string
}

func newLogger(w io.Writer, component string) *logger {
	return &logger{w: w, component: component}
}

// event logs a free-text line (start, shutdown) followed by key=value fields.
func (l *logger) event(msg string, fields ...field) {
	l.write(msg + formatFields(fields))
}

// request logs the one line a request or tunnel gets.
func (l *logger) request(method, target string, status int, took time.Duration, fields ...field) {
	l.write(fmt.Sprintf("%s %s %d %s%s", method, target, status, formatDuration(took), formatFields(fields)))
}

func (l *logger) write(rest string) {
	line := time.Now().UTC().Format(time.RFC3339) + " " + l.component + " " + rest + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, line) // stdout going away is nothing we can report
}

// formatDuration always uses milliseconds (to the microsecond), so durations
// compare as numbers (time.Duration's String switches units and uses µ).
func formatDuration(d time.Duration) string {
	return fmt.Sprintf("%.3fms", float64(d)/float64(time.Millisecond))
}

type field struct{ key, value string }

func kv(key, value string) field { return field{key, value} }

// formatFields renders " k=v k2=v2"; values that are empty or hold spaces,
// quotes or '=' are Go-quoted so a line always splits unambiguously.
func formatFields(fields []field) string {
	var b strings.Builder
	for _, f := range fields {
		v := f.value
		if v == "" || strings.ContainsAny(v, " \t\"=\\") || strings.ContainsFunc(v, isControl) {
			v = fmt.Sprintf("%q", v)
		}
		b.WriteString(" " + f.key + "=" + v)
	}
	return b.String()
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }
