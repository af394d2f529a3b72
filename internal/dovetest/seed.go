package dovetest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Seed puts msgs into mailbox name of user (created if missing) the fast
// way: each message is written as a file straight into the server's
// Maildir folder (cur/ with ":2,<flags>" when it has flags, else new/),
// then "doveadm force-resync" makes Dovecot index them. The messages get
// consecutive UIDs in slice order, after those already there, provided
// nothing else adds mail to the mailbox meanwhile.
func (s *Server) Seed(user, name string, msgs []Message) error {
	return s.seed(user, name, len(msgs), func(i int) Message { return msgs[i] })
}

// SeedGenerated seeds mailbox name of user with Generate(seed, n) without
// holding the messages in memory: 10,000 of them (about 350 MB) take a
// few seconds.
func (s *Server) SeedGenerated(user, name string, seed int64, n int) error {
	return s.seed(user, name, n, func(i int) Message { return generate(seed, i) })
}

func (s *Server) seed(user, name string, n int, msg func(i int) Message) error {
	if err := s.checkUser(user); err != nil {
		return err
	}
	if err := s.ensureMailbox(user, name); err != nil {
		return err
	}
	dir, err := s.MailboxPath(user, name)
	if err != nil {
		return err
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := s.mkdirOwned(filepath.Join(dir, sub)); err != nil {
			return fmt.Errorf("dovetest: %w", err)
		}
	}
	if n == 0 {
		return nil
	}

	// Dovecot gives new files UIDs in the order of the time in their
	// names (seconds, then the M<microseconds> part), not in directory
	// order: strictly increasing stamps make UID order the slice order.
	first := s.nextStamps(n)
	pid := os.Getpid()
	seeded := time.Now()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		failed   atomic.Bool
	)
	work := make(chan int)
	for range min(runtime.GOMAXPROCS(0)+1, 8, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if err := s.writeMessage(dir, first+int64(i), pid, i, msg(i), seeded); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					failed.Store(true)
				}
			}
		}()
	}
	for i := 0; i < n && !failed.Load(); i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return fmt.Errorf("dovetest: seed %s %s: %w", user, name, firstErr)
	}
	_, err = s.Doveadm("force-resync", "-u", user, name)
	return err
}

// nextStamps reserves n consecutive microsecond stamps, later than every
// stamp handed out before on this server.
func (s *Server) nextStamps(n int) int64 {
	s.stampMu.Lock()
	defer s.stampMu.Unlock()
	first := time.Now().UnixMicro()
	if first <= s.lastStamp {
		first = s.lastStamp + 1
	}
	s.lastStamp = first + int64(n) - 1
	return first
}

// writeMessage delivers one message the way a Maildir MDA does: write into
// tmp/, then rename into new/ or cur/, so a Dovecot session that scans the
// folder meanwhile never sees half a file. No fsync: test data.
func (s *Server) writeMessage(dir string, stamp int64, pid, i int, m Message, seeded time.Time) error {
	flags, err := maildirFlags(m.Flags)
	if err != nil {
		return err
	}
	// S= and W= (size, and size with CRLF line endings) are what Dovecot's
	// own delivery writes: RFC822.SIZE and POP3 LIST then need no read.
	base := fmt.Sprintf("%d.M%06dP%dQ%d.dovetest,S=%d,W=%d",
		stamp/1e6, stamp%1e6, pid, i, len(m.Raw), len(m.Raw)+bareLFs(m.Raw))
	final := filepath.Join(dir, "new", base)
	if flags != "" {
		final = filepath.Join(dir, "cur", base+":2,"+flags)
	}
	tmp := filepath.Join(dir, "tmp", base)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(m.Raw)
	if err == nil && s.chown {
		err = f.Chown(s.mailUID, s.mailGID)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// Maildir's INTERNALDATE is the file's mtime.
		date := m.InternalDate
		if date.IsZero() {
			date = seeded
		}
		err = os.Chtimes(tmp, date, date)
	}
	if err == nil {
		err = os.Rename(tmp, final)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

func bareLFs(raw []byte) int {
	return bytes.Count(raw, []byte("\n")) - bytes.Count(raw, []byte("\r\n"))
}

// maildirFlags checks and sorts Message.Flags: Maildir info letters for
// system flags only (keywords would need Dovecot's dovecot-keywords file;
// use Append or SetFlags for them).
func maildirFlags(f string) (string, error) {
	b := []byte(f)
	for _, c := range b {
		switch c {
		case 'D', 'F', 'R', 'S', 'T':
		default:
			return "", fmt.Errorf("flags %s: only the letters D F R S T (\\Draft \\Flagged \\Answered \\Seen \\Deleted)", strconv.Quote(f))
		}
	}
	slices.Sort(b)
	return string(slices.Compact(b)), nil
}
