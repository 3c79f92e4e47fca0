package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
)

// runIntercept is the http-interceptor: the application calls
// http://localhost:7979/... and never knows a sidecar answered.
func runIntercept(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseInterceptFlags(args, stderr)
	if code, done := configExit(stderr, "intercept", err); done {
		return code
	}
	lg := newLogger(stdout, "http-interceptor")
	start := []field{kv("mode", "answer")}
	if cfg.upstream != nil {
		start = []field{kv("mode", "forward"), kv("upstream", cfg.upstream.String())}
	}
	return runServer(server{
		name:    "intercept",
		listen:  cfg.listen,
		handler: newInterceptor(cfg.upstream, lg, stderr),
		log:     lg,
		start:   start,
	}, stderr)
}

// newInterceptor answers every request itself, or, with an upstream, relays
// it there; either way each request gets one log line.
func newInterceptor(upstream *url.URL, lg *logger, stderr io.Writer) http.Handler {
	if upstream == nil {
		return logRequests(lg, http.HandlerFunc(answer))
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(upstream) // also sets Host to the upstream's
			keepInboundHeaders(pr)
			// X-Forwarded-For gets 127.0.0.1 appended: the upstream sees it
			// came through a proxy, as with any reverse proxy.
			pr.SetXForwarded()
		},
		Transport:    newTransport(),
		ErrorHandler: badGateway,
		ErrorLog:     log.New(stderr, "sidecar-http intercept: ", 0),
	}
	return logRequests(lg, rp, kv("upstream", upstream.String()))
}

// answer is the interceptor without an upstream: a short text naming what
// was asked, so a test (or a person) can see the request arrived intact.
func answer(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "http-interceptor: %s %s\n", r.Method, r.URL.RequestURI())
}
