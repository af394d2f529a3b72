package sync

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/mailfetch/mailfetch/internal/failure"
)

// serverFolder is one folder as LIST (and STATUS) describe it.
type serverFolder struct {
	// name is the folder's name as the server names it, decoded from
	// modified UTF-7 (or UTF-8): what SELECT is given and the state is
	// keyed by. For a name that does not decode, its raw bytes shown by
	// displayName.
	name  string
	delim rune // hierarchy delimiter; 0 for a flat namespace
	// path is the folder as the user sees it: its name cut at the
	// delimiter, without the personal namespace's prefix (Courier's
	// "INBOX."). Patterns match it; the local folder is named after it.
	// localDir may set it back to full (see legacyDir).
	path []string
	// full is the path with the namespace prefix, when path lacks it.
	full       []string
	selectable bool
	status     *imap.StatusData // nil when the server gave none
	// raw is the name's raw bytes when they do not decode (go-imap would
	// have failed the whole LIST on them); unusable then says why the
	// folder is skipped. Such a folder is never selected.
	raw      string
	unusable error
}

// delimiter is the delimiter as a string, "" when there is none.
func (f *serverFolder) delimiter() string {
	if f.delim == 0 {
		return ""
	}
	return string(f.delim)
}

// splitName cuts a folder name into path elements at the delimiter.
func splitName(name string, delim rune) []string {
	if delim == 0 {
		return []string{name}
	}
	return strings.Split(name, string(delim))
}

// statusOptions are the STATUS items a sync needs: enough to tell that a
// folder is unchanged since the last run, without selecting it.
func (s *session) statusOptions(unseen bool) *imap.StatusOptions {
	return &imap.StatusOptions{
		NumMessages:   true,
		UIDNext:       true,
		UIDValidity:   true,
		NumUnseen:     unseen,
		HighestModSeq: s.caps.Has(imap.CapCondStore),
	}
}

// listFolders lists every folder with LIST "" "*", with the STATUS of
// each selectable one: in the same command with LIST-STATUS (RFC 5819)
// when offered, else with STATUS commands sent all at once (pipelined).
// NAMESPACE (RFC 2342) goes out with the LIST where the server has it:
// the first personal namespace's prefix is taken off the folders' paths.
// Folders come back sorted by name; \Noselect and \NonExistent ones are
// marked not selectable; a name that does not decode is marked unusable.
func (s *session) listFolders(ctx context.Context, withStatus, unseen bool) ([]*serverFolder, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	opts := s.statusOptions(unseen)
	listStatus := withStatus && s.caps.Has(imap.CapListStatus)
	var lo *imap.ListOptions
	if listStatus {
		lo = &imap.ListOptions{ReturnStatus: opts}
	}
	var ns *imapclient.NamespaceCommand
	if s.caps.Has(imap.CapNamespace) || s.caps.Has(imap.CapIMAP4rev2) {
		ns = s.c.Namespace()
	}
	cmd := s.c.List("", "*", lo)
	var listed []*imap.ListData
	for data := cmd.Next(); data != nil; data = cmd.Next() {
		listed = append(listed, data)
	}
	if err := cmd.Close(); err != nil {
		if ns != nil {
			_, _ = ns.Wait()
		}
		return nil, s.fail(fmt.Errorf("imap: LIST: %w", err))
	}
	prefix := ""
	if ns != nil {
		data, err := ns.Wait()
		var ie *imap.Error
		switch {
		case err == nil:
			prefix = s.personalPrefix(data)
		case !errors.As(err, &ie):
			return nil, s.fail(fmt.Errorf("imap: NAMESPACE: %w", err))
		}
	}
	var out []*serverFolder
	for _, data := range listed {
		f := &serverFolder{name: data.Mailbox, delim: data.Delim, selectable: true, status: data.Status}
		for _, a := range data.Attrs {
			if strings.EqualFold(string(a), string(imap.MailboxAttrNoSelect)) || strings.EqualFold(string(a), string(imap.MailboxAttrNonExistent)) {
				f.selectable = false
			}
		}
		if raw, ok := s.wire.undecodable(data.Mailbox); ok {
			s.undecodableFolder(f, raw, prefix)
		} else if shown, ok := cutPrefix(f.name, prefix); ok {
			f.path = splitName(shown, f.delim)
			f.full = splitName(f.name, f.delim)
		} else {
			f.path = splitName(f.name, f.delim)
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *serverFolder) int { return strings.Compare(a.name, b.name) })
	out = slices.CompactFunc(out, func(a, b *serverFolder) bool { return a.name == b.name && a.raw == b.raw })
	if withStatus && !listStatus {
		type pendingStatus struct {
			f   *serverFolder
			cmd interface {
				Wait() (*imap.StatusData, error)
			}
		}
		var cmds []pendingStatus
		for _, f := range out {
			if f.selectable && f.unusable == nil {
				cmds = append(cmds, pendingStatus{f, s.c.Status(f.name, opts)})
			}
		}
		var firstErr error
		for _, p := range cmds {
			data, err := p.cmd.Wait()
			if err != nil {
				// One folder's STATUS failing (a race with its deletion)
				// is no reason to stop: the folder just cannot be skipped.
				if _, ok := err.(*imap.Error); !ok && firstErr == nil {
					firstErr = err
				}
				continue
			}
			p.f.status = data
		}
		if firstErr != nil {
			return nil, s.fail(fmt.Errorf("imap: STATUS: %w", firstErr))
		}
	}
	return out, nil
}

// personalPrefix returns the prefix of the first personal namespace,
// decoded like a mailbox name, ending with its delimiter; "" when there is
// none (Dovecot's default) or it is not plain.
func (s *session) personalPrefix(data *imap.NamespaceData) string {
	if data == nil || len(data.Personal) == 0 {
		return ""
	}
	p := data.Personal[0]
	prefix := p.Prefix
	if !s.utf8 {
		var ok bool
		if prefix, ok = decodeMUTF7(prefix); !ok {
			return ""
		}
	}
	if prefix != "" && p.Delim != 0 && !strings.HasSuffix(prefix, string(p.Delim)) {
		prefix += string(p.Delim)
	}
	return prefix
}

// cutPrefix takes the personal namespace's prefix off a name, as mbsync's
// "Path INBOX." does: Courier's "INBOX.Archive" is shown (and stored
// locally) as "Archive". INBOX itself keeps its name, and so does a name
// that would become "INBOX" or nothing.
func cutPrefix(name, prefix string) (string, bool) {
	if prefix == "" {
		return name, false
	}
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || rest == "" || strings.EqualFold(rest, "INBOX") {
		return name, false
	}
	return rest, true
}

// undecodableFolder describes a folder whose name go-imap could not have
// decoded: named by its raw bytes (displayName), each path element too,
// so that a pattern can name it; unusable says why it is skipped.
func (s *session) undecodableFolder(f *serverFolder, raw, prefix string) {
	f.raw = raw
	f.name = displayName(raw)
	shown := raw
	if rest, ok := cutPrefix(raw, prefix); ok {
		shown = rest
	}
	var elems []string
	if f.delim > 0 && f.delim < 0x80 {
		elems = strings.Split(shown, string(f.delim))
	} else {
		elems = []string{shown}
	}
	for i, e := range elems {
		elems[i] = displayName(e)
	}
	f.path = elems
	what := "not valid modified UTF-7, or it holds control characters such as CR, LF or NUL"
	if s.utf8 {
		what = "not valid UTF-8, or it holds control characters such as CR, LF or NUL"
	}
	f.unusable = failure.New(failure.Protocol, fmt.Sprintf(
		"imap: folder '%s' is skipped: the server's name for it cannot be decoded (%s; shown here with \\xHH for each byte that is not printable ASCII); exclude it with the pattern '!%s' to silence this",
		f.name, what, strings.Join(f.path, "/")))
}

// localDir maps a server folder to its directory in the store, or says
// why it cannot be mapped safely. The store escapes names reversibly and
// refuses "", ".", ".." and NUL; the check that the result lies inside the
// root is a second line of defence. A folder whose name has the personal
// namespace prefix keeps its old local name (with the prefix) where an
// older run created it (see legacyDir); then f.path is set to the full
// path, as that is what the folder is opened by.
func (e *engine) localDir(f *serverFolder) (string, error) {
	if f.unusable != nil {
		return "", f.unusable
	}
	if e.opt.Store == nil {
		return "", nil
	}
	dir, err := e.opt.Store.FolderDir(f.path)
	if err != nil {
		return "", err
	}
	if old, ok := e.legacyDir(f, dir); ok {
		f.path, dir = f.full, old
	}
	rel, err := filepath.Rel(e.opt.Store.Root(), dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("folder %q maps to %s, outside the Maildir %s", f.name, dir, e.opt.Store.Root())
	}
	return dir, nil
}

// legacyDir returns the directory an older mailfetch gave a folder whose
// path now lacks the namespace prefix, when that one is still to be used:
// the folder's new directory does not exist, and its old one does, or the
// old one of a parent folder does while that parent's new one does not,
// or any folder with the prefix exists locally (with the fs layout, the
// prefix's own directory: an older run made "INBOX/" a Maildir next to
// INBOX; with Maildir++, a ".INBOX.*" directory). So an account synced
// before keeps all its local names, new folders included, and an account
// synced first now gets names without the prefix.
func (e *engine) legacyDir(f *serverFolder, dir string) (string, bool) {
	if f.full == nil || isDir(dir) {
		return "", false
	}
	st := e.opt.Store
	old, err := st.FolderDir(f.full)
	if err != nil {
		return "", false
	}
	pre := f.full[:len(f.full)-len(f.path)]
	for n := len(f.path); n >= 1; n-- {
		o, err1 := st.FolderDir(append(slices.Clone(pre), f.path[:n]...))
		c, err2 := st.FolderDir(f.path[:n])
		if err1 == nil && err2 == nil && isDir(o) && !isDir(c) {
			return old, true
		}
	}
	// Any folder under the prefix: the directory names of the prefix's
	// folders all start as a probe's does.
	probe, err := st.FolderDir(append(slices.Clone(pre), "x"))
	if err != nil {
		return "", false
	}
	root := filepath.Clean(st.Root())
	if parent := filepath.Dir(probe); parent != root {
		return old, isDir(parent)
	}
	stem := strings.TrimSuffix(filepath.Base(probe), "x")
	entries, err := os.ReadDir(root)
	if err != nil {
		return "", false
	}
	for _, ent := range entries {
		if ent.IsDir() && len(ent.Name()) > len(stem) && strings.HasPrefix(ent.Name(), stem) {
			return old, true
		}
	}
	return "", false
}

func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
