package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestInterceptAnswersItself(t *testing.T) {
	var logs logBuffer
	srv := httptest.NewServer(newInterceptor(nil, newLogger(&logs, "http-interceptor"), io.Discard))
	defer srv.Close()

	res, err := http.Get(srv.URL + "/hello?name=app")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != "http-interceptor: GET /hello?name=app\n" {
		t.Errorf("got %d %q", res.StatusCode, body)
	}
	waitForLine(t, &logs, timeRE+` http-interceptor GET /hello\?name=app 200 \d+\.\d{3}ms`)

	res, err = http.Post(srv.URL+"/orders", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "http-interceptor: POST /orders\n" {
		t.Errorf("POST: got %q", body)
	}
	waitForLine(t, &logs, timeRE+` http-interceptor POST /orders 200 \d+\.\d{3}ms`)
	if n := lineCount(logs.String()); n != 2 {
		t.Errorf("want exactly one line per request, got %d:\n%s", n, logs.String())
	}
}

// seen is what an upstream test server received.
type seen struct {
	method, uri, host, body, header, xff string
}

func recordingUpstream(t *testing.T) (*httptest.Server, <-chan seen) {
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.RequestURI, r.Host, string(b), r.Header.Get("X-Request-Id"), r.Header.Get("X-Forwarded-For")}
		w.Header().Set("X-Upstream", "yes")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "created by upstream")
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func TestInterceptForwardsToUpstream(t *testing.T) {
	// The sidecar is the proxy: a proxy variable in its environment must
	// not send its upstream calls elsewhere.
	t.Setenv("HTTP_PROXY", "http://"+closedAddr(t))
	upstream, got := recordingUpstream(t)
	u, _ := url.Parse(upstream.URL)
	var logs logBuffer
	srv := httptest.NewServer(newInterceptor(u, newLogger(&logs, "http-interceptor"), io.Discard))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/items/7?dry=1&raw=a;b", strings.NewReader(`{"n":7}`))
	req.Header.Set("X-Request-Id", "abc-123")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()

	if res.StatusCode != http.StatusCreated || string(body) != "created by upstream" || res.Header.Get("X-Upstream") != "yes" {
		t.Errorf("relayed answer: %d %q %v", res.StatusCode, body, res.Header)
	}
	s := <-got
	want := seen{http.MethodPut, "/items/7?dry=1&raw=a;b", u.Host, `{"n":7}`, "abc-123", "127.0.0.1"}
	if s != want {
		t.Errorf("upstream saw %+v, want %+v", s, want)
	}
	waitForLine(t, &logs, timeRE+` http-interceptor PUT /items/7\?dry=1&raw=a;b 201 \d+\.\d{3}ms upstream=`+upstream.URL)
}

func TestInterceptUpstreamBasePath(t *testing.T) {
	upstream, got := recordingUpstream(t)
	u, _ := url.Parse(upstream.URL + "/api/v1")
	srv := httptest.NewServer(newInterceptor(u, newLogger(io.Discard, "http-interceptor"), io.Discard))
	defer srv.Close()

	res, err := http.Get(srv.URL + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if s := <-got; s.uri != "/api/v1/hello" {
		t.Errorf("upstream saw %q, want /api/v1/hello", s.uri)
	}
}

func TestInterceptUpstreamDownIs502(t *testing.T) {
	u, _ := url.Parse("http://" + closedAddr(t))
	var logs logBuffer
	srv := httptest.NewServer(newInterceptor(u, newLogger(&logs, "http-interceptor"), io.Discard))
	defer srv.Close()

	res, err := http.Get(srv.URL + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", res.StatusCode)
	}
	waitForLine(t, &logs, timeRE+` http-interceptor GET /hello 502 \d+\.\d{3}ms upstream=`+u.String()+` error="dial tcp .*connection refused"`)
	if n := lineCount(logs.String()); n != 1 {
		t.Errorf("want one line for the failed request, got %d:\n%s", n, logs.String())
	}
}
