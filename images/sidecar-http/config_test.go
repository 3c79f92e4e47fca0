package main

import (
	"io"
	"strings"
	"testing"
)

func TestParseUpstream(t *testing.T) {
	for _, tc := range []struct {
		raw     string
		wantErr string // "" = valid
	}{
		{"http://127.0.0.1:8080", ""},
		{"https://api.example.com", ""},
		{"http://backend.default.svc:80/base", ""},
		{"127.0.0.1:8080", "want http[s]://host[:port][/base-path]"},
		{"localhost:8080", "scheme must be http or https"},
		{"ftp://files.example.com", "scheme must be http or https"},
		{"http://", "no host"},
		{"http://:8080", "no host"},
		{"http://example.com/?a=1", "only scheme, host, port and a base path"},
		{"http://user:secret@example.com", "only scheme, host, port and a base path"},
		{"http://exa mple.com", "invalid upstream URL"},
	} {
		_, err := parseUpstream(tc.raw)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("parseUpstream(%q): unexpected error %v", tc.raw, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("parseUpstream(%q) = %v, want an error containing %q", tc.raw, err, tc.wantErr)
		}
	}
}

func TestFlagsFallBackToEnvAndWinOverIt(t *testing.T) {
	t.Setenv("LISTEN_ADDR", "127.0.0.1:9000")
	t.Setenv("UPSTREAM_URL", "http://127.0.0.1:9001")
	cfg, err := parseInterceptFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.listen != "127.0.0.1:9000" || cfg.upstream.String() != "http://127.0.0.1:9001" {
		t.Errorf("from env: got listen %q upstream %v", cfg.listen, cfg.upstream)
	}
	cfg, err = parseInterceptFlags([]string{"--listen", "127.0.0.1:9100", "--upstream", "http://127.0.0.1:9101"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.listen != "127.0.0.1:9100" || cfg.upstream.String() != "http://127.0.0.1:9101" {
		t.Errorf("flags over env: got listen %q upstream %v", cfg.listen, cfg.upstream)
	}
	p, err := parseProxyFlags(nil, io.Discard)
	if err != nil || p.listen != "127.0.0.1:9000" {
		t.Errorf("proxy from env: got %+v, %v", p, err)
	}
}

func TestDefaults(t *testing.T) {
	t.Setenv("LISTEN_ADDR", "")
	t.Setenv("UPSTREAM_URL", "")
	cfg, err := parseInterceptFlags(nil, io.Discard)
	if err != nil || cfg.listen != "127.0.0.1:7979" || cfg.upstream != nil {
		t.Errorf("intercept defaults: %+v, %v", cfg, err)
	}
	p, err := parseProxyFlags(nil, io.Discard)
	if err != nil || p.listen != "127.0.0.1:15001" {
		t.Errorf("proxy defaults: %+v, %v", p, err)
	}
}

// A bad configuration is a usage error (exit 2) with a message naming the
// problem, reported before anything listens.
func TestConfigErrorsExit2(t *testing.T) {
	t.Setenv("UPSTREAM_URL", "")
	for _, tc := range []struct {
		args    []string
		env     string
		wantErr string
	}{
		{args: []string{"intercept", "--upstream", "localhost:8080"}, wantErr: `invalid upstream URL "localhost:8080"`},
		{args: []string{"intercept"}, env: "ftp://x", wantErr: `invalid upstream URL "ftp://x"`},
		{args: []string{"intercept", "--listen", "7979"}, wantErr: `invalid listen address "7979"`},
		{args: []string{"proxy", "--bogus"}, wantErr: "flag provided but not defined: -bogus"},
		{args: []string{"proxy", "extra"}, wantErr: `unexpected arguments: ["extra"]`},
		{args: []string{"frobnicate"}, wantErr: `unknown command "frobnicate"`},
		{args: nil, wantErr: "usage:"},
	} {
		t.Setenv("UPSTREAM_URL", tc.env)
		var stderr strings.Builder
		if code := run(tc.args, io.Discard, &stderr); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", tc.args, code, exitUsage)
		}
		if !strings.Contains(stderr.String(), tc.wantErr) {
			t.Errorf("%q: stderr %q does not contain %q", tc.args, stderr.String(), tc.wantErr)
		}
	}
}

func TestVersion(t *testing.T) {
	var out strings.Builder
	if code := run([]string{"version"}, &out, io.Discard); code != exitOK || out.String() != "0.1.0\n" {
		t.Errorf("version: exit %d, output %q", code, out.String())
	}
}
