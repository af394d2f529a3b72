package maildir

import (
	"runtime"
	"testing"
)

// inEachSyncMode runs test once per durability mode, forced whatever the
// file system of the test's directories: both must pass the same
// delivery and failure tests.
func inEachSyncMode(t *testing.T, test func(t *testing.T)) {
	t.Helper()
	for _, m := range []syncMode{syncEachFile, syncWholeFS} {
		name := map[syncMode]string{syncEachFile: "fsync", syncWholeFS: "syncfs"}[m]
		t.Run(name, func(t *testing.T) {
			if m == syncWholeFS && runtime.GOOS != "linux" {
				t.Skip("syncfs(2) is Linux's")
			}
			forceMode(t, m)
			test(t)
		})
	}
}

// assertReleased checks that no staged file of f's file system is left
// outstanding, and that its syncfs descriptor is closed.
func assertReleased(t testing.TB, f *Folder) {
	t.Helper()
	fsys := f.fs
	fsys.fdMu.Lock()
	defer fsys.fdMu.Unlock()
	if fsys.outstanding != 0 || fsys.dir != nil {
		t.Errorf("%s: %d files outstanding, descriptor %v", fsys.why, fsys.outstanding, fsys.dir)
	}
}
