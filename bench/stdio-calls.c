/* stdio-calls.c: the cost of one small tool call over stdio, server side.
 *
 * A raw client (no SDK, no JSON parser: the reply is found by its newline)
 * starts the server with pipes on its stdin/stdout, initializes the
 * session, then sends N tools/call requests one at a time (call, wait for
 * the reply line, call again) and reports calls/s and the server's CPU per
 * call: utime+stime of the whole process (/proc/PID/stat, every thread,
 * io-wq workers included; 10 ms ticks, so use N of 20000 or more) and the
 * sum of /proc/PID/task/ * /schedstat (ns, and times scheduled in, of the
 * threads alive at the end), all taken just before the first and just after
 * the last timed call, so start-up and exit are not counted.
 *
 *   cc -O2 -D_GNU_SOURCE -o stdio-calls bench/stdio-calls.c
 *   stdio-calls [-n N] [-w WARMUP] [-o REPLIES] [-t TOOL] [-a ARGS_JSON] -- ringbank serve --io=uring ROOT
 *
 * ARGS_JSON is the "arguments" object sent with every call (default
 * {"path":"note.md"}, a file under ROOT). -o writes every reply line of the
 * timed calls, in order, to REPLIES (to compare the bytes on the wire before
 * and after a change: sha256sum). Output: one line of key=value pairs
 * (cpu_us_per_call, sys_us_per_call: the stat ticks; sched_us_per_call,
 * runs_per_call: schedstat). Syscalls per call: put `strace -f -c -o FILE`
 * before the server command. The machine's other load shows in every
 * figure: alternate the binaries compared, several runs each. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int to_srv, from_srv;
static char *rbuf;
static size_t rcap, rlen, rstart;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static void send_all(const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(to_srv, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			die("write to server");
		s += w;
		n -= (size_t)w;
	}
}

/* The next line from the server (without its newline); NULL at EOF. */
static const char *read_line(size_t *len)
{
	for (;;) {
		char *nl = memchr(rbuf + rstart, '\n', rlen - rstart);
		ssize_t r;
		if (nl) {
			const char *s = rbuf + rstart;
			*len = (size_t)(nl - s);
			rstart = (size_t)(nl - rbuf) + 1;
			return s;
		}
		if (rstart) {
			memmove(rbuf, rbuf + rstart, rlen - rstart);
			rlen -= rstart;
			rstart = 0;
		}
		if (rcap - rlen < 65536) {
			rcap = rcap ? rcap * 2 : 1 << 20;
			rbuf = realloc(rbuf, rcap);
			if (!rbuf)
				die("realloc");
		}
		r = read(from_srv, rbuf + rlen, rcap - rlen);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return NULL;
		rlen += (size_t)r;
	}
}

/* The reply to request id (skipping notifications and other lines). */
static const char *reply_to(long id, size_t *len)
{
	char key[48];
	int kl = snprintf(key, sizeof(key), "\"id\":%ld,", id);
	const char *s;

	while ((s = read_line(len)))
		if (memmem(s, *len, key, (size_t)kl))
			return s;
	fprintf(stderr, "stdio-calls: the server closed its stdout before answering request %ld\n", id);
	exit(2);
}

/* utime+stime of the process in clock ticks (fields 14 and 15); *sys: stime. */
static long long proc_ticks(pid_t pid, long long *sys)
{
	char path[64], buf[4096], *p;
	long long ut = 0, st = 0;
	FILE *f;
	size_t n;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the command name may hold spaces */
	if (!p)
		return -1;
	for (i = 2; i < 14 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %lld %lld", &ut, &st) != 2)
		return -1;
	*sys = st;
	return ut + st;
}

/* Sum of the run time (ns) of the threads alive now; *cs: their context
 * switches (voluntary and not, from schedstat's third field: times run). */
static long long proc_sched_ns(pid_t pid, long long *cs)
{
	char path[64], f2[400];
	long long total = 0, ns, wait_ns, runs;
	struct dirent *de;
	DIR *d;

	*cs = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		FILE *f;
		if (de->d_name[0] == '.')
			continue;
		snprintf(f2, sizeof(f2), "%s/%s/schedstat", path, de->d_name);
		f = fopen(f2, "r");
		if (!f)
			continue;
		if (fscanf(f, "%lld %lld %lld", &ns, &wait_ns, &runs) == 3) {
			total += ns;
			*cs += runs;
		}
		fclose(f);
	}
	closedir(d);
	return total;
}

int main(int argc, char **argv)
{
	const char *tool = "read_text_file", *args = "{\"path\":\"note.md\"}", *out_path = NULL;
	long n = 20000, warm = 500, i;
	int in[2], out[2], opt, status;
	long long t0, t1, s0, s1, k0 = 0, k1 = 0, c0 = 0, c1 = 0;
	double w0, w1, hz = (double)sysconf(_SC_CLK_TCK);
	struct rusage ru;
	FILE *out_f = NULL;
	char req[4096];
	size_t len;
	pid_t pid;

	while ((opt = getopt(argc, argv, "n:w:o:t:a:")) != -1) {
		switch (opt) {
		case 'n': n = atol(optarg); break;
		case 'w': warm = atol(optarg); break;
		case 'o': out_path = optarg; break;
		case 't': tool = optarg; break;
		case 'a': args = optarg; break;
		default:
			fprintf(stderr, "usage: stdio-calls [-n N] [-w WARMUP] [-o REPLIES] [-t TOOL] [-a ARGS_JSON] -- "
				"SERVER ARGS...\n");
			return 2;
		}
	}
	if (optind >= argc || n <= 0 || warm < 0) {
		fprintf(stderr, "stdio-calls: no server command\n");
		return 2;
	}
	if (out_path && !(out_f = fopen(out_path, "w")))
		die(out_path);
	signal(SIGPIPE, SIG_IGN);
	if (pipe(in) < 0 || pipe(out) < 0)
		die("pipe");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]), close(in[1]), close(out[0]), close(out[1]);
		execvp(argv[optind], argv + optind);
		perror(argv[optind]);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	to_srv = in[1];
	from_srv = out[0];

	len = (size_t)snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":"
			       "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":"
			       "{\"name\":\"stdio-calls\",\"version\":\"1\"}}}\n"
			       "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n");
	send_all(req, len);
	(void)reply_to(0, &len);

	t0 = s0 = 0;
	w0 = 0;
	for (i = 1; i <= warm + n; i++) {
		const char *s;
		if (i == warm + 1) {
			t0 = proc_ticks(pid, &k0);
			s0 = proc_sched_ns(pid, &c0);
			w0 = now_s();
		}
		len = (size_t)snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":%ld,\"method\":\"tools/call\","
				       "\"params\":{\"name\":\"%s\",\"arguments\":%s}}\n", i, tool, args);
		if (len >= sizeof(req)) {
			fprintf(stderr, "stdio-calls: arguments too long\n");
			return 2;
		}
		send_all(req, len);
		s = reply_to(i, &len);
		if (i > warm && out_f) {
			fwrite(s, 1, len, out_f);
			fputc('\n', out_f);
		}
		if (i == 1 && memmem(s, len, "\"isError\":true", 14))
			fprintf(stderr, "stdio-calls: warning: the call fails: %.*s\n", (int)(len < 300 ? len : 300), s);
	}
	w1 = now_s();
	t1 = proc_ticks(pid, &k1);
	s1 = proc_sched_ns(pid, &c1);
	close(to_srv);
	while (read_line(&len))
		;
	if (wait4(pid, &status, 0, &ru) < 0)
		die("wait4");
	if (out_f)
		fclose(out_f);
	printf("calls=%ld wall_s=%.4f calls_per_s=%.0f cpu_us_per_call=%.2f sys_us_per_call=%.2f "
	       "sched_us_per_call=%.2f runs_per_call=%.2f total_cpu_s=%.3f exit=%d\n",
	       n, w1 - w0, (double)n / (w1 - w0), (double)(t1 - t0) / hz * 1e6 / (double)n,
	       (double)(k1 - k0) / hz * 1e6 / (double)n,
	       (double)(s1 - s0) / 1e3 / (double)n, (double)(c1 - c0) / (double)n,
	       (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
		       (double)ru.ru_stime.tv_usec / 1e6,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
