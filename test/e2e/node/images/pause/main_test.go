package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run main in a child process (this test binary).
func TestMain(m *testing.M) {
	if os.Getenv("PAUSE_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func startPause(t *testing.T, attr *syscall.SysProcAttr) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PAUSE_TEST_RUN_MAIN=1")
	cmd.SysProcAttr = attr
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start pause: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	time.Sleep(200 * time.Millisecond) // let it install its signal handlers
	return cmd
}

func TestExitsZeroOnSIGTERMAndSIGINT(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		cmd := startPause(t, nil)
		if err := cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%v: exit %v, want status 0", sig, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v: still running", sig)
		}
	}
}

// As PID 1 of a new PID namespace, pause must reap an orphan
// reparented to it: a shell entered into the namespace starts `sleep` in
// the background and exits, so the sleep's parent becomes pause.
func TestReapsOrphansAsPID1(t *testing.T) {
	// Like the node these images are for, this needs root (a new PID
	// namespace) and util-linux's nsenter; without them it fails, not skips.
	if os.Geteuid() != 0 {
		t.Fatal("a new PID namespace needs root")
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Fatal("nsenter (util-linux) not found")
	}
	cmd := startPause(t, &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID})
	pid := cmd.Process.Pid
	out, err := exec.Command("nsenter", "--target", strconv.Itoa(pid), "--pid", "--", "sh", "-c", "sleep 0.2 &").CombinedOutput()
	if err != nil {
		t.Fatalf("nsenter: %v: %s", err, out)
	}
	// Wait past the sleep, then look for children of pause that are zombies.
	time.Sleep(700 * time.Millisecond)
	if z := zombieChildren(t, pid); len(z) > 0 {
		t.Errorf("zombie children of pause (pid %d): %v", pid, z)
	}
	if c := children(t, pid); len(c) > 0 {
		t.Errorf("pause (pid %d) still has children %v", pid, c)
	}
}

// children lists the host PIDs whose parent is pid, with their state.
func children(t *testing.T, pid int) map[int]string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	found := map[int]string{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		// Fields after the ")" of the command name: state, ppid, …
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			found[p] = fields[0]
		}
	}
	return found
}

func zombieChildren(t *testing.T, pid int) []int {
	var z []int
	for p, state := range children(t, pid) {
		if state == "Z" {
			z = append(z, p)
		}
	}
	return z
}
