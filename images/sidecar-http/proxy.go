package main

import (
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"time"
)

// runProxy is the egress-logger: a forward proxy for applications that honour
// http_proxy / https_proxy. Plain HTTP is relayed request by request; HTTPS
// goes through a CONNECT tunnel whose bytes it cannot (and does not try to)
// read, so a tunnel is logged by host, bytes and duration.
func runProxy(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseProxyFlags(args, stderr)
	if code, done := configExit(stderr, "proxy", err); done {
		return code
	}
	lg := newLogger(stdout, "egress-logger")
	tunnels := newTunnelSet()
	return runServer(server{
		name:    "proxy",
		listen:  cfg.listen,
		handler: newProxy(lg, tunnels, stderr),
		log:     lg,
		tunnels: tunnels,
	}, stderr)
}

func newProxy(lg *logger, tunnels *tunnelSet, stderr io.Writer) http.Handler {
	forward := logRequests(lg, &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			// The inbound URL is already absolute (http://host/path) and Host
			// matches it (net/http takes Host from an absolute-form target,
			// RFC 9112 §3.2.2); only what Rewrite strips needs restoring.
			keepInboundHeaders(pr)
		},
		Transport:    newTransport(),
		ErrorHandler: badGateway,
		ErrorLog:     log.New(stderr, "sidecar-http proxy: ", 0),
	})
	refuse := logRequests(lg, http.HandlerFunc(notAProxyRequest))
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodConnect:
			tunnel(w, r, dialer, lg, tunnels)
		case r.URL.IsAbs() && r.URL.Scheme == "http" && r.URL.Host != "":
			forward.ServeHTTP(w, r)
		default:
			refuse.ServeHTTP(w, r)
		}
	})
}

// notAProxyRequest answers origin-form requests (GET /path) and absolute
// URIs of other schemes: this server only proxies, it serves nothing itself.
// (https:// URLs reach a proxy as CONNECT, never as an absolute URI.)
func notAProxyRequest(w http.ResponseWriter, r *http.Request) {
	msg := "egress-logger is a forward proxy: send absolute http:// URIs (http_proxy) or CONNECT host:port (https_proxy)"
	if r.URL.IsAbs() {
		msg = fmt.Sprintf("egress-logger forwards only http:// URIs, not %s://", r.URL.Scheme)
	}
	http.Error(w, msg, http.StatusBadRequest)
}
