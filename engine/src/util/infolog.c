/*
 * infolog.c -- the LOG file (infolog.h): rotation at open, one timestamped
 * line per call. Writing the log must not disturb the caller: the calling
 * thread's error message (wb_errmsg) is kept across the env calls made
 * here, and their failures are dropped.
 */
#include "util/infolog.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/error.h"

struct info_log {
	const wb_env *env;
	info_log_fn fn; /* instead of the file, when not NULL */
	void *arg;
	pthread_mutex_t mu;
	wb_env_file *file; /* (mu) */
	uint64_t size;     /* (mu) bytes appended to file */
	char path[PATH_MAX], old[PATH_MAX];
};

/* LOG to LOG.old, and a new empty LOG. */
static int start_file(info_log_t *l)
{
	int rc = l->env->rename(l->env->ctx, l->path, l->old);
	if (rc == WB_ENOTFOUND)
		rc = WB_OK;
	if (rc == WB_OK)
		rc = l->env->open(l->env->ctx, l->path, WB_ENV_WRITE | WB_ENV_CREATE | WB_ENV_TRUNCATE,
				  &l->file);
	l->size = 0;
	return rc;
}

/* Runs the env calls of this file without losing the caller's message. */
typedef struct saved_msg {
	char text[512];
} saved_msg_t;

static void save_msg(saved_msg_t *s)
{
	snprintf(s->text, sizeof(s->text), "%s", err_message());
}

static void restore_msg(const saved_msg_t *s)
{
	err_set(WB_OK, "%s", s->text);
}

int info_log_open(const wb_env *env, const char *dir, info_log_fn fn, void *arg,
		  info_log_t **out)
{
	*out = NULL;
	info_log_t *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return WB_ENOMEM;
	l->env = env;
	l->fn = fn;
	l->arg = arg;
	snprintf(l->path, sizeof(l->path), "%s/LOG", dir);
	snprintf(l->old, sizeof(l->old), "%s/LOG.old", dir);
	if (fn == NULL) {
		saved_msg_t saved;
		save_msg(&saved);
		int rc = start_file(l);
		restore_msg(&saved);
		if (rc != WB_OK) {
			free(l);
			return rc;
		}
	}
	pthread_mutex_init(&l->mu, NULL);
	*out = l;
	return WB_OK;
}

void info_log_close(info_log_t *l)
{
	if (l == NULL)
		return;
	saved_msg_t saved;
	save_msg(&saved);
	if (l->file != NULL)
		l->env->close(l->file);
	restore_msg(&saved);
	pthread_mutex_destroy(&l->mu);
	free(l);
}

void info_log(info_log_t *l, const char *fmt, ...)
{
	if (l == NULL)
		return;
	char line[1024];
	uint64_t wall = clock_wall_micros(l->env);
	time_t secs = (time_t)(wall / 1000000);
	struct tm tm;
	localtime_r(&secs, &tm);
	char thread[16] = "";
	pthread_getname_np(pthread_self(), thread, sizeof(thread));
	int n = (int)strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
	n += snprintf(line + n, sizeof(line) - (size_t)n, ".%06ld %-12s ", (long)(wall % 1000000), thread);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2; /* a cut line still ends in a newline */
	if (l->fn != NULL) {
		line[len] = '\0';
		l->fn(l->arg, line);
		return;
	}
	line[len++] = '\n';
	saved_msg_t saved;
	save_msg(&saved);
	pthread_mutex_lock(&l->mu);
	if (l->size + len > INFO_LOG_MAX && l->file != NULL) {
		l->env->close(l->file);
		l->file = NULL;
		if (start_file(l) != WB_OK)
			l->file = NULL; /* lines are dropped until the next open */
	}
	if (l->file != NULL && l->env->append(l->file, line, len) == WB_OK)
		l->size += len;
	pthread_mutex_unlock(&l->mu);
	restore_msg(&saved);
}
