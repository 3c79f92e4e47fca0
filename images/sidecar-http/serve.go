package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// shutdownGrace bounds how long a stopping server waits for in-flight
// requests and tunnels: well inside the kubelet's default 30 s grace period,
// which native sidecars share with the application containers before them.
const shutdownGrace = 5 * time.Second

// server is what runServer needs from a subcommand.
type server struct {
	name    string // subcommand, for error messages
	listen  string
	handler http.Handler
	log     *logger
	tunnels *tunnelSet    // the proxy's hijacked CONNECT tunnels; nil otherwise
	start   []field       // extra fields for the "listening on" line
	grace   time.Duration // 0: shutdownGrace
}

// runServer is the common life of both servers: listen, log the start line,
// serve until SIGTERM or SIGINT, then drain and exit 0.
func runServer(s server, stderr io.Writer) int {
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		fmt.Fprintf(stderr, "sidecar-http %s: %v\n", s.name, err)
		return exitFailed
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	return serve(ctx, ln, s, stderr)
}

// configExit maps a configuration error to an exit code: help is a success,
// anything else a usage error (the flag package has printed its own).
func configExit(stderr io.Writer, name string, err error) (code int, done bool) {
	var printed flagError
	switch {
	case err == nil:
		return 0, false
	case errors.Is(err, errHelp):
		return exitOK, true
	case errors.As(err, &printed):
		return exitUsage, true
	default:
		fmt.Fprintf(stderr, "sidecar-http %s: %v\n", name, err)
		return exitUsage, true
	}
}

// serve runs h on ln until ctx ends, then shuts down: the listener closes at
// once, in-flight requests and open tunnels get shutdownGrace to finish, and
// whatever is still open after that is closed.
func serve(ctx context.Context, ln net.Listener, s server, stderr io.Writer) int {
	lg, tunnels := s.log, s.tunnels
	srv := &http.Server{
		Handler: s.handler,
		// Slow-header clients cannot hold connections forever; no write
		// timeout, since proxied responses and tunnels may be long.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       90 * time.Second,
		ErrorLog:          log.New(stderr, "sidecar-http: ", 0),
	}
	lg.event("listening on "+ln.Addr().String(), s.start...)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err := <-served:
		fmt.Fprintf(stderr, "sidecar-http: %v\n", err)
		return exitFailed
	case <-ctx.Done():
	}
	grace := s.grace
	if grace == 0 {
		grace = shutdownGrace
	}
	lg.event(fmt.Sprintf("shutting down: waiting up to %s for in-flight requests", grace))
	graceCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(graceCtx)
	if err == nil {
		err = tunnels.wait(graceCtx)
	}
	if err != nil {
		_ = srv.Close() // past the grace period: drop what is left
		n := tunnels.closeAll()
		lg.event("grace period over: closed the remaining connections", kv("tunnels", fmt.Sprint(n)))
		// Give the closed tunnels a moment to write their summary lines
		// before the process exits.
		flushCtx, cancelFlush := context.WithTimeout(context.Background(), time.Second)
		defer cancelFlush()
		_ = tunnels.wait(flushCtx)
	}
	lg.event("stopped")
	return exitOK
}
