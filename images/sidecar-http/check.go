package main

import (
	"fmt"
	"io"
	"net"
	"time"
)

// runCheck is an exec probe: kubelet's tcpSocket and httpGet probes dial the
// pod IP, but these servers listen on 127.0.0.1 only, so a probe has to run
// inside the pod's network namespace. Exit 0 if ADDR accepts a TCP
// connection within a second, 1 if not, 2 on a usage error.
func runCheck(args []string, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintln(stderr, "usage: sidecar-http check HOST:PORT")
		return exitUsage
	}
	addr := args[0]
	if _, _, err := net.SplitHostPort(addr); err != nil {
		fmt.Fprintf(stderr, "sidecar-http check: invalid address %q: %v\n", addr, err)
		return exitUsage
	}
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		// Kubelet records a failed exec probe's output in the pod's events.
		fmt.Fprintf(stderr, "sidecar-http check: %v\n", err)
		return exitFailed
	}
	_ = conn.Close()
	return exitOK
}
