// Command sidecar-http is the small HTTP sidecar of the sidecar-injector's
// built-in templates:
//
//	sidecar-http intercept [--listen ADDR] [--upstream URL]   the http-interceptor
//	sidecar-http proxy [--listen ADDR]                        the egress-logger
//	sidecar-http check ADDR                                   an exec probe
//	sidecar-http version
//
// See README.md for the log format and the flags.
package main

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"strings"
)

// VERSION is the one place the version lives: the binary embeds it, and the
// e2e image builder reads it to tag ghcr.io/example/sidecar-http.
//
//go:embed VERSION
var versionFile string

func version() string { return strings.TrimSpace(versionFile) }

// Exit codes: 0 success, 1 a failed check or a server that could not run,
// 2 a usage or configuration error (bad flag, bad upstream URL).
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2
)

const usage = `usage:
  sidecar-http intercept [--listen ADDR] [--upstream URL]
  sidecar-http proxy [--listen ADDR]
  sidecar-http check ADDR
  sidecar-http version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "intercept":
		return runIntercept(rest, stdout, stderr)
	case "proxy":
		return runProxy(rest, stdout, stderr)
	case "check":
		return runCheck(rest, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, version())
		return exitOK
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "sidecar-http: unknown command %q\n%s", cmd, usage)
		return exitUsage
	}
}
