package sync

import (
	"bytes"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/internal/report"
	"github.com/mailfetch/mailfetch/maildir"
)

// initialFolders are the folders of the initial-sync test: nested, a
// non-ASCII name, a dot in a name (the fs layout allows it), and how many
// of the 2,000 messages each gets.
var initialFolders = []struct {
	name string
	path []string
	n    int
}{
	{"INBOX", nil, 1000},
	{"Archive", []string{"Archive"}, 200},
	{"Archive/2024", []string{"Archive", "2024"}, 400},
	{"Entwürfe", []string{"Entwürfe"}, 200},
	{"dot.name", []string{"dot.name"}, 200},
}

// seedInitial puts 2,000 generated messages into the five folders.
func seedInitial(t *testing.T, srv *dovetest.Server, user string) {
	t.Helper()
	msgs := dovetest.Generate(7, 2000)
	for _, f := range initialFolders {
		if err := srv.Seed(user, f.name, msgs[:f.n]); err != nil {
			t.Fatal(err)
		}
		msgs = msgs[f.n:]
	}
}

func TestInitialSync(t *testing.T) {
	t.Parallel()
	srv, user := dovecot(t, fsUser)
	seedInitial(t, srv, user.Name)
	before := map[string]map[uint32][]string{}
	for _, f := range initialFolders {
		fl, err := srv.Flags(user.Name, f.name)
		if err != nil {
			t.Fatal(err)
		}
		before[f.name] = fl
	}

	for _, layout := range []maildir.Layout{maildir.LayoutFS, maildir.LayoutMaildirPP} {
		t.Run(layout.String(), func(t *testing.T) {
			env := newEnv(t, srv, user, layout)
			res, log := env.mustRun(nil)
			if res.Delivered != 2000 || res.Folders != len(initialFolders) || res.Failed != 0 {
				t.Errorf("result %+v, want 2000 delivered in %d folders", res, len(initialFolders))
			}
			if n := len(log.kind(report.Delivered)); n != 2000 {
				t.Errorf("%d Delivered events, want 2000", n)
			}
			for _, f := range initialFolders {
				env.verifyMirror(f.name, f.path...)
				// BODY.PEEK: the server's flags, \Seen above all, are
				// untouched.
				after, err := srv.Flags(user.Name, f.name)
				if err != nil {
					t.Fatal(err)
				}
				for uid, fl := range before[f.name] {
					if serverFlagsOf(fl) != serverFlagsOf(after[uid]) {
						t.Errorf("%s UID %d: server flags changed from %v to %v", f.name, uid, fl, after[uid])
					}
				}
			}
			for _, ev := range log.kind(report.Delivered) {
				if ev.Path == "" || ev.ServerID == "" || ev.Size == 0 || ev.MessageID == "" {
					t.Errorf("Delivered event lacks fields: %+v", ev)
					break
				}
			}

			// A second run changes nothing and selects nothing: one
			// LIST-STATUS.
			var trace bytes.Buffer
			res, log = env.mustRun(func(o *Options) { o.Trace = &trace })
			if res.Delivered != 0 || res.FlagsPulled+res.FlagsPushed+res.RemovedLocal+res.RemovedRemote != 0 {
				t.Errorf("second run: %+v", res)
			}
			for _, e := range log.changes() {
				t.Errorf("second run: %s %s %s", e.Kind, e.Folder, e.ServerID)
			}
			if strings.Contains(trace.String(), " SELECT ") || strings.Count(trace.String(), "AUTHENTICATE") != 1 {
				t.Errorf("second run selected a folder:\n%s", trace.String())
			}
		})
	}
}
