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
	pthread_mutex_t mu;
	wb_env_file *file; /* (mu) */
};

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

int info_log_open(const wb_env *env, const char *dir, info_log_t **out)
{
	*out = NULL;
	saved_msg_t saved;
	save_msg(&saved);
	char path[PATH_MAX], old[PATH_MAX];
	snprintf(path, sizeof(path), "%s/LOG", dir);
	snprintf(old, sizeof(old), "%s/LOG.old", dir);
	info_log_t *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return WB_ENOMEM;
	int rc = env->rename(env->ctx, path, old);
	if (rc == WB_ENOTFOUND)
		rc = WB_OK;
	if (rc == WB_OK)
		rc = env->open(env->ctx, path, WB_ENV_WRITE | WB_ENV_CREATE | WB_ENV_TRUNCATE, &l->file);
	restore_msg(&saved);
	if (rc != WB_OK) {
		free(l);
		return rc;
	}
	l->env = env;
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
	line[len++] = '\n';
	saved_msg_t saved;
	save_msg(&saved);
	pthread_mutex_lock(&l->mu);
	l->env->append(l->file, line, len);
	pthread_mutex_unlock(&l->mu);
	restore_msg(&saved);
}
