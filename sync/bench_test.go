package sync

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mailfetch/mailfetch/internal/dovetest"
	"github.com/mailfetch/mailfetch/maildir"
)

// BenchmarkChangedSync is the in-process part of peerbench's "+100 new,
// 100 flags" phase, for profiling: 10 folders of 1,000 messages synced
// once; then the server gets 10 new messages and 10 flag changes per
// folder, and each iteration syncs them into a copy of the first sync's
// Maildir and state.
//
//	go test ./sync -run '^$' -bench ChangedSync -benchtime 10x -cpuprofile /tmp/cpu.prof
func BenchmarkChangedSync(b *testing.B) {
	const folders, per = 10, 1000
	srv := dovetest.Start(b, dovetest.Options{Users: []dovetest.User{ppUser}})
	names := make([]string, folders)
	for i := range names {
		names[i] = fmt.Sprintf("Folder%02d", i)
		if i == 0 {
			names[i] = "INBOX"
		}
		if err := srv.SeedGenerated(ppUser.Name, names[i], int64(100+i), per); err != nil {
			b.Fatal(err)
		}
	}
	base := b.TempDir()
	env := &testEnv{t: b, srv: srv, user: ppUser, root: filepath.Join(base, "Mail"), layout: maildir.LayoutMaildirPP, stateDir: filepath.Join(base, "state")}
	if res, _, err := env.run(nil); err != nil || res.Delivered != folders*per {
		b.Fatalf("initial sync: %+v, %v", res, err)
	}
	for i, name := range names {
		if err := srv.SeedGenerated(ppUser.Name, name, int64(1_000_000+i), 10); err != nil {
			b.Fatal(err)
		}
		for k := range 10 {
			if err := srv.SetFlags(ppUser.Name, name, uint32(1+k*37), `\Flagged`); err != nil {
				b.Fatal(err)
			}
		}
	}
	pulled := -1 // as many every time (some of the messages were flagged already)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		run := filepath.Join(base, "run"+strconv.Itoa(i))
		if err := os.MkdirAll(run, 0o700); err != nil {
			b.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", env.root, env.stateDir, run+"/").CombinedOutput(); err != nil {
			b.Fatalf("cp: %v: %s", err, out)
		}
		renv := *env
		renv.root, renv.stateDir = filepath.Join(run, "Mail"), filepath.Join(run, "state")
		b.StartTimer()
		res, _, err := renv.run(nil)
		if pulled < 0 {
			pulled = res.FlagsPulled
		}
		if err != nil || res.Delivered != folders*10 || res.FlagsPulled != pulled || pulled == 0 {
			b.Fatalf("changed sync: %+v, %v", res, err)
		}
	}
}

// BenchmarkOpenFolder is the local part of a folder that must be looked
// at (the full way): replaying a 1,000-message journal and listing a
// 1,000-message Maildir.
func BenchmarkOpenFolder(b *testing.B) {
	dir := b.TempDir()
	st, err := maildir.Open(filepath.Join(dir, "Mail"), maildir.LayoutMaildirPP)
	if err != nil {
		b.Fatal(err)
	}
	mf, err := st.Folder(nil)
	if err != nil {
		b.Fatal(err)
	}
	s := newFolderState("INBOX")
	s.uidValidity, s.last = 7, 1000
	for u := UID(1); u <= 1000; u++ {
		staged, err := mf.Deliver(b.Context(), strings.NewReader("Subject: x\n\nbody\n"), maildir.StageOptions{Flags: "S", Cur: true})
		if err != nil {
			b.Fatal(err)
		}
		s.msgs[u] = &msgRecord{unique: staged.Unique(), flags: "S", size: 20}
	}
	recs := s.snapshot()
	b.Run("replay", func(b *testing.B) {
		for range b.N {
			if _, err := parseState("INBOX", recs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("scan", func(b *testing.B) {
		for range b.N {
			entries, err := mf.Scan()
			if err != nil {
				b.Fatal(err)
			}
			newLocalIndex(entries)
		}
	})
}
