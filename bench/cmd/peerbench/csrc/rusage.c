/*
 * rusage: run a command as a forked child and report its resource usage,
 * for mailfetch's peer benchmark.
 *
 *   rusage OUTFILE COMMAND [ARG...]
 *
 * Why not let the Go driver read wait4's rusage itself: Go starts children
 * with clone(CLONE_VM|CLONE_VFORK), so the child execs from the driver's
 * address space, and Linux carries that address space's peak RSS into the
 * child's ru_maxrss. A real fork() from this small program gives the
 * command a peak RSS of its own.
 *
 * Writes "UTIME_US STIME_US MAXRSS_KB" (the command and the descendants it
 * waited for) to OUTFILE and exits with the command's exit status, or
 * 128+signal if it was killed.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: rusage OUTFILE COMMAND [ARG...]\n");
		return 64;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("rusage: fork");
		return 71;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "rusage: %s: %s\n", argv[2], strerror(errno));
		_exit(127);
	}
	int status;
	struct rusage ru;
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("rusage: wait4");
			return 71;
		}
	}
	FILE *f = fopen(argv[1], "w");
	if (f == NULL) {
		perror(argv[1]);
		return 73;
	}
	fprintf(f, "%lld %lld %ld\n",
	        (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
	        (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec,
	        ru.ru_maxrss);
	if (fclose(f) != 0) {
		perror(argv[1]);
		return 73;
	}
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}
