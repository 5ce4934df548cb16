/*
 * dispatch.c -- the receive loop and its worker pool (dispatch.h).
 *
 * The receiving thread reads a request, looks at its header, and either
 * processes it at once or copies it into a job for the pool. Which
 * requests go to the pool (is_slow): fsync and fsyncdir (the disk's
 * flush), rename (a directory rename moves every key below it), reads and
 * writes of at least SLOW_IO bytes (big files: value-log I/O), truncating
 * setattrs (may load a whole file), the first write to a file opened
 * without O_TRUNC (loads it), flush and release when the commit has much
 * to write or must sync (file_commit_is_slow), and open, write and setattr
 * of a file whose commit or load is under way (file_is_busy): they would
 * wait for its commit_mu. Everything else runs inline. (A request that
 * comes in just as a worker takes a node's commit_mu may still wait for it
 * on the receiving thread: the check and the lock are not one step.)
 *
 * Handlers are the same whichever thread runs them; they were written for
 * libfuse's multithreaded loop and lock accordingly. Order is safe too:
 * the kernel waits for the answer to a system call before it sends that
 * call's next request, and it sends one write at a time per file.
 *
 * At the end the loop stops receiving, the workers drain the queue (their
 * answers may find the mount gone, which libfuse ignores), and only then
 * does the caller commit open files and close the database.
 */
#include "dispatch.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Reads and writes this big go to a worker: they are value-log I/O, and
 * copying the request costs little beside them. */
#define SLOW_IO (128u << 10)

typedef struct job {
	struct job *next;
	size_t size;
	char mem[]; /* the request as received */
} job;

typedef struct pool {
	struct fuse_session *se;
	pthread_mutex_t mu;
	pthread_cond_t wake;
	job *head, *tail; /* (mu) FIFO */
	bool stop;        /* (mu) drain the queue, then exit */
	unsigned nthreads;
	pthread_t *threads;
} pool;

static void *worker_main(void *arg)
{
	pool *p = arg;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		while (p->head == NULL && !p->stop)
			pthread_cond_wait(&p->wake, &p->mu);
		job *j = p->head;
		if (j != NULL) {
			p->head = j->next;
			if (p->head == NULL)
				p->tail = NULL;
		}
		pthread_mutex_unlock(&p->mu);
		if (j == NULL)
			return NULL; /* stopping and drained */
		struct fuse_buf buf = { .size = j->size, .mem = j->mem };
		fuse_session_process_buf(p->se, &buf);
		free(j);
	}
}

static int pool_start(pool *p, struct fuse_session *se, unsigned n)
{
	memset(p, 0, sizeof(*p));
	p->se = se;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->wake, NULL);
	p->threads = calloc(n ? n : 1, sizeof(pthread_t));
	if (p->threads == NULL)
		return ENOMEM;
	for (; p->nthreads < n; p->nthreads++) {
		int rc = pthread_create(&p->threads[p->nthreads], NULL, worker_main, p);
		if (rc != 0)
			return rc; /* the caller stops the ones that started */
	}
	return 0;
}

static void pool_stop(pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	free(p->threads);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->mu);
}

/* Queues a copy of the request; false if there is no memory for it (the
 * caller then runs it inline). */
static bool pool_push(pool *p, const struct fuse_buf *buf, size_t size)
{
	job *j = malloc(sizeof(*j) + size);
	if (j == NULL)
		return false;
	j->next = NULL;
	j->size = size;
	memcpy(j->mem, buf->mem, size);
	pthread_mutex_lock(&p->mu);
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->mu);
	return true;
}

/* The argument struct that follows the header, if the request holds one. */
static const void *request_arg(const struct fuse_buf *buf, size_t size, size_t arg_size)
{
	if (size < sizeof(struct fuse_in_header) + arg_size)
		return NULL;
	return (const char *)buf->mem + sizeof(struct fuse_in_header);
}

static bool is_slow(fs_t *fs, const struct fuse_buf *buf, size_t size)
{
	const struct fuse_in_header *in = buf->mem;
	const struct fuse_read_in *rd;
	const struct fuse_write_in *wr;
	const struct fuse_setattr_in *sa;
	switch (in->opcode) {
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
	case FUSE_RENAME:
	case FUSE_RENAME2:
		return true;
	case FUSE_READ:
		rd = request_arg(buf, size, sizeof(*rd));
		return rd != NULL && rd->size >= SLOW_IO;
	case FUSE_WRITE:
		/* The write_in the kernel sends may be the short old one. */
		wr = request_arg(buf, size, FUSE_COMPAT_WRITE_IN_SIZE);
		return (wr != NULL && wr->size >= SLOW_IO) || file_is_busy(fs, in->nodeid, true);
	case FUSE_SETATTR:
		sa = request_arg(buf, size, sizeof(*sa));
		return (sa != NULL && (sa->valid & FATTR_SIZE)) || file_is_busy(fs, in->nodeid, false);
	case FUSE_OPEN:
		return file_is_busy(fs, in->nodeid, false);
	case FUSE_FLUSH:
	case FUSE_RELEASE:
		return file_commit_is_slow(fs, in->nodeid);
	default:
		return false;
	}
}

/* Microseconds since *t; sets *t to now when reset. */
static long since_us(struct timespec *t, bool reset)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long us = (now.tv_sec - t->tv_sec) * 1000000L + (now.tv_nsec - t->tv_nsec) / 1000;
	if (reset)
		*t = now;
	return us;
}

/* Waits for the next request: polls without sleeping while one arrived
 * less than spin_us ago (a client in a burst sends its next one within
 * microseconds), giving the CPU to anyone else who wants it between
 * polls; past that, sleeps in poll(2). Returns what the receive returned. */
static int receive(struct fuse_session *se, struct fuse_buf *buf, unsigned spin_us,
		   struct timespec *last)
{
	for (;;) {
		int res = fuse_session_receive_buf(se, buf);
		if (res != -EAGAIN) {
			if (res > 0)
				since_us(last, true);
			return res;
		}
		if (since_us(last, false) < (long)spin_us) {
			sched_yield();
			continue;
		}
		struct pollfd pfd = { .fd = fuse_session_fd(se), .events = POLLIN };
		if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
			return -errno;
		if (fuse_session_exited(se))
			return -EINTR;
	}
}

int dispatch_loop(fs_t *fs, struct fuse_session *se, unsigned workers, unsigned spin_us)
{
	pool p;
	int rc = workers ? pool_start(&p, se, workers) : 0;
	if (rc != 0) {
		pool_stop(&p);
		return rc;
	}
	/* Non-blocking reads, so that receive() decides when to sleep. */
	int fd = fuse_session_fd(se), fl = fcntl(fd, F_GETFL);
	if (spin_us && (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0))
		spin_us = 0;
	struct timespec last;
	since_us(&last, true);
	struct fuse_buf buf = { .mem = NULL };
	int res = 0;
	while (!fuse_session_exited(se)) {
		res = spin_us ? receive(se, &buf, spin_us, &last) : fuse_session_receive_buf(se, &buf);
		if (res == -EINTR)
			continue;
		if (res <= 0)
			break; /* 0: unmounted */
		size_t size = (size_t)res;
		if (workers && size >= sizeof(struct fuse_in_header) && is_slow(fs, &buf, size) &&
		    pool_push(&p, &buf, size))
			continue;
		struct fuse_buf one = { .size = size, .mem = buf.mem };
		fuse_session_process_buf(se, &one);
	}
	/* Told to exit (a signal) or unmounted: a clean end. */
	int err = fuse_session_exited(se) || res >= 0 ? 0 : -res;
	free(buf.mem);
	if (workers)
		pool_stop(&p);
	fuse_session_reset(se);
	return err;
}
