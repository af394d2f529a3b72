package report

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal of 40 rows and 120 columns, and returns
// its terminal side and what was written to it, read from the other side
// (complete once the test closed the terminal side). The progress display
// draws only on a terminal.
func openPTY(t *testing.T) (tty *os.File, output func() string) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { ptm.Close() })
	fd := int(ptm.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Skipf("ptsname: %v", err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("open the pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 40, Col: 120}); err != nil {
		t.Fatal(err)
	}
	// Raw: no "\n" to "\r\n", no echo.
	termios, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	termios.Oflag &^= unix.OPOST
	termios.Lflag &^= unix.ECHO | unix.ICANON
	if err := unix.IoctlSetTermios(int(tty.Fd()), unix.TCSETS, termios); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(&buf, ptm) // ends with EIO once the terminal side is closed
	}()
	return tty, func() string {
		tty.Close()
		<-done
		return buf.String()
	}
}

// TestGoldenProgress runs the golden events with progress bars on a
// terminal: stdout is the text run's, byte for byte (the bars draw on
// stderr only), and every line the text run prints on stderr is printed
// there too, above the bars.
func TestGoldenProgress(t *testing.T) {
	for _, name := range []string{"text", "verbose"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, err := os.ReadFile(filepath.Join("testdata", "golden", name+".txtar"))
			if err != nil {
				t.Fatal(err)
			}
			files := map[string]string{}
			for _, f := range txtar.Parse(want).Files {
				files[f.Name] = string(f.Data)
			}
			tty, output := openPTY(t)
			var stdout bytes.Buffer
			r := NewRenderer(Options{Stdout: &stdout, Stderr: tty, Progress: true, Verbose: name == "verbose"})
			for _, e := range goldenEvents() {
				r.Emit(e)
			}
			r.Close(3)
			if got := stdout.String(); got != files["stdout"] {
				t.Errorf("stdout differs from the text run's:\n%s", diffLines(files["stdout"], got))
			}
			got := output()
			for _, line := range strings.SplitAfter(files["stderr"], "\n") {
				if line != "" && !strings.Contains(got, line) {
					t.Errorf("the terminal does not show %q:\n%q", line, got)
				}
			}
		})
	}
}
