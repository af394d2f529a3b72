/*
 * minimda: the smallest honest Maildir MDA, for fetchmail (which cannot
 * write a Maildir itself) in mailfetch's peer benchmark.
 *
 *   minimda MAILDIR < message
 *
 * Writes standard input to MAILDIR/tmp/UNIQUE, fsyncs it, renames it into
 * MAILDIR/new/UNIQUE. Exit 0 means delivered; 75 (EX_TEMPFAIL) otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static int fail(const char *what) {
	fprintf(stderr, "minimda: %s: %s\n", what, strerror(errno));
	return 75;
}

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: minimda MAILDIR < message\n");
		return 64;
	}
	char host[256];
	if (gethostname(host, sizeof host - 1) != 0)
		strcpy(host, "localhost");
	host[sizeof host - 1] = 0;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	char base[512], tmp[4096], dst[4096];
	snprintf(base, sizeof base, "%ld.M%06ldP%d.%s", (long)tv.tv_sec, (long)tv.tv_usec, (int)getpid(), host);
	snprintf(tmp, sizeof tmp, "%s/tmp/%s", argv[1], base);
	snprintf(dst, sizeof dst, "%s/new/%s", argv[1], base);

	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		return fail(tmp);
	static char buf[1 << 16];
	for (;;) {
		ssize_t n = read(0, buf, sizeof buf);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			unlink(tmp);
			return fail("stdin");
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, n - off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				unlink(tmp);
				return fail(tmp);
			}
			off += w;
		}
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		unlink(tmp);
		return fail(tmp);
	}
	if (rename(tmp, dst) != 0) {
		unlink(tmp);
		return fail(dst);
	}
	return 0;
}
