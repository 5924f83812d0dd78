/* signals.c: SIGINT/SIGTERM/SIGHUP delivered on the loop through a
 * signalfd behind a one-shot poll (works on both engines), so shutdown runs
 * as ordinary loop code instead of inside an async signal handler. */
#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "ringbank/mcp.h"

static sigset_t watched(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGHUP);
	return s;
}

void rb_sigwatch_block(void)
{
	sigset_t s = watched();
	/* A client that closes our stdout must give EPIPE, not kill us. */
	signal(SIGPIPE, SIG_IGN);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
}

static void on_ready(struct rb_poll *p, int revents)
{
	struct rb_sigwatch *w = p->data;
	struct signalfd_siginfo si;

	if (w->stopping || revents < 0) {
		close(w->fd);
		w->fd = -1;
		return;
	}
	while (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		w->cb(w, (int)si.ssi_signo);
		if (w->stopping) {
			close(w->fd);
			w->fd = -1;
			return;
		}
	}
	rb_poll_start(w->loop, &w->poll, w->fd, POLLIN, on_ready);
}

int rb_sigwatch_start(struct rb_loop *loop, struct rb_sigwatch *w, void (*cb)(struct rb_sigwatch *w, int signo))
{
	sigset_t s = watched();
	int r;

	w->loop = loop;
	w->cb = cb;
	w->stopping = false;
	w->fd = signalfd(-1, &s, SFD_NONBLOCK | SFD_CLOEXEC);
	if (w->fd < 0)
		return -errno;
	w->poll.data = w;
	r = rb_poll_start(loop, &w->poll, w->fd, POLLIN, on_ready);
	if (r < 0) {
		close(w->fd);
		w->fd = -1;
	}
	return r;
}

void rb_sigwatch_stop(struct rb_sigwatch *w)
{
	if (w->fd < 0 || w->stopping)
		return;
	w->stopping = true;
	/* Stopping from inside the callback: on_ready closes after it returns. */
	if (w->poll.active)
		rb_poll_stop(&w->poll);
}
