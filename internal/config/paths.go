package config

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
)

// appName is the directory name under the XDG base directories.
const appName = "mailfetch"

// DefaultPath is where the config file is read when none is given:
// $XDG_CONFIG_HOME/mailfetch/config.toml, or ~/.config/mailfetch/config.toml
// when XDG_CONFIG_HOME is unset. It returns "" if neither that variable nor
// the home directory is known.
func DefaultPath() string {
	dir := xdgDir("XDG_CONFIG_HOME", ".config")
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, appName, "config.toml")
}

// DefaultStateDir is the state directory of the account name when the config
// does not set one: $XDG_STATE_HOME/mailfetch/NAME, or
// ~/.local/state/mailfetch/NAME. It returns "" if neither that variable nor
// the home directory is known.
func DefaultStateDir(name string) string {
	dir := xdgDir("XDG_STATE_HOME", filepath.Join(".local", "state"))
	if dir == "" {
		return ""
	}
	return filepath.Join(dir, appName, name)
}

// xdgDir returns $env, or ~/fallback. The XDG Base Directory specification
// says a relative value is invalid and must be ignored.
func xdgDir(env, fallback string) string {
	if dir := os.Getenv(env); filepath.IsAbs(dir) {
		return dir
	}
	home := homeDir()
	if home == "" {
		return ""
	}
	return filepath.Join(home, fallback)
}

// homeDir is $HOME, or the password database's entry when HOME is unset (as
// it can be under some cron daemons and service managers).
func homeDir() string {
	if h := os.Getenv("HOME"); h != "" {
		return h
	}
	if u, err := user.Current(); err == nil {
		return u.HomeDir
	}
	return ""
}

// expandHome replaces a leading "~" or "~/" with the home directory. Other
// forms ("~bob/Mail") are left alone, and so is everything when the home
// directory is unknown: validation reports such a path.
func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home := homeDir()
	if home == "" {
		return p
	}
	return filepath.Join(home, p[1:])
}
