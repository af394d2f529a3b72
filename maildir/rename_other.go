//go:build !linux

package maildir

// renameNoReplace renames oldpath to newpath, failing with an error that
// matches fs.ErrExist when newpath exists: a delivery never overwrites
// mail. Outside Linux it links and unlinks.
func renameNoReplace(oldpath, newpath string) error {
	return linkRename(oldpath, newpath)
}
