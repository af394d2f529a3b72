package sync

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/emersion/go-imap/v2"
)

// serverFolder is one folder as LIST (and STATUS) describe it.
type serverFolder struct {
	name       string // as the server names it, decoded from modified UTF-7
	delim      rune   // hierarchy delimiter; 0 for a flat namespace
	path       []string
	selectable bool
	status     *imap.StatusData // nil when the server gave none
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
// Folders come back sorted by name; \Noselect and \NonExistent ones are
// marked not selectable.
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
	cmd := s.c.List("", "*", lo)
	var out []*serverFolder
	for data := cmd.Next(); data != nil; data = cmd.Next() {
		f := &serverFolder{name: data.Mailbox, delim: data.Delim, selectable: true, status: data.Status}
		for _, a := range data.Attrs {
			if strings.EqualFold(string(a), string(imap.MailboxAttrNoSelect)) || strings.EqualFold(string(a), string(imap.MailboxAttrNonExistent)) {
				f.selectable = false
			}
		}
		f.path = splitName(f.name, f.delim)
		out = append(out, f)
	}
	if err := cmd.Close(); err != nil {
		return nil, s.fail(fmt.Errorf("imap: LIST: %w", err))
	}
	slices.SortFunc(out, func(a, b *serverFolder) int { return strings.Compare(a.name, b.name) })
	out = slices.CompactFunc(out, func(a, b *serverFolder) bool { return a.name == b.name })
	if withStatus && !listStatus {
		type pendingStatus struct {
			f   *serverFolder
			cmd interface {
				Wait() (*imap.StatusData, error)
			}
		}
		var cmds []pendingStatus
		for _, f := range out {
			if f.selectable {
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

// localDir maps a server folder to its directory in the store, or says
// why it cannot be mapped safely. The store escapes names reversibly and
// refuses "", ".", ".." and NUL; the check that the result lies inside the
// root is a second line of defence.
func (e *engine) localDir(f *serverFolder) (string, error) {
	if e.opt.Store == nil {
		return "", nil
	}
	dir, err := e.opt.Store.FolderDir(f.path)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(e.opt.Store.Root(), dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("folder %q maps to %s, outside the Maildir %s", f.name, dir, e.opt.Store.Root())
	}
	return dir, nil
}
