package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
)

// Each flag can also come from an environment variable, so a template can
// use either `args` or `env`; a flag given on the command line wins.
const (
	envListen   = "LISTEN_ADDR"
	envUpstream = "UPSTREAM_URL"

	defaultInterceptListen = "127.0.0.1:7979"
	defaultProxyListen     = "127.0.0.1:15001"
)

type interceptConfig struct {
	listen   string
	upstream *url.URL // nil: answer every request itself
}

type proxyConfig struct {
	listen string
}

func parseInterceptFlags(args []string, stderr io.Writer) (interceptConfig, error) {
	fs := newFlagSet("intercept", stderr)
	listen := fs.String("listen", envOr(envListen, defaultInterceptListen), "address to listen on (env "+envListen+")")
	upstream := fs.String("upstream", os.Getenv(envUpstream), "forward every request to this http(s)://host[:port][/base] and relay the answer; empty: answer itself (env "+envUpstream+")")
	if err := parseAll(fs, args); err != nil {
		return interceptConfig{}, err
	}
	cfg := interceptConfig{listen: *listen}
	if err := checkListenAddr(cfg.listen); err != nil {
		return interceptConfig{}, err
	}
	if *upstream != "" {
		u, err := parseUpstream(*upstream)
		if err != nil {
			return interceptConfig{}, err
		}
		cfg.upstream = u
	}
	return cfg, nil
}

func parseProxyFlags(args []string, stderr io.Writer) (proxyConfig, error) {
	fs := newFlagSet("proxy", stderr)
	listen := fs.String("listen", envOr(envListen, defaultProxyListen), "address to listen on (env "+envListen+")")
	if err := parseAll(fs, args); err != nil {
		return proxyConfig{}, err
	}
	if err := checkListenAddr(*listen); err != nil {
		return proxyConfig{}, err
	}
	return proxyConfig{listen: *listen}, nil
}

// parseUpstream accepts an absolute http or https URL with a host and an
// optional base path; a query, fragment or user info would be silently
// mangled by the path join, so they are refused at start instead.
func parseUpstream(raw string) (*url.URL, error) {
	invalid := func(why string) error {
		return fmt.Errorf("invalid upstream URL %q (want http[s]://host[:port][/base-path]): %s", raw, why)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, invalid(err.Error())
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, invalid("the scheme must be http or https")
	case u.Host == "" || u.Hostname() == "":
		return nil, invalid("no host")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return nil, invalid("only scheme, host, port and a base path are allowed")
	}
	return u, nil
}

func checkListenAddr(addr string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("invalid listen address %q: %v", addr, err)
	}
	return nil
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sidecar-http "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

var errHelp = errors.New("help requested")

// flagError is an error the flag package has already printed, with usage.
type flagError struct{ error }

// parseAll parses flags and refuses leftover arguments (a typo such as
// `--listen= 1.2.3.4:80` would otherwise be ignored).
func parseAll(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return flagError{err}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return nil
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}
