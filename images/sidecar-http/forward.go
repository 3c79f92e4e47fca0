package main

import (
	"net"
	"net/http"
	"net/http/httputil"
	"slices"
	"time"
)

// Pieces shared by the interceptor's upstream forwarding and the forward
// proxy: the outbound transport, header handling, the per-request log line.

// newTransport never consults HTTP_PROXY: the sidecar is the proxy, and a
// proxy variable meant for the application must not make it call itself.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
}

// keepInboundHeaders restores what ReverseProxy.Rewrite strips before it runs
// (Forwarded and X-Forwarded-*) and the raw query (it drops parameters it
// cannot parse): a sidecar must not change what the application sent.
func keepInboundHeaders(pr *httputil.ProxyRequest) {
	for _, h := range []string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		if v, ok := pr.In.Header[h]; ok {
			pr.Out.Header[h] = v
		}
	}
	pr.Out.URL.RawQuery = pr.In.URL.RawQuery
}

// badGateway is the ReverseProxy error handler: 502, and the reason goes
// into the request's log line (not a separate line).
func badGateway(w http.ResponseWriter, _ *http.Request, err error) {
	if rec, ok := w.(*recorder); ok { // ReverseProxy hands us the writer it got
		rec.err = err
	}
	http.Error(w, "bad gateway: "+err.Error(), http.StatusBadGateway)
}

// recorder remembers the status a handler sent and any upstream error.
type recorder struct {
	http.ResponseWriter
	status int
	err    error
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController (used by ReverseProxy to flush
// streamed responses) reach the real writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// logRequests writes the one line per request once next has returned, i.e.
// after the whole answer was sent, so the duration covers the body too.
func logRequests(lg *logger, next http.Handler, fields ...field) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &recorder{ResponseWriter: w}
		defer func() {
			// ReverseProxy aborts with a panic (http.ErrAbortHandler) when the
			// upstream fails mid-body: log the request, then let net/http
			// close the connection as it intends.
			p := recover()
			status, fs := rec.status, fields
			if status == 0 {
				status = http.StatusOK // nothing written: net/http sends 200
			}
			if rec.err != nil {
				fs = append(slices.Clone(fs), kv("error", rec.err.Error()))
			} else if p != nil {
				fs = append(slices.Clone(fs), kv("error", "response aborted"))
			}
			lg.request(r.Method, logTarget(r), status, time.Since(start), fs...)
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// logTarget is the request target as the client sent it: origin-form
// (/hello?x=1) to the interceptor, absolute-form to the proxy, except that
// credentials in an absolute URI never reach the log.
func logTarget(r *http.Request) string {
	if r.URL.User != nil {
		return r.URL.Redacted()
	}
	return r.RequestURI
}
