package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The real binary (this test binary re-run as main) under SIGTERM: it stops
// accepting at once, lets the in-flight request finish, and exits 0.
func TestSIGTERMDrainsInFlightRequestsAndExits0(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		io.WriteString(w, "slow answer")
	}))
	defer slow.Close()

	cmd := exec.Command(os.Args[0], "intercept", "--listen", "127.0.0.1:0", "--upstream", slow.URL)
	cmd.Env = append(os.Environ(), "SIDECAR_HTTP_TEST_RUN_MAIN=1")
	stdout := &logBuffer{}
	pipe, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() {
		io.Copy(stdout, pipe)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // a no-op once it has exited

	addr := waitForLine(t, stdout, timeRE+` http-interceptor listening on (127\.0\.0\.1:\d+) mode=forward upstream=`+slow.URL)[1]

	type result struct {
		status int
		body   string
		err    error
	}
	done := make(chan result, 1)
	go func() {
		res, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			done <- result{err: err}
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		done <- result{status: res.StatusCode, body: string(b)}
	}()
	<-arrived

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitForLine(t, stdout, timeRE+` http-interceptor shutting down: waiting up to 5s for in-flight requests`)
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("still accepting connections after SIGTERM")
	}

	close(release)
	if r := <-done; r.err != nil || r.status != 200 || r.body != "slow answer" {
		t.Errorf("in-flight request: %+v, want 200 \"slow answer\"", r)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit: %v, want status 0", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("did not exit within 5 s of the request finishing")
	}
	waitForLine(t, stdout, timeRE+` http-interceptor GET /slow 200 \d+\.\d{3}ms upstream=`+slow.URL)
	waitForLine(t, stdout, timeRE+` http-interceptor stopped`)
}

func TestListenFailureExits1(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stderr strings.Builder
	if code := run([]string{"proxy", "--listen", ln.Addr().String()}, io.Discard, &stderr); code != exitFailed {
		t.Errorf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "address already in use") {
		t.Errorf("stderr %q should say why", stderr.String())
	}
}

// A tunnel still open when the grace period ends is closed (and logged), and
// the server still exits 0; one that ends within it is waited for.
func TestShutdownWaitsForTunnelsThenClosesThem(t *testing.T) {
	for _, tc := range []struct {
		name          string
		clientCloses  bool
		wantForceLine bool
	}{
		{"tunnel ends within the grace period", true, false},
		{"tunnel outlives the grace period", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer target.Close()
			go func() { // echoes until the client goes away
				if c, err := target.Accept(); err == nil {
					io.Copy(c, c)
					c.Close()
				}
			}()

			logs := &logBuffer{}
			lg := newLogger(logs, "egress-logger")
			tunnels := newTunnelSet()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			ctx, stop := context.WithCancel(context.Background())
			exit := make(chan int, 1)
			go func() {
				exit <- serve(ctx, ln, server{handler: newProxy(lg, tunnels, io.Discard), log: lg, tunnels: tunnels, grace: 300 * time.Millisecond}, io.Discard)
			}()

			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "CONNECT %s HTTP/1.1\r\nHost: %[1]s\r\n\r\n", target.Addr())
			br := bufio.NewReader(conn)
			if res, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect}); err != nil || res.StatusCode != 200 {
				t.Fatalf("CONNECT: %v %v", res, err)
			}
			waitForLine(t, logs, timeRE+` egress-logger CONNECT .* open`)

			stop()
			waitForLine(t, logs, timeRE+` egress-logger shutting down: .*`)
			if tc.clientCloses {
				conn.Close()
			}
			select {
			case code := <-exit:
				if code != exitOK {
					t.Errorf("serve returned %d, want 0", code)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("serve did not return")
			}
			waitForLine(t, logs, timeRE+` egress-logger CONNECT \S+ 200 .*`)
			if lines := strings.Split(strings.TrimSpace(logs.String()), "\n"); !strings.HasSuffix(lines[len(lines)-1], " stopped") {
				t.Errorf("the tunnel's line should come before \"stopped\":\n%s", logs.String())
			}
			forced := countLines(logs.String(), timeRE+` egress-logger grace period over: closed the remaining connections tunnels=1`)
			if (forced == 1) != tc.wantForceLine {
				t.Errorf("forced-close line present=%v, want %v:\n%s", forced == 1, tc.wantForceLine, logs.String())
			}
			if !tc.clientCloses {
				// The proxy closed our side of the tunnel.
				if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
					t.Errorf("client read after forced close: %v, want EOF", err)
				}
			}
		})
	}
}
