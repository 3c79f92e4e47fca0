// Command pause holds a pod's namespaces open, like upstream Kubernetes'
// build/pause/linux/pause.c: it sleeps until SIGINT or SIGTERM (then exits 0)
// and, as PID 1 of a pod that shares its process namespace, reaps the
// orphans that are reparented to it, so they do not linger as zombies.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// version matches the image tag it is built into (registry.k8s.io/pause).
const version = "3.10.1"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Printf("pause.go %s (sidecar-injector e2e)\n", version)
		return
	}
	if os.Getpid() != 1 {
		// Same warning as pause.c: outside a PID namespace it reaps nothing.
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}
	// Buffered: a SIGCHLD arriving while we reap is kept, not dropped.
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range signals {
		if s == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Fprintf(os.Stderr, "Shutting down, got signal: %v\n", s)
		os.Exit(0)
	}
}

// reap collects every exited child; SIGCHLDs coalesce, so one signal may
// stand for several children.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
