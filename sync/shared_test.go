package sync

import (
	"errors"
	"fmt"
	"io"
	"os"
	gosync "sync"
	"sync/atomic"
	"testing"

	"github.com/mailfetch/mailfetch/internal/dovetest"
)

// The Dovecot-backed tests share one server, each on a harness user of
// its own, and run in parallel: go test overlaps their waits. A test that
// needs a server of its own settings (a namespace, hidden capabilities, a
// restart) starts one with dovetest.Start.

// sharedUsers is how many users of each layout the shared server has; a
// test that finds none left (go test -count) gets a server of its own.
const sharedUsers = 16

var shared struct {
	once gosync.Once
	srv  *dovetest.Server
	err  error
	next [2]atomic.Int32 // users handed out: fs, Maildir++
}

// sharedUserName is the name of the i-th shared user of like's layout.
func sharedUserName(like dovetest.User, i int) string {
	if like.MailLocation == fsUser.MailLocation {
		return fmt.Sprintf("fs%02d", i)
	}
	return fmt.Sprintf("pp%02d", i)
}

// dovecot returns a Dovecot and a user of it that no other test uses,
// with the mail layout (and password) of like: fsUser or ppUser.
func dovecot(t testing.TB, like dovetest.User) (*dovetest.Server, dovetest.User) {
	t.Helper()
	shared.once.Do(func() {
		var users []dovetest.User
		for _, tpl := range []dovetest.User{fsUser, ppUser} {
			for i := range sharedUsers {
				u := tpl
				u.Name = sharedUserName(tpl, i)
				users = append(users, u)
			}
		}
		shared.srv, shared.err = dovetest.StartServer(dovetest.Options{Users: users})
	})
	kind := 1
	if like.MailLocation == fsUser.MailLocation {
		kind = 0
	}
	i := int(shared.next[kind].Add(1)) - 1
	if errors.Is(shared.err, dovetest.ErrNotInstalled) || i >= sharedUsers {
		return dovetest.Start(t, dovetest.Options{Users: []dovetest.User{like}}), like
	}
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	u := like
	u.Name = sharedUserName(like, i)
	srv := shared.srv
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dovetest: tail of %s:\n%s", srv.LogFile, logTail(srv.LogFile, 8<<10))
		}
	})
	return srv, u
}

// logTail returns the last n bytes of a file.
func logTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		_, _ = f.Seek(fi.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.srv != nil {
		if err := shared.srv.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	os.Exit(code)
}
