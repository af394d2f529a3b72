package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runDir is a tool's world for one run: HOME (its configuration), the
// Maildir it fills, and its state. Everything in it belongs to nobody.
type runDir struct {
	root, home, maildir, state string
	log                        string // the tool's stdout and stderr
}

func newRunDir(root string) (*runDir, error) {
	d := &runDir{
		root:    root,
		home:    filepath.Join(root, "home"),
		maildir: filepath.Join(root, "Maildir"),
		state:   filepath.Join(root, "state"),
		log:     filepath.Join(root, "output.log"),
	}
	if err := os.RemoveAll(root); err != nil {
		return nil, err
	}
	// The parent ("runs") must be searchable by nobody.
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return nil, err
	}
	// Every tool gets an existing, empty Maildir (mpop, fetchmail's MDA
	// and getmail6 require one; the others would create it).
	for _, dir := range []string{d.home, d.state, filepath.Join(d.maildir, "cur"), filepath.Join(d.maildir, "new"), filepath.Join(d.maildir, "tmp")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// logTail returns the end of the tool's output, for error messages.
func (d *runDir) logTail() string {
	data, _ := os.ReadFile(d.log)
	data = bytes.TrimSpace(data)
	if len(data) > 600 {
		data = append([]byte("…"), data[len(data)-600:]...)
	}
	if len(data) == 0 {
		return "empty"
	}
	return strconv.Quote(string(data))
}

// chownTree gives root and everything in it to id (user and group).
func chownTree(root string, id int) error {
	return filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, id, id)
	})
}

// sample is one timed run of a tool.
type sample struct {
	Wall  float64 `json:"wall_s"`
	CPU   float64 `json:"cpu_s"`  // user + system of the tool and the children it waited for
	RSSMB float64 `json:"rss_mb"` // peak resident set, 10^6 bytes (the largest of the tool and its children)
	Load1 float64 `json:"load1"`  // 1-minute load average when the run started
}

// measure runs argv as nobody in d, under the rusage launcher, in a
// process group of its own that is killed on timeout or ^C, and returns
// its wall time (fork to exit, launcher included: about a millisecond)
// and the tool's rusage.
func (b *bench) measure(ctx context.Context, t *tool, d *runDir, argv []string) (sample, error) {
	ctx, cancel := context.WithTimeout(ctx, b.opt.timeout)
	defer cancel()
	logFile, err := os.OpenFile(d.log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return sample{}, err
	}
	defer logFile.Close()
	fmt.Fprintf(logFile, "$ %s\n", strings.Join(argv, " "))

	usageFile := filepath.Join(b.work, "rusage.out")
	os.Remove(usageFile)
	args := append([]string{usageFile, "setpriv", fmt.Sprintf("--reuid=%d", nobody), fmt.Sprintf("--regid=%d", nobody), "--clear-groups", "--"}, argv...)
	cmd := exec.CommandContext(ctx, b.rusage, args...)
	cmd.Dir = d.home
	cmd.Env = []string{
		"HOME=" + d.home,
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
		"USER=nobody", "LOGNAME=nobody",
		"LC_ALL=C.UTF-8",
		"TMPDIR=" + d.state,
		"XDG_CONFIG_HOME=" + filepath.Join(d.home, ".config"),
		"XDG_STATE_HOME=" + filepath.Join(d.home, ".local/state"),
	}
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second

	load := load1()
	start := time.Now()
	runErr := cmd.Run()
	wall := time.Since(start)
	if cmd.Process != nil {
		// Whatever the tool left behind in its group (it should be nothing).
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if ctx.Err() != nil {
		return sample{}, fmt.Errorf("%s: %w (after %v)", t.name, ctx.Err(), wall.Round(time.Millisecond))
	}
	if runErr != nil {
		var ee *exec.ExitError
		if !errors.As(runErr, &ee) || !slices.Contains(t.okExit, ee.ExitCode()) {
			return sample{}, fmt.Errorf("%s: %v; output: %s", t.name, runErr, d.logTail())
		}
	}
	// The tool's own rusage, from the fork()ing launcher (see rusage.c).
	data, err := os.ReadFile(usageFile)
	if err != nil {
		return sample{}, fmt.Errorf("reading the tool's rusage: %w", err)
	}
	var utime, stime, maxrss int64
	if _, err := fmt.Sscan(string(data), &utime, &stime, &maxrss); err != nil {
		return sample{}, fmt.Errorf("reading the tool's rusage %q: %w", data, err)
	}
	return sample{
		Wall:  wall.Seconds(),
		CPU:   float64(utime+stime) / 1e6,
		RSSMB: float64(maxrss) * 1024 / 1e6, // Linux: KiB
		Load1: load,
	}, nil
}

// loadAvg returns the three load averages, "1.02 0.80 2.77".
func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func load1() float64 {
	v, _ := strconv.ParseFloat(strings.Fields(loadAvg() + " 0")[0], 64)
	return v
}
