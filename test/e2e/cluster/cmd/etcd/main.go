// A minimal single-member etcd for the e2e control plane, built from the
// etcd version that k8s.io/kubernetes pins (go.etcd.io/etcd/server/v3/embed).
// Listens on loopback only; exits cleanly on SIGTERM/SIGINT.
package main

import (
	"flag"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func mustURL(s string) url.URL {
	u, err := url.Parse(s)
	if err != nil {
		log.Fatalf("bad URL %q: %v", s, err)
	}
	return *u
}

func main() {
	dataDir := flag.String("data-dir", "", "etcd data directory (required)")
	clientURL := flag.String("listen-client-url", "http://127.0.0.1:2379", "client URL to listen on and advertise")
	peerURL := flag.String("listen-peer-url", "http://127.0.0.1:2380", "peer URL to listen on and advertise")
	// Tests throw the data away, so fsync only costs time.
	noFsync := flag.Bool("unsafe-no-fsync", true, "disable fsync (fine for throwaway test data)")
	logLevel := flag.String("log-level", "warn", "debug|info|warn|error")
	flag.Parse()
	if *dataDir == "" {
		log.Fatal("--data-dir is required")
	}

	cfg := embed.NewConfig()
	cfg.Name = "e2e"
	cfg.Dir = *dataDir
	cfg.LogLevel = *logLevel
	cfg.UnsafeNoFsync = *noFsync
	// A lone member still waits one election timeout before leading itself;
	// shorter ticks make that ~0.1s instead of ~1s. There are no peers to flap.
	cfg.TickMs, cfg.ElectionMs = 10, 100
	cu, pu := mustURL(*clientURL), mustURL(*peerURL)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// No metrics listener: the default would grab another port.
	cfg.ListenMetricsUrls = nil

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		log.Fatalf("start etcd: %v", err)
	}

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)

	select {
	case <-e.Server.ReadyNotify():
		log.Printf("etcd ready, serving clients on %s", *clientURL)
	case <-time.After(60 * time.Second):
		e.Server.Stop()
		log.Fatal("etcd did not become ready within 60s")
	case s := <-sig:
		log.Printf("got %v before ready, stopping", s)
		e.Close()
		return
	}

	select {
	case s := <-sig:
		log.Printf("got %v, stopping", s)
		e.Close()
	case err := <-e.Err():
		e.Close()
		log.Fatalf("etcd error: %v", err)
	}
}
