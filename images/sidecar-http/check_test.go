package main

import (
	"io"
	"net"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	if code := run([]string{"check", ln.Addr().String()}, io.Discard, io.Discard); code != exitOK {
		t.Errorf("check of a listening port: exit %d, want 0", code)
	}

	var stderr strings.Builder
	if code := run([]string{"check", closedAddr(t)}, io.Discard, &stderr); code != exitFailed {
		t.Errorf("check of a closed port: exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "connection refused") {
		t.Errorf("check of a closed port: stderr %q should say why", stderr.String())
	}

	for _, args := range [][]string{{"check"}, {"check", "7979"}, {"check", "a:1", "b:2"}} {
		if code := run(args, io.Discard, io.Discard); code != exitUsage {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}
