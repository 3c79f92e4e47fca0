package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// tunnel serves CONNECT host:port: dial the target, answer 200, then copy
// bytes both ways until both sides are done. It logs an "open" line once the
// tunnel is up and the status line (with bytes each way) when it closes; a
// failed dial gets a 502 and one line.
func tunnel(w http.ResponseWriter, r *http.Request, dialer *net.Dialer, lg *logger, tunnels *tunnelSet) {
	start := time.Now()
	tun := tunnels.begin()
	defer tun.end()
	target := r.Host // for CONNECT, net/http puts the authority (host:port) here
	fail := func(status int, err error) {
		http.Error(w, err.Error(), status)
		lg.request(http.MethodConnect, target, status, time.Since(start), kv("error", err.Error()))
	}
	if _, port, err := net.SplitHostPort(target); err != nil || port == "" {
		fail(http.StatusBadRequest, fmt.Errorf("CONNECT needs host:port, got %q", target))
		return
	}
	upstream, err := dialer.DialContext(r.Context(), "tcp", target)
	if err != nil {
		fail(http.StatusBadGateway, err)
		return
	}
	client, buffered, err := http.NewResponseController(w).Hijack()
	if err != nil {
		upstream.Close()
		fail(http.StatusInternalServerError, err)
		return
	}
	// From here on net/http no longer tracks the connection: the tunnel set
	// lets a shutdown wait for it and, past the grace period, close it.
	tun.attach(client, upstream)
	_ = client.SetDeadline(time.Time{}) // Hijack may leave the header-read deadline set
	defer client.Close()
	defer upstream.Close()

	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		lg.request(http.MethodConnect, target, http.StatusOK, time.Since(start), kv("error", err.Error()))
		return
	}
	lg.event(http.MethodConnect + " " + target + " open")
	// buffered.Reader first yields any bytes the client sent right after its
	// CONNECT (such as a TLS ClientHello), then reads the connection.
	up, down, err := pipe(client, buffered.Reader, upstream)
	fields := []field{kv("up", fmt.Sprint(up)), kv("down", fmt.Sprint(down))}
	if err != nil {
		fields = append(fields, kv("error", err.Error()))
	}
	lg.request(http.MethodConnect, target, http.StatusOK, time.Since(start), fields...)
}

// pipe copies client→upstream (up) and upstream→client (down). When one side
// finishes sending, the other is told with a half-close, so a request/response
// protocol can still finish; an error in either direction ends both. err is
// the first real failure: a reset or broken pipe is how many clients end a
// TLS connection, and "use of closed connection" is the echo of our own close.
func pipe(client net.Conn, fromClient io.Reader, upstream net.Conn) (up, down int64, err error) {
	var mu sync.Mutex
	record := func(e error) {
		mu.Lock()
		defer mu.Unlock()
		if err == nil && e != nil && !ordinaryEnd(e) {
			err = e
		}
	}
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		var e error
		up, e = io.Copy(upstream, fromClient)
		record(e)
		endDirection(upstream, e)
	}()
	down, e := io.Copy(client, upstream)
	record(e)
	endDirection(client, e)
	<-finished
	return up, down, err
}

func ordinaryEnd(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// endDirection half-closes c after a clean end of input (EOF) and closes it
// entirely after an error, which also unblocks the copy reading from c.
func endDirection(c net.Conn, copyErr error) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok && copyErr == nil {
		_ = cw.CloseWrite()
		return
	}
	_ = c.Close()
}

// tunnelSet tracks open tunnels for shutdown. wait and closeAll accept a nil
// set (the interceptor has no tunnels).
type tunnelSet struct {
	mu      sync.Mutex
	open    map[*openTunnel]struct{}
	closing bool // closeAll ran: a tunnel attaching now is closed at once
	wg      sync.WaitGroup
}

type openTunnel struct {
	set   *tunnelSet
	conns []net.Conn
}

func newTunnelSet() *tunnelSet { return &tunnelSet{open: map[*openTunnel]struct{}{}} }

// begin counts a tunnel from its CONNECT request on. That is before the
// hijack takes the connection out of net/http's accounting, so a shutdown
// (which waits for net/http's requests first, then for tunnels) cannot miss
// it. Call end when the tunnel is over.
func (t *tunnelSet) begin() *openTunnel {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.wg.Add(1)
	o := &openTunnel{set: t}
	t.open[o] = struct{}{}
	return o
}

// attach records the tunnel's connections so closeAll can close them.
func (o *openTunnel) attach(conns ...net.Conn) {
	o.set.mu.Lock()
	defer o.set.mu.Unlock()
	o.conns = append(o.conns, conns...)
	if o.set.closing {
		closeConns(conns)
	}
}

func (o *openTunnel) end() {
	o.set.mu.Lock()
	defer o.set.mu.Unlock()
	delete(o.set.open, o)
	o.set.wg.Done()
}

// wait returns nil once every tunnel has ended, or ctx's error.
func (t *tunnelSet) wait(ctx context.Context) error {
	if t == nil {
		return nil
	}
	ended := make(chan struct{})
	go func() { t.wg.Wait(); close(ended) }()
	select {
	case <-ended:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeAll closes the connections of every open tunnel (their goroutines
// then log and end) and returns how many there were.
func (t *tunnelSet) closeAll() int {
	if t == nil {
		return 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closing = true
	for o := range t.open {
		closeConns(o.conns)
	}
	return len(t.open)
}

func closeConns(conns []net.Conn) {
	for _, c := range conns {
		_ = c.Close()
	}
}
