package dovetest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ErrNotInstalled is returned by StartServer when the dovecot or doveadm
// binary cannot be found.
var ErrNotInstalled = errors.New("dovetest: dovecot is not installed (Debian: apt-get install dovecot-imapd dovecot-pop3d)")

// RequireServerEnv names the environment variable that turns Start's skip
// (no Dovecot installed) into a test failure: set it to 1 in CI, where a
// silently skipped integration suite would pass for the wrong reason.
const RequireServerEnv = "MAILFETCH_REQUIRE_SERVER"

// Options configures a server.
type Options struct {
	// Users are the mail accounts; nil means one user "alice" with
	// password "secret".
	Users []User
	// Dir is the state directory (config, certificate, logs, the users'
	// mail). "" means a new temporary directory that Stop removes. A given
	// Dir is created if missing and kept by Stop, so mail seeded into it
	// is still there on the next start (the demo and benchmarks reuse it),
	// and so is the certificate; the ports are new at every start. Run as
	// root, every directory above Dir must be searchable by others (o+x)
	// for Dovecot's unprivileged processes.
	Dir string
	// NamespacePrefix and NamespaceSeparator configure the one (personal)
	// namespace: "" keeps the default, no prefix and '/'. Prefix "INBOX."
	// with separator "." is Courier's layout: INBOX, and every other
	// folder named "INBOX.Name" ("INBOX.Archive.2024"); the helpers that
	// take a mailbox name then take it in that form.
	NamespacePrefix, NamespaceSeparator string
	// IMAPCapability, when set, is Dovecot's imap_capability: the exact
	// capability list announced after login, e.g. to hide an extension.
	IMAPCapability string
}

// User is one mail account.
type User struct {
	// Name is the login name: letters, digits and . _ @ + - only.
	Name string
	// Password is stored in plain text ({PLAIN}) because CRAM-MD5 and APOP
	// need it; it must not contain ':' or control characters.
	Password string
	// MailLocation is Dovecot's mail_location for this user; "" means the
	// default "maildir:~/Maildir" (Maildir++: hierarchy separator '.' on
	// disk, so no '.' in folder names). "maildir:~/Maildir:LAYOUT=fs"
	// nests folders as directories and allows '.' in names.
	MailLocation string
}

// Server is a running private Dovecot. Its IMAP and POP3 listeners accept
// connections on Host (127.0.0.1 only) from the moment Start returns.
type Server struct {
	// Host is the listen address, always "127.0.0.1".
	Host string
	// IMAPPort and POP3Port are plain (STARTTLS/STLS-capable) listeners;
	// IMAPSPort and POP3SPort speak implicit TLS.
	IMAPPort, IMAPSPort, POP3Port, POP3SPort int
	// CAFile is the PEM file of the server's self-signed certificate;
	// trusting it verifies the server for 127.0.0.1, ::1 and localhost.
	CAFile string
	// CertSHA256 is the lowercase hex SHA-256 of the certificate's DER
	// form, for certificate pinning tests.
	CertSHA256 string
	// Dir is the state directory; Config, LogFile and the users' homes
	// (Dir/home/NAME) are in it.
	Dir string
	// Config is the dovecot.conf every dovecot and doveadm call uses.
	Config string
	// LogFile is Dovecot's log (every process logs there).
	LogFile string

	dovecotBin, doveadmBin string
	users                  []User
	nsPrefix, nsSep        string // Options.NamespacePrefix, NamespaceSeparator
	imapCaps               string // Options.IMAPCapability
	ownDir                 bool   // Dir was created by StartServer and goes with Stop
	baseDir                string // Dovecot's base_dir (sockets, master.pid)
	ownBaseDir             bool   // baseDir is a separate temp dir (Dir too long for socket paths)
	instance               string
	chown                  bool // running as root: mail files belong to mailUID:mailGID
	mailUID, mailGID       int

	cmd     *exec.Cmd
	exited  chan struct{} // closed when the master process has exited
	exitErr error         // its Wait result, set before exited closes

	stopOnce sync.Once
	stopErr  error

	stampMu   sync.Mutex
	lastStamp int64 // µs; Seed's file names increase across calls, see nextStamps
}

// Start starts a server for a test or benchmark and registers tb.Cleanup
// to stop it (and to log the tail of Dovecot's log if the test failed).
// Without Dovecot installed the test is skipped, or fails when the
// environment variable MAILFETCH_REQUIRE_SERVER is 1.
func Start(tb testing.TB, opt Options) *Server {
	tb.Helper()
	s, err := StartServer(opt)
	if errors.Is(err, ErrNotInstalled) {
		if os.Getenv(RequireServerEnv) == "1" {
			tb.Fatalf("%v; %s=1 requires it", err, RequireServerEnv)
		}
		tb.Skipf("%v", err)
	}
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("dovetest: tail of %s:\n%s", s.LogFile, s.logTail(8<<10))
		}
		if err := s.Stop(); err != nil {
			tb.Errorf("%v", err)
		}
	})
	return s
}

// StartServer starts a server outside of tests (the demo, benchmarks).
// The caller must call Stop.
func StartServer(opt Options) (*Server, error) {
	dovecotBin, doveadmBin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	users, err := checkUsers(opt.Users)
	if err != nil {
		return nil, err
	}
	if err := checkNamespace(opt); err != nil {
		return nil, err
	}
	s := &Server{
		Host:       "127.0.0.1",
		dovecotBin: dovecotBin,
		doveadmBin: doveadmBin,
		users:      users,
		nsPrefix:   opt.NamespacePrefix,
		nsSep:      opt.NamespaceSeparator,
		imapCaps:   opt.IMAPCapability,
	}
	if err := s.prepare(opt.Dir); err != nil {
		s.removeDirs()
		return nil, fmt.Errorf("dovetest: %w", err)
	}
	// Ports are picked free, then released for Dovecot to bind: another
	// process may take one in between. Dovecot then exits at once with
	// "Address already in use", and a new set of ports is tried.
	for attempt := 1; ; attempt++ {
		err = s.launch()
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, errPortTaken) || attempt == 4 {
			break
		}
	}
	s.removeDirs()
	return nil, fmt.Errorf("dovetest: %w", err)
}

// checkNamespace refuses namespace and capability settings that would
// not survive being written into dovecot.conf.
func checkNamespace(opt Options) error {
	for _, v := range []string{opt.NamespacePrefix, opt.NamespaceSeparator, opt.IMAPCapability} {
		if strings.ContainsAny(v, "\r\n\"#{}") {
			return fmt.Errorf("dovetest: namespace or capability setting %q: no quotes, braces, '#' or line breaks", v)
		}
	}
	if len([]rune(opt.NamespaceSeparator)) > 1 {
		return fmt.Errorf("dovetest: namespace separator %q: one character", opt.NamespaceSeparator)
	}
	return nil
}

// instances numbers the servers this process starts.
var instances atomic.Int64

var errPortTaken = errors.New("a port was taken before dovecot could bind it")

func findBinaries() (dovecot, doveadm string, err error) {
	find := func(name string, dirs ...string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		// /usr/sbin is often not on a non-root PATH.
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				return p
			}
		}
		return ""
	}
	dovecot = find("dovecot", "/usr/sbin", "/usr/local/sbin")
	doveadm = find("doveadm", "/usr/bin", "/usr/sbin", "/usr/local/bin")
	if dovecot == "" || doveadm == "" {
		return "", "", ErrNotInstalled
	}
	return dovecot, doveadm, nil
}

var userNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]*$`)

func checkUsers(in []User) ([]User, error) {
	if len(in) == 0 {
		return []User{{Name: "alice", Password: "secret"}}, nil
	}
	seen := map[string]bool{}
	out := make([]User, 0, len(in))
	for _, u := range in {
		if !userNameRE.MatchString(u.Name) {
			return nil, fmt.Errorf("dovetest: user name %q: use letters, digits and . _ @ + - only", u.Name)
		}
		if seen[u.Name] {
			return nil, fmt.Errorf("dovetest: user %q given twice", u.Name)
		}
		seen[u.Name] = true
		if u.Password == "" || strings.ContainsFunc(u.Password, func(r rune) bool { return r == ':' || r < ' ' || r == 0x7f }) {
			// ':' ends the passwd-file field; control characters break
			// IMAP and POP3 command lines.
			return nil, fmt.Errorf("dovetest: user %q: the password must be non-empty, without ':' or control characters", u.Name)
		}
		if strings.ContainsFunc(u.MailLocation, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("dovetest: user %q: mail location %q contains white space or control characters", u.Name, u.MailLocation)
		}
		out = append(out, u)
	}
	return out, nil
}

// safePathRE matches paths that can be written into dovecot.conf and the
// passwd-file as they are: no white space, quotes, '%' (variable
// expansion), ':' (passwd-file fields), '#', '<' or '{'.
var safePathRE = regexp.MustCompile(`^/[A-Za-z0-9._/+,=@-]*$`)

// maxBaseDir keeps base_dir short enough for Dovecot's unix socket paths
// (108 bytes on Linux, including names such as login/imap-urlauth).
const maxBaseDir = 70

func (s *Server) prepare(dir string) error {
	var err error
	if dir == "" {
		dir, err = os.MkdirTemp("", "dovetest-")
		if err != nil {
			return err
		}
		s.ownDir = true
	} else {
		if dir, err = filepath.Abs(dir); err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	s.Dir = dir
	if !safePathRE.MatchString(dir) {
		return fmt.Errorf("state directory %q: use a path without white space or any of \" %% : # < {", dir)
	}
	s.Config = filepath.Join(dir, "dovecot.conf")
	s.LogFile = filepath.Join(dir, "dovecot.log")
	s.CAFile = filepath.Join(dir, "cert.pem")
	// Dovecot titles its processes "dovecot-INSTANCE/imap": the pid tells
	// whose they are in ps, the count keeps servers of one process apart.
	s.instance = fmt.Sprintf("dovetest-%d-%d", os.Getpid(), instances.Add(1))

	s.chown = os.Geteuid() == 0
	if s.chown {
		// Mail processes refuse uid 0; nobody:nogroup owns the mail. The
		// state dir must be traversable by it and by Dovecot's internal
		// user, but not listable.
		s.mailUID, s.mailGID = 65534, 65534
		if err := os.Chmod(dir, 0o711); err != nil {
			return err
		}
		if err := checkSearchable(filepath.Dir(dir)); err != nil {
			return err
		}
	} else {
		s.mailUID, s.mailGID = os.Getuid(), os.Getgid()
	}

	s.baseDir = filepath.Join(dir, "run")
	if len(s.baseDir) > maxBaseDir {
		tmp := os.TempDir()
		if len(tmp) > maxBaseDir-20 || !safePathRE.MatchString(tmp) {
			tmp = "/tmp"
		}
		if s.baseDir, err = os.MkdirTemp(tmp, "dovetest-run-"); err != nil {
			return err
		}
		s.ownBaseDir = true
	} else if err := checkStalePid(filepath.Join(s.baseDir, "master.pid")); err != nil {
		return err
	}

	if s.CertSHA256, err = writeCertificate(s.CAFile, filepath.Join(dir, "key.pem")); err != nil {
		return err
	}
	if err := s.writePasswd(); err != nil {
		return err
	}
	return s.makeHomes()
}

// checkSearchable makes sure that Dovecot's unprivileged processes can
// reach the state dir: every directory above it must be searchable by
// others (o+x). t.TempDir's directories are 0700; os.MkdirTemp's parent
// (/tmp) is fine.
func checkSearchable(dir string) error {
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s (mode %04o) is not searchable by others: Dovecot's processes (users dovecot and nobody) could not reach the state dir; chmod o+x it or choose another Dir", dir, fi.Mode().Perm())
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

// checkStalePid refuses a state dir whose Dovecot from an earlier start
// still runs (two masters on one base_dir would fight over its sockets),
// and removes a stale pid file otherwise.
func checkStalePid(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err == nil && pid > 0 && processAlive(pid) {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if len(cmdline) == 0 || bytes.Contains(cmdline, []byte("dovecot")) {
			return fmt.Errorf("a dovecot started earlier in this directory still runs (pid %d, %s)", pid, path)
		}
	}
	return os.Remove(path)
}

func (s *Server) home(name string) string { return filepath.Join(s.Dir, "home", name) }

func (s *Server) writePasswd() error {
	var b strings.Builder
	for _, u := range s.users {
		// name:password:uid:gid:gecos:home:shell:extra fields
		fmt.Fprintf(&b, "%s:{PLAIN}%s:%d:%d::%s::", u.Name, u.Password, s.mailUID, s.mailGID, s.home(u.Name))
		if u.MailLocation != "" {
			b.WriteString("userdb_mail=" + u.MailLocation)
		}
		b.WriteString("\n")
	}
	path := filepath.Join(s.Dir, "passwd")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return err
	}
	if err := os.Chmod(path, 0o600); err != nil { // an earlier run's file keeps its mode otherwise
		return err
	}
	if s.chown {
		// The auth process reads it as Dovecot's internal user.
		u, err := user.Lookup("dovecot")
		if err != nil {
			return fmt.Errorf("dovecot's internal user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		return os.Chown(path, uid, -1)
	}
	return nil
}

func (s *Server) makeHomes() error {
	homes := filepath.Join(s.Dir, "home")
	if err := os.MkdirAll(homes, 0o711); err != nil {
		return err
	}
	for _, u := range s.users {
		if err := s.mkdirOwned(s.home(u.Name)); err != nil {
			return err
		}
		// The Maildir root exists before the first login, so MaildirPath
		// names a real directory and tests may look into it at once.
		if root := s.MaildirPath(u.Name); root != "" {
			for _, d := range []string{root, filepath.Join(root, "cur"), filepath.Join(root, "new"), filepath.Join(root, "tmp")} {
				if err := s.mkdirOwned(d); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// mkdirOwned creates dir (and missing parents) 0700 for the mail user.
func (s *Server) mkdirOwned(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	if err := s.mkdirOwned(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if s.chown {
		return os.Chown(dir, s.mailUID, s.mailGID)
	}
	return nil
}

// MaildirPath returns the server-side Maildir root (the INBOX folder) of
// user, from the user's mail location; "" for an unknown user or a
// location that is not a Maildir.
func (s *Server) MaildirPath(name string) string {
	u, ok := s.user(name)
	if !ok {
		return ""
	}
	loc := u.MailLocation
	if loc == "" {
		loc = "maildir:~/Maildir"
	}
	rest, ok := strings.CutPrefix(loc, "maildir:")
	if !ok {
		return ""
	}
	path, _, _ := strings.Cut(rest, ":")
	home := s.home(u.Name)
	if p, ok := strings.CutPrefix(path, "~"); ok {
		path = home + p
	}
	path = strings.NewReplacer("%h", home, "%u", u.Name, "%n", u.Name).Replace(path)
	return filepath.Clean(path)
}

func (s *Server) user(name string) (User, bool) {
	for _, u := range s.users {
		if u.Name == name {
			return u, true
		}
	}
	return User{}, false
}

// IMAPAddr returns "host:port" of the plain IMAP listener.
func (s *Server) IMAPAddr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.IMAPPort)) }

// IMAPSAddr returns "host:port" of the implicit-TLS IMAP listener.
func (s *Server) IMAPSAddr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.IMAPSPort)) }

// POP3Addr returns "host:port" of the plain POP3 listener.
func (s *Server) POP3Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.POP3Port)) }

// POP3SAddr returns "host:port" of the implicit-TLS POP3 listener.
func (s *Server) POP3SAddr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.POP3SPort)) }

// TLSConfig returns a client configuration that trusts only the server's
// certificate (CAFile) and verifies it for Host.
func (s *Server) TLSConfig() (*tls.Config, error) {
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		return nil, fmt.Errorf("dovetest: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("dovetest: no certificate in %s", s.CAFile)
	}
	return &tls.Config{RootCAs: pool, ServerName: s.Host, MinVersion: tls.VersionTLS12}, nil
}

// Exited returns a channel that is closed when the Dovecot master process
// has exited: after Stop, or early if Dovecot died.
func (s *Server) Exited() <-chan struct{} { return s.exited }

// freePorts reserves n distinct loopback ports by binding them all at once
// before releasing them.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// pickPorts is freePorts; a test swaps it to stage a lost port race.
var pickPorts = freePorts

func (s *Server) launch() error {
	ports, err := pickPorts(4)
	if err != nil {
		return err
	}
	s.IMAPPort, s.IMAPSPort, s.POP3Port, s.POP3SPort = ports[0], ports[1], ports[2], ports[3]
	conf, err := s.config()
	if err != nil {
		return err
	}
	if err := os.WriteFile(s.Config, []byte(conf), 0o600); err != nil {
		return err
	}
	logStart := fileSize(s.LogFile)

	// -F keeps the master in the foreground as our child: we learn of its
	// exit from Wait instead of polling master.pid, and its process group
	// (Setpgid) holds every Dovecot process, for Stop to sweep.
	cmd := exec.Command(s.dovecotBin, "-F", "-c", s.Config)
	cmd.Dir = s.Dir
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr // early errors, before log_path is open
	cmd.SysProcAttr = sysProcAttr()
	// Wait also waits for the output pipe, which a straggling child could
	// hold open after the master exited; kill sweeps such a child.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", s.dovecotBin, err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited = cmd, exited
	go func() {
		err := cmd.Wait()
		s.exitErr = err // read only after exited is closed
		close(exited)
	}()

	err = s.waitReady(20 * time.Second)
	if err == nil {
		err = s.checkAuth()
	}
	if err == nil {
		return nil
	}
	s.kill()
	log := s.logSince(logStart) + stderr.String()
	if strings.Contains(log, "Address already in use") {
		return errPortTaken
	}
	return fmt.Errorf("%w\n--- dovecot log (%s):\n%s", err, s.LogFile, tail(log, 8<<10))
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// waitReady waits until every listener greets, TLS ones with a handshake
// verified against CAFile: the login processes run and found the auth
// process.
func (s *Server) waitReady(limit time.Duration) error {
	cfg, err := s.TLSConfig()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(limit)
	probes := []struct {
		addr string
		tls  bool
		pop3 bool
	}{
		{s.IMAPAddr(), false, false}, {s.IMAPSAddr(), true, false},
		{s.POP3Addr(), false, true}, {s.POP3SAddr(), true, true},
	}
	for _, p := range probes {
		for {
			select {
			case <-s.exited:
				return fmt.Errorf("dovecot exited at start: %v", s.exitErr)
			default:
			}
			err := probe(p.addr, p.tls, p.pop3, cfg, deadline)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("dovecot not ready after %v: %s: %w", limit, p.addr, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// checkAuth looks every user up through the auth process: the listeners
// greet even when the auth process cannot read the passwd-file.
func (s *Server) checkAuth() error {
	for _, u := range s.users {
		if _, err := s.Doveadm("user", u.Name); err != nil {
			return err
		}
	}
	return nil
}

func probe(addr string, useTLS, pop3 bool, cfg *tls.Config, deadline time.Time) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	d := time.Now().Add(5 * time.Second)
	if deadline.Before(d) {
		d = deadline
	}
	if err := conn.SetDeadline(d); err != nil {
		return err
	}
	if useTLS {
		tc := tls.Client(conn, cfg)
		if err := tc.Handshake(); err != nil {
			return err
		}
		conn = tc
	}
	r := bufio.NewReader(conn)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		switch {
		case pop3 && strings.HasPrefix(line, "+OK"):
			_, err = io.WriteString(conn, "QUIT\r\n")
			return err
		case !pop3 && strings.HasPrefix(line, "* OK Waiting for authentication"):
			continue // imap-login greets for real once the auth process answers
		case !pop3 && strings.HasPrefix(line, "* OK"):
			_, err = io.WriteString(conn, "a LOGOUT\r\n")
			return err
		default:
			return fmt.Errorf("unexpected greeting %q", strings.TrimSpace(line))
		}
	}
}

// Stop stops Dovecot (SIGTERM to the master, which ends its children),
// waits for it, kills the whole process group if it lingers, and removes
// the state directory if StartServer created it. It is safe to call more
// than once; later calls return the first call's result. A Dovecot that
// had died before Stop is reported as an error.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	var errs []error
	select {
	case <-s.exited:
		errs = append(errs, fmt.Errorf("dovetest: dovecot had exited before Stop (%v); see %s:\n%s", s.exitErr, s.LogFile, s.logTail(4<<10)))
	default:
	}
	s.kill()
	s.removeDirs()
	if s.ownDir {
		if _, err := os.Stat(s.Dir); err == nil {
			errs = append(errs, fmt.Errorf("dovetest: %s remains after Stop", s.Dir))
		}
	}
	return errors.Join(errs...)
}

// kill ends the master politely, then anything left in its process group.
// A clean stop takes about a second: the master's last act is to wait a
// fixed second for its log process to drain.
func (s *Server) kill() {
	if s.cmd == nil {
		return
	}
	pid := s.cmd.Process.Pid
	select {
	case <-s.exited:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(15 * time.Second):
			killGroup(pid)
			<-s.exited
		}
	}
	// The master waits for its children before it exits; this catches one
	// that did not (it would keep a port or the state dir busy).
	killGroup(pid)
}

func (s *Server) removeDirs() {
	if s.ownBaseDir {
		os.RemoveAll(s.baseDir)
	}
	if s.ownDir && s.Dir != "" {
		os.RemoveAll(s.Dir)
	}
}

func (s *Server) logSince(off int64) string {
	f, err := os.Open(s.LogFile)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return ""
	}
	data, _ := io.ReadAll(f)
	return string(data)
}

func (s *Server) logTail(n int64) string {
	return s.logSince(max(0, fileSize(s.LogFile)-n))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// config renders dovecot.conf. Everything lives under Dir (or the short
// base_dir), so /etc/dovecot and a system instance are never touched.
func (s *Server) config() (string, error) {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("# Written by mailfetch's internal/dovetest for a private test server.")
	p("base_dir = %s", s.baseDir)
	p("state_dir = %s", filepath.Join(s.Dir, "state"))
	p("instance_name = %s", s.instance)
	p("log_path = %s", s.LogFile)
	p("listen = 127.0.0.1")
	p("protocols = imap pop3")
	p("login_greeting = dovetest ready.")
	p("")
	p("ssl = yes")
	p("ssl_cert = <%s", s.CAFile)
	p("ssl_key = <%s", filepath.Join(s.Dir, "key.pem"))
	if _, err := os.Stat("/usr/share/dovecot/dh.pem"); err == nil {
		p("ssl_dh = </usr/share/dovecot/dh.pem")
	}
	p("# Tests log in on the plain ports too.")
	p("disable_plaintext_auth = no")
	p("auth_mechanisms = plain login cram-md5 apop")
	p("# A wrong password answers at once instead of after 2 s.")
	p("auth_failure_delay = 0")
	p("auth_verbose = yes")
	p("")
	p("# Mail processes run as the passwd-file's uid (%d), never 0.", s.mailUID)
	p("first_valid_uid = %d", min(s.mailUID, 500))
	p("first_valid_gid = %d", min(s.mailGID, 1))
	p("mail_location = maildir:~/Maildir")
	p("# UIDLs stable across sessions and restarts: UID and UIDVALIDITY.")
	p("pop3_uidl_format = %%08Xu%%08Xv")
	p("# mailfetch syncs several folders over parallel connections.")
	p("mail_max_userip_connections = 50")
	p("")
	p("passdb {")
	p("  driver = passwd-file")
	p("  args = scheme=PLAIN username_format=%%u %s", filepath.Join(s.Dir, "passwd"))
	p("}")
	p("userdb {")
	p("  driver = passwd-file")
	p("  args = username_format=%%u %s", filepath.Join(s.Dir, "passwd"))
	p("}")
	p("")
	sep := "/"
	if s.nsSep != "" {
		sep = s.nsSep
	}
	p("# The IMAP hierarchy separator is '/' for every user, whatever the")
	p("# layout on disk, unless Options.NamespaceSeparator says otherwise.")
	p("# Maildir++ (the default) stores \"a/b\" as .a.b, so a '.' cannot be")
	p("# part of a name there; with LAYOUT=fs the disk separator is '/' too,")
	p("# and \"a.b\" is a plain directory. A '.' separator would forbid dots")
	p("# under both layouts (Courier's INBOX. prefix needs it).")
	p("namespace inbox {")
	p("  inbox = yes")
	p("  separator = %s", sep)
	p("  prefix = %s", s.nsPrefix)
	for _, m := range []struct{ name, use string }{{"Drafts", `\Drafts`}, {"Sent", `\Sent`}, {"Trash", `\Trash`}, {"Junk", `\Junk`}, {"Archive", `\Archive`}} {
		p("  mailbox %s {", m.name)
		p("    special_use = %s", m.use)
		p("  }")
	}
	p("}")
	if s.imapCaps != "" {
		p("protocol imap {")
		p("  imap_capability = %s", s.imapCaps)
		p("}")
	}
	p("")
	chroot := ""
	if !s.chown {
		// Without root: every process runs as us, and nothing chroots.
		u, err := user.Current()
		if err != nil {
			return "", fmt.Errorf("current user (dovecot needs a user name): %w", err)
		}
		g, err := user.LookupGroupId(strconv.Itoa(os.Getgid()))
		if err != nil {
			return "", fmt.Errorf("current group (dovecot needs a group name): %w", err)
		}
		p("default_internal_user = %s", u.Username)
		p("default_internal_group = %s", g.Name)
		p("default_login_user = %s", u.Username)
		p("service anvil {")
		p("  chroot =")
		p("}")
		chroot = "  chroot =\n"
	}
	p("service anvil {")
	p("  # No growing delay after failed logins: tests fail logins on purpose.")
	p("  unix_listener anvil-auth-penalty {")
	p("    mode = 0")
	p("  }")
	p("}")
	p("service imap-login {")
	b.WriteString(chroot)
	p("  inet_listener imap {")
	p("    port = %d", s.IMAPPort)
	p("  }")
	p("  inet_listener imaps {")
	p("    port = %d", s.IMAPSPort)
	p("    ssl = yes")
	p("  }")
	p("}")
	p("service pop3-login {")
	b.WriteString(chroot)
	p("  inet_listener pop3 {")
	p("    port = %d", s.POP3Port)
	p("  }")
	p("  inet_listener pop3s {")
	p("    port = %d", s.POP3SPort)
	p("    ssl = yes")
	p("  }")
	p("}")
	return b.String(), nil
}
