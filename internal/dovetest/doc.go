// Package dovetest starts a private, real Dovecot (Debian packages
// dovecot-imapd and dovecot-pop3d) for mailfetch's integration tests, the
// demo and the benchmarks, and puts mail into it.
//
//	s := dovetest.Start(t, dovetest.Options{}) // user "alice", password "secret"
//	s.SeedGenerated("alice", "INBOX", 1, 1000)
//	// ... run mailfetch against s.POP3Addr() or s.IMAPSAddr() with CAFile s.CAFile ...
//	want, _ := s.FetchRaw("alice", "INBOX") // what clients receive, by UID
//
// Each server has its own dovecot.conf in its own directory (base_dir,
// state_dir, log, certificate, passwd-file and the users' mail), so it
// never touches /etc/dovecot, /var/lib/dovecot or a system instance, and
// many run side by side. It listens on 127.0.0.1 only, on four free ports
// picked at start: IMAP and POP3 (both with STARTTLS/STLS) and implicit
// TLS IMAPS and POP3S, with a self-signed certificate made at start.
//
// What was learned running Dovecot 2.3.19 this way, and is relied on here:
//
//   - Run as root, Dovecot's login processes chroot and drop to dovenull,
//     the auth process runs as dovecot, mail processes as the passwd-file
//     uid, which must not be 0 (65534 is used). So the state dir is 0711,
//     the passwd-file belongs to the dovecot user, the mail trees to
//     65534, and a given Options.Dir must be reachable by others. Run as
//     anyone else, every process is that user and nothing chroots.
//   - "dovecot -F" keeps the master in the foreground as our child; on
//     SIGTERM it ends its children, then waits a fixed second for its log
//     process, so Stop takes about a second.
//   - Options.NamespacePrefix "INBOX." with NamespaceSeparator "."
//     reproduces Courier's layout (NAMESPACE (("INBOX." "."))): INBOX and
//     "INBOX.Name" folders; the helpers then take names in that form.
//     Options.IMAPCapability sets imap_capability, the list announced after
//     login (to hide NAMESPACE, say). Dovecot 2.3.19 does not offer
//     UTF8=ACCEPT at all.
//   - The IMAP hierarchy separator is '/' for every layout. Maildir++
//     (the default) stores "a/b" as .a.b, so '.' is refused in names;
//     with LAYOUT=fs "a.b" is a directory of its own. Names are stored in
//     modified UTF-7 on disk ("Entwürfe" is Entw&APw-rfe); doveadm takes
//     and prints UTF-8 (-7 for modified UTF-7).
//   - Dovecot stores Maildir messages with LF line endings and serves
//     every bare LF as CRLF, over IMAP and POP3 alike; so Generate writes
//     LF, and FetchRaw returns CRLF(Message.Raw). "doveadm fetch text"
//     prints the stored LF form, which is not what clients see.
//   - Files written straight into a Maildir get UIDs from "doveadm
//     force-resync" in the order of the time stamp in their names (not
//     directory order), which Seed uses to give UIDs in slice order.
//   - pop3_uidl_format = %08Xu%08Xv yields lower-case hex: UID 28 in
//     UIDVALIDITY 0x6b073d77 is "0000001c6b073d77".
//   - "doveadm mailbox delete INBOX" expunges all of INBOX before it fails,
//     and "doveadm mailbox create INBOX" leaves a stray maildirfolder file
//     in the Maildir root before it fails: both are refused here.
//   - The greeting may be preceded by "* OK Waiting for authentication
//     process to respond.." while the auth process starts.
package dovetest
