package dovetest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mailfetch/mailfetch/internal/mutf7"
)

// FetchRaw and Append speak IMAP over the plain port with a deliberately
// tiny client of their own: the harness checks mailfetch's go-imap based
// sync, so it must not share go-imap's bugs. What FetchRaw returns is by
// construction what every IMAP client receives for BODY[]; POP3 RETR
// gives the same bytes after dot-unstuffing (TestPOP3MatchesIMAP).

// FetchRaw returns every message of mailbox name of user, keyed by UID,
// exactly as Dovecot serves it to IMAP and POP3 clients: the stored
// message with each bare LF turned into CRLF (CRLF(Message.Raw) for a
// seeded message). It reads with BODY.PEEK[], so no flag changes.
//
// FetchRaw holds all messages in memory; for large mailboxes use
// FetchEach.
func (s *Server) FetchRaw(user, name string) (map[uint32][]byte, error) {
	msgs := map[uint32][]byte{}
	err := s.FetchEach(user, name, func(uid uint32, raw []byte) error {
		msgs[uid] = raw
		return nil
	})
	return msgs, err
}

// FetchEach calls fn for each message of mailbox name of user in UID
// order, with the bytes FetchRaw would return. It stops at fn's first
// error and returns it. raw is fn's to keep.
func (s *Server) FetchEach(user, name string, fn func(uid uint32, raw []byte) error) error {
	c, err := s.loginIMAP(user)
	if err != nil {
		return err
	}
	defer c.close()
	exists := -1
	_, err = c.run("EXAMINE "+quoteIMAP(mutf7.Encode(name)), nil, func(r *imapResponse) error {
		if m := existsRE.FindSubmatch(r.text); m != nil {
			exists, _ = strconv.Atoi(string(m[1]))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if exists == 0 {
		return nil
	}
	var fnErr error
	_, err = c.run("UID FETCH 1:* (UID BODY.PEEK[])", nil, func(r *imapResponse) error {
		uid, body, ok, err := r.fetchBody()
		if err != nil || !ok || fnErr != nil {
			return err
		}
		fnErr = fn(uid, body)
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	return err
}

// Append adds raw to mailbox name of user over IMAP APPEND, with IMAP
// flags such as `\Seen`, `\Flagged` or keywords; the mailbox is created
// if missing. Dovecot stores the message with LF line endings whatever
// raw used, and serves CRLF(raw).
func (s *Server) Append(user, name string, raw []byte, flags ...string) error {
	if err := checkFlags(flags); err != nil {
		return err
	}
	c, err := s.loginIMAP(user)
	if err != nil {
		return err
	}
	defer c.close()
	// LITERAL+ (RFC 7888): the literal follows without waiting for "+".
	cmd := fmt.Sprintf("APPEND %s (%s) {%d+}", quoteIMAP(mutf7.Encode(name)), strings.Join(flags, " "), len(raw))
	tagged, err := c.run(cmd, raw, nil)
	if err != nil && bytes.Contains(tagged, []byte("[TRYCREATE]")) {
		if err := s.ensureMailbox(user, name); err != nil {
			return err
		}
		_, err = c.run(cmd, raw, nil)
	}
	return err
}

var existsRE = regexp.MustCompile(`^\* (\d+) EXISTS`)

type imapConn struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	tag  int
}

// imapTimeout bounds each read and write; a 2 MiB message takes
// milliseconds on loopback.
const imapTimeout = 2 * time.Minute

func (s *Server) loginIMAP(name string) (*imapConn, error) {
	u, ok := s.user(name)
	if !ok {
		return nil, fmt.Errorf("dovetest: no user %q on this server", name)
	}
	conn, err := net.DialTimeout("tcp", s.IMAPAddr(), 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("dovetest: imap: %w", err)
	}
	c := &imapConn{conn: conn, r: bufio.NewReaderSize(conn, 64<<10), w: bufio.NewWriter(conn)}
	for {
		conn.SetDeadline(time.Now().Add(imapTimeout))
		r, err := readIMAPResponse(c.r)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("dovetest: imap greeting: %w", err)
		}
		if bytes.HasPrefix(r.text, []byte("* OK Waiting for authentication")) {
			continue
		}
		if !bytes.HasPrefix(r.text, []byte("* OK")) {
			conn.Close()
			return nil, fmt.Errorf("dovetest: imap greeting: %q", r.text)
		}
		break
	}
	// The password goes as a literal: any character but ':' and controls
	// is allowed in it. run names only "LOGIN" in errors, never the password.
	pass := []byte(u.Password)
	if _, err := c.run(fmt.Sprintf("LOGIN %s {%d+}", quoteIMAP(u.Name), len(pass)), pass, nil); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

func (c *imapConn) close() {
	c.run("LOGOUT", nil, nil)
	c.conn.Close()
}

// run sends a command (and, if literal is not nil, the literal announced
// at its end, then CRLF), feeds untagged responses to untagged, and
// returns the tagged response's text; an error unless it is OK. Errors
// name only the command's first word.
func (c *imapConn) run(cmd string, literal []byte, untagged func(*imapResponse) error) ([]byte, error) {
	c.tag++
	tag := "t" + strconv.Itoa(c.tag)
	verb, _, _ := strings.Cut(cmd, " ")
	if strings.HasPrefix(cmd, "UID ") {
		verb = cmd[:len("UID FETCH")]
	}
	c.conn.SetDeadline(time.Now().Add(imapTimeout))
	c.w.WriteString(tag + " " + cmd + "\r\n")
	if literal != nil {
		c.w.Write(literal)
		c.w.WriteString("\r\n")
	}
	if err := c.w.Flush(); err != nil {
		return nil, fmt.Errorf("dovetest: imap %s: %w", verb, err)
	}
	var cbErr error
	for {
		c.conn.SetDeadline(time.Now().Add(imapTimeout))
		r, err := readIMAPResponse(c.r)
		if err != nil {
			return nil, fmt.Errorf("dovetest: imap %s: %w", verb, err)
		}
		if rest, ok := bytes.CutPrefix(r.text, []byte(tag+" ")); ok {
			if cbErr != nil {
				return rest, cbErr
			}
			if !bytes.HasPrefix(rest, []byte("OK")) {
				return rest, fmt.Errorf("dovetest: imap %s: %s", verb, rest)
			}
			return rest, nil
		}
		if untagged != nil && cbErr == nil {
			cbErr = untagged(r)
		}
	}
}

// imapResponse is one server response: its text with each literal's
// announcement "{N}" left in place, and the literals' bytes in order.
type imapResponse struct {
	text     []byte
	literals [][]byte
	litEnd   []int // where each literal's "{N}" ends in text
}

// Limits that keep a broken or hostile stream from exhausting memory.
const (
	maxResponseLine = 1 << 20
	maxLiteral      = 1 << 31
)

var literalRE = regexp.MustCompile(`\{(\d+)\}$`)

// readIMAPResponse reads one response (RFC 3501 section 7): a line
// ending in CRLF, continued after each literal "{N}\r\n" + N bytes.
func readIMAPResponse(r *bufio.Reader) (*imapResponse, error) {
	resp := &imapResponse{}
	for {
		line, err := readLine(r)
		if err != nil {
			return nil, err
		}
		resp.text = append(resp.text, line...)
		m := literalRE.FindSubmatch(line)
		if m == nil {
			return resp, nil
		}
		n, err := strconv.ParseInt(string(m[1]), 10, 64)
		if err != nil || n > maxLiteral {
			return nil, fmt.Errorf("literal of %s bytes", m[1])
		}
		// Grown as bytes arrive: an announced size alone allocates nothing.
		lit, err := io.ReadAll(io.LimitReader(r, n))
		if err == nil && int64(len(lit)) < n {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, fmt.Errorf("literal: %w", err)
		}
		resp.literals = append(resp.literals, lit)
		resp.litEnd = append(resp.litEnd, len(resp.text))
	}
}

// readLine reads up to CRLF and returns the line without it.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxResponseLine {
			return nil, errors.New("response line too long")
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return nil, err
		}
		if !bytes.HasSuffix(line, []byte("\r\n")) {
			return nil, fmt.Errorf("line without CRLF: %q", tail(string(line), 80))
		}
		return line[:len(line)-2], nil
	}
}

var (
	fetchRE       = regexp.MustCompile(`^\* \d+ FETCH \(`)
	bodyLiteralRE = regexp.MustCompile(`^BODY\[\] \{\d+\}$`)
	uidRE         = regexp.MustCompile(`[( ]UID (\d+)[ )]`)
)

// fetchBody returns the UID and BODY[] of a FETCH response; ok is false
// for other responses, such as an unsolicited FETCH of FLAGS.
func (r *imapResponse) fetchBody() (uid uint32, body []byte, ok bool, err error) {
	if !fetchRE.Match(r.text) {
		return 0, nil, false, nil
	}
	at := bytes.Index(r.text, []byte("BODY[] {"))
	if at < 0 || len(r.literals) == 0 {
		return 0, nil, false, nil
	}
	// The body is the literal announced right after "BODY[] ".
	idx := -1
	for k, end := range r.litEnd {
		if end > at {
			idx = k
			break
		}
	}
	if idx < 0 || !bodyLiteralRE.Match(r.text[at:r.litEnd[idx]]) {
		return 0, nil, false, fmt.Errorf("dovetest: imap FETCH: malformed response %q", tail(string(r.text), 200))
	}
	m := uidRE.FindSubmatch(r.text)
	if m == nil {
		return 0, nil, false, fmt.Errorf("dovetest: imap FETCH without UID: %q", tail(string(r.text), 200))
	}
	u, err := strconv.ParseUint(string(m[1]), 10, 32)
	if err != nil {
		return 0, nil, false, fmt.Errorf("dovetest: imap FETCH: UID %s", m[1])
	}
	return uint32(u), r.literals[idx], true, nil
}

// quoteIMAP returns s as an IMAP quoted string; s must be 7-bit without
// CR or LF (mailbox names are, once in modified UTF-7; user names are
// checked at start).
func quoteIMAP(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
