package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startProxy runs the egress-logger on a real 127.0.0.1 listener.
func startProxy(t *testing.T) (*httptest.Server, *logBuffer, *tunnelSet) {
	t.Helper()
	logs := &logBuffer{}
	tunnels := newTunnelSet()
	srv := httptest.NewServer(newProxy(newLogger(logs, "egress-logger"), tunnels, io.Discard))
	t.Cleanup(func() { tunnels.closeAll(); srv.Close() })
	return srv, logs, tunnels
}

// viaProxy is a client that uses proxy for every URL, as curl does with
// http_proxy / https_proxy set.
func viaProxy(proxy *httptest.Server, tlsConf *tls.Config) (*http.Client, *http.Transport) {
	pu, _ := url.Parse(proxy.URL)
	tr := &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: tlsConf}
	return &http.Client{Transport: tr}, tr
}

func TestProxyForwardsAbsoluteURIRequests(t *testing.T) {
	origin, got := recordingUpstream(t)
	proxy, logs, _ := startProxy(t)
	client, tr := viaProxy(proxy, nil)
	defer tr.CloseIdleConnections()

	req, _ := http.NewRequest(http.MethodPost, origin.URL+"/v1/orders?id=42", strings.NewReader("order"))
	req.Header.Set("X-Request-Id", "r-1")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || string(body) != "created by upstream" {
		t.Errorf("relayed answer: %d %q", res.StatusCode, body)
	}
	ou, _ := url.Parse(origin.URL)
	// A forward proxy adds no X-Forwarded-For: the origin sees the request
	// the application made.
	if s, want := <-got, (seen{http.MethodPost, "/v1/orders?id=42", ou.Host, "order", "r-1", ""}); s != want {
		t.Errorf("origin saw %+v, want %+v", s, want)
	}
	waitForLine(t, logs, timeRE+` egress-logger POST `+regexp.QuoteMeta(origin.URL+"/v1/orders?id=42")+` 201 \d+\.\d{3}ms`)
}

func TestProxyUnreachableOriginIs502(t *testing.T) {
	proxy, logs, _ := startProxy(t)
	client, tr := viaProxy(proxy, nil)
	defer tr.CloseIdleConnections()

	target := "http://" + closedAddr(t) + "/x"
	res, err := client.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", res.StatusCode)
	}
	waitForLine(t, logs, timeRE+` egress-logger GET `+regexp.QuoteMeta(target)+` 502 \d+\.\d{3}ms error=".*connection refused"`)
}

func TestProxyRefusesOriginFormRequests(t *testing.T) {
	proxy, logs, _ := startProxy(t)
	res, err := http.Get(proxy.URL + "/hello") // a direct call, not through a proxy
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "forward proxy") {
		t.Errorf("got %d %q, want 400 explaining it is a proxy", res.StatusCode, body)
	}
	waitForLine(t, logs, timeRE+` egress-logger GET /hello 400 \d+\.\d{3}ms`)
}

// HTTPS through the proxy, as curl with https_proxy does it: CONNECT, then
// TLS end to end with the origin, which the proxy only counts bytes of.
func TestProxyTunnelsHTTPS(t *testing.T) {
	origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "secret "+r.URL.Path)
	}))
	defer origin.Close()
	proxy, logs, _ := startProxy(t)
	client, tr := viaProxy(proxy, origin.Client().Transport.(*http.Transport).TLSClientConfig)

	res, err := client.Get(origin.URL + "/inside")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if string(body) != "secret /inside" {
		t.Errorf("through the tunnel: %q", body)
	}
	host := strings.TrimPrefix(origin.URL, "https://")
	waitForLine(t, logs, timeRE+` egress-logger CONNECT `+host+` open`)

	tr.CloseIdleConnections() // ends the tunnel, which logs its summary
	m := waitForLine(t, logs, timeRE+` egress-logger CONNECT `+host+` 200 \d+\.\d{3}ms up=(\d+) down=(\d+)`)
	up, _ := strconv.Atoi(m[1])
	down, _ := strconv.Atoi(m[2])
	// At least a ClientHello one way and a certificate the other.
	if up < 200 || down < 500 {
		t.Errorf("byte counts up=%d down=%d look too small for a TLS exchange", up, down)
	}
	if n := countLines(logs.String(), `.* egress-logger CONNECT .*`); n != 2 {
		t.Errorf("want an open line and a close line, got %d:\n%s", n, logs.String())
	}
}

// A raw tunnel: exact byte counts, bytes sent right behind the CONNECT
// line are not lost, and a half-close lets the target still answer.
func TestProxyTunnelCountsBytesAndHalfCloses(t *testing.T) {
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	go func() {
		c, err := target.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		in, _ := io.ReadAll(c) // until the client's half-close
		fmt.Fprintf(c, "got %q", in)
	}()
	proxy, logs, _ := startProxy(t)

	conn, err := net.Dial("tcp", strings.TrimPrefix(proxy.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	addr := target.Addr().String()
	// "ping" rides in the same write as the CONNECT request.
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\nping", addr, addr)
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("CONNECT answer: %v %v", res, err)
	}
	conn.(*net.TCPConn).CloseWrite()
	reply, _ := io.ReadAll(br)
	if string(reply) != `got "ping"` {
		t.Errorf("reply through the tunnel: %q", reply)
	}
	waitForLine(t, logs, timeRE+` egress-logger CONNECT `+addr+` 200 \d+\.\d{3}ms up=4 down=10`)
}

func TestProxyConnectToClosedPortIs502(t *testing.T) {
	proxy, logs, tunnels := startProxy(t)
	addr := closedAddr(t)
	conn, err := net.Dial("tcp", strings.TrimPrefix(proxy.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", addr, addr)
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: http.MethodConnect})
	if err != nil || res.StatusCode != http.StatusBadGateway {
		t.Fatalf("CONNECT answer: %v %v, want 502", res, err)
	}
	waitForLine(t, logs, timeRE+` egress-logger CONNECT `+addr+` 502 \d+\.\d{3}ms error=".*connection refused"`)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := tunnels.wait(ctx); err != nil {
		t.Errorf("a failed CONNECT is still counted as an open tunnel: %v", err)
	}
}
