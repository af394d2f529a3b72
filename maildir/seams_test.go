package maildir

import (
	"strings"
	gosync "sync"
	"testing"
)

// storeSetups holds, by test name, what a test changes in the stores it
// opens (seams, the fsync pool): a test's own, never the package's, so
// that tests run in parallel.
var storeSetups gosync.Map // test name → []func(*Store)

// setUpStores makes every store that the test (or its subtests) opens
// with openAt, openStore or openInbox go through set first.
func setUpStores(t testing.TB, set func(*Store)) {
	t.Helper()
	name := t.Name()
	old, _ := storeSetups.Load(name)
	fns, _ := old.([]func(*Store))
	storeSetups.Store(name, append(fns[:len(fns):len(fns)], set))
	if old == nil {
		t.Cleanup(func() { storeSetups.Delete(name) })
	}
}

// forceMode makes m the mode of the stores the test opens.
func forceMode(t testing.TB, m syncMode) {
	t.Helper()
	setUpStores(t, func(s *Store) { s.seams.mode = m })
}

// openAt is Open, with the set-ups of the test and of its parents applied,
// the parents' first.
func openAt(t testing.TB, root string, layout Layout) (*Store, error) {
	t.Helper()
	s, err := Open(root, layout)
	if err != nil {
		return nil, err
	}
	name := t.Name()
	var prefixes []string
	for {
		prefixes = append(prefixes, name)
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			break
		}
		name = name[:i]
	}
	for i := len(prefixes) - 1; i >= 0; i-- {
		if fns, ok := storeSetups.Load(prefixes[i]); ok {
			for _, set := range fns.([]func(*Store)) {
				set(s)
			}
		}
	}
	return s, nil
}
