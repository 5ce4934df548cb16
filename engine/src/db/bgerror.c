/*
 * bgerror.c -- the error state of a database (bgerror.h): per-source
 * failure records, the retry schedule, the check writes go through, and
 * its part of the statistics.
 */
#include "db/bgerror.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/clock.h"
#include "util/error.h"

static const char *const source_names[BG_NSOURCES] = {
	[BG_WAL] = "WAL",
	[BG_FLUSH] = "flush",
	[BG_COMPACTION] = "compaction",
	[BG_RECLAIM] = "value-log reclaim",
	[BG_DISK_FULL] = "disk reserve",
};

void bgerror_init(bgerror_t *b, const wb_env *env)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->mu, NULL);
	b->env = env;
}

void bgerror_destroy(bgerror_t *b)
{
	pthread_mutex_destroy(&b->mu);
}

/* The failing source writes get their error from: the sticky one, else the
 * one failing longest; -1 when none. REQUIRES: mu. */
static int current(const bgerror_t *b)
{
	if (b->src[BG_WAL].rc != WB_OK)
		return BG_WAL;
	int best = -1;
	for (int s = 0; s < BG_NSOURCES; s++)
		if (b->src[s].rc != WB_OK && (best < 0 || b->src[s].since < b->src[best].since))
			best = s;
	return best;
}

/* REQUIRES: mu. */
static void publish(bgerror_t *b)
{
	int s = current(b);
	atomic_store(&b->rc, s < 0 ? WB_OK : b->src[s].rc);
}

static uint64_t retry_delay_ms(uint64_t failures)
{
	uint64_t ms = BG_RETRY_FIRST_MS;
	for (uint64_t i = 1; i < failures && ms < BG_RETRY_MAX_MS; i++)
		ms *= 2;
	return ms < BG_RETRY_MAX_MS ? ms : BG_RETRY_MAX_MS;
}

static bool power_of_two(uint64_t n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

int bgerror_fail(bgerror_t *b, enum bg_source src, int rc, const char *what, ...)
{
	char context[200], msg[sizeof(b->src[0].msg)];
	va_list ap;
	va_start(ap, what);
	vsnprintf(context, sizeof(context), what, ap);
	va_end(ap);
	const char *why = err_message();
	snprintf(msg, sizeof(msg), "%s: %s", context, *why ? why : wb_strerror(rc));

	uint64_t now = clock_now_micros(b->env), failures, delay;
	pthread_mutex_lock(&b->mu);
	bg_failure_t *f = &b->src[src];
	if (src == BG_WAL && f->rc != WB_OK) { /* sticky: the first cause is the one to tell */
		pthread_mutex_unlock(&b->mu);
		return rc;
	}
	bool changed = f->rc != rc || strcmp(f->msg, msg) != 0;
	if (f->rc == WB_OK) {
		f->since = now;
		f->failures = 0;
	}
	f->rc = rc;
	failures = ++f->failures;
	delay = retry_delay_ms(failures);
	f->retry_at = now + delay * 1000;
	memcpy(f->msg, msg, sizeof(msg));
	double seconds = (double)(now - f->since) / 1e6;
	publish(b);
	pthread_mutex_unlock(&b->mu);

	/* Once when it starts, then when the reason changes or the count
	 * doubles: a disk that stays full must not fill the log too. */
	if (src == BG_WAL)
		info_log(b->log, "writes stopped until the database is reopened: %s", msg);
	else if (src == BG_DISK_FULL && failures == 1)
		info_log(b->log, "writes that store data refused until the disk reserve is made again: %s", msg);
	else if (failures == 1)
		info_log(b->log, "%s failed (%s); writes refused until a retry works, next in %llu ms: %s",
			 source_names[src], wb_strerror(rc), (unsigned long long)delay, msg);
	else if (changed || power_of_two(failures))
		info_log(b->log, "%s still failing after %llu attempts in %.1f s, next in %llu ms: %s",
			 source_names[src], (unsigned long long)failures, seconds,
			 (unsigned long long)delay, msg);
	return rc;
}

void bgerror_ok(bgerror_t *b, enum bg_source src)
{
	if (src == BG_WAL || atomic_load(&b->rc) == WB_OK)
		return; /* the common case: nothing was failing */
	pthread_mutex_lock(&b->mu);
	bg_failure_t *f = &b->src[src];
	uint64_t failures = f->failures;
	double seconds = (double)(clock_now_micros(b->env) - f->since) / 1e6;
	bool was = f->rc != WB_OK;
	if (was) {
		b->recoveries++;
		memset(f, 0, sizeof(*f));
		publish(b);
	}
	bool clear = atomic_load(&b->rc) == WB_OK;
	pthread_mutex_unlock(&b->mu);
	if (was)
		info_log(b->log, "%s %s after %llu failures in %.1f s%s", source_names[src],
			 src == BG_DISK_FULL ? "made again" : "works again", (unsigned long long)failures,
			 seconds, clear ? "; writes accepted" : "; other work still failing");
}

/* Sets the calling thread's message for a write refused because of f. */
static int refuse(const bgerror_t *b, const bg_failure_t *f, enum bg_source src, int rc)
{
	if (src == BG_WAL)
		return err_set(rc, "writes stopped until the database is reopened: %s", f->msg);
	if (src == BG_DISK_FULL)
		return err_set(rc, "writes refused: %s (deletes still work; writes do again once the reserve "
				   "can be made again)",
			       f->msg);
	double seconds = (double)(clock_now_micros(b->env) - f->since) / 1e6;
	return err_set(rc, "writes refused: %s (%s failed %llu time%s in %.1f s; retried in the background)",
		       f->msg, source_names[src], (unsigned long long)f->failures, f->failures == 1 ? "" : "s",
		       seconds);
}

int bgerror_check(bgerror_t *b, bool removal)
{
	if (atomic_load(&b->rc) == WB_OK)
		return WB_OK;
	pthread_mutex_lock(&b->mu);
	int s = current(b), rc = WB_OK;
	bool all_full = s >= 0;
	for (int i = 0; i < BG_NSOURCES; i++)
		if (b->src[i].rc != WB_OK && b->src[i].rc != WB_ENOSPC)
			all_full = false;
	if (s >= 0 && !(removal && all_full))
		rc = refuse(b, &b->src[s], (enum bg_source)s, b->src[s].rc);
	pthread_mutex_unlock(&b->mu);
	return rc;
}

int bgerror_source(bgerror_t *b, enum bg_source src)
{
	if (atomic_load(&b->rc) == WB_OK)
		return WB_OK;
	pthread_mutex_lock(&b->mu);
	int rc = b->src[src].rc;
	if (rc != WB_OK)
		refuse(b, &b->src[src], src, rc);
	pthread_mutex_unlock(&b->mu);
	return rc;
}

bool bgerror_failing(bgerror_t *b, enum bg_source src)
{
	if (atomic_load(&b->rc) == WB_OK)
		return false;
	pthread_mutex_lock(&b->mu);
	bool failing = b->src[src].rc != WB_OK;
	pthread_mutex_unlock(&b->mu);
	return failing;
}

int bgerror_sticky(bgerror_t *b)
{
	return bgerror_source(b, BG_WAL);
}

uint64_t bgerror_retry_wait(bgerror_t *b, enum bg_source src)
{
	if (atomic_load(&b->rc) == WB_OK)
		return 0;
	uint64_t now = clock_now_micros(b->env), wait = 0;
	pthread_mutex_lock(&b->mu);
	const bg_failure_t *f = &b->src[src];
	if (f->rc != WB_OK && f->retry_at > now)
		wait = f->retry_at - now;
	pthread_mutex_unlock(&b->mu);
	return wait;
}

/* s as the body of a JSON string into out (cut to fit). */
static void json_escape(char *out, size_t cap, const char *s)
{
	size_t n = 0;
	for (; *s != '\0' && n + 7 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20) {
			n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
}

void bgerror_report(bgerror_t *b, bool json, bgerror_sink_fn sink, void *arg)
{
	uint64_t now = clock_now_micros(b->env);
	pthread_mutex_lock(&b->mu);
	int s = current(b);
	if (s < 0) {
		if (json)
			sink(arg, "null");
		else
			sink(arg, "background error: none (%llu recoveries since open)\n",
			     (unsigned long long)b->recoveries);
		pthread_mutex_unlock(&b->mu);
		return;
	}
	int rc = b->src[s].rc;
	bool sticky = s == BG_WAL;
	if (json)
		sink(arg, "{\"code\":%d,\"error\":\"%s\",\"sticky\":%s,\"recoveries\":%llu,\"sources\":[", rc,
		     wb_strerror(rc), sticky ? "true" : "false", (unsigned long long)b->recoveries);
	else
		sink(arg, "background error: writes %s with \"%s\"%s\n",
		     sticky ? "stopped" : "refused", wb_strerror(rc),
		     sticky ? " until the database is reopened" : " until a retry works");
	bool first = true;
	for (int i = 0; i < BG_NSOURCES; i++) {
		const bg_failure_t *f = &b->src[i];
		if (f->rc == WB_OK)
			continue;
		double seconds = (double)(now - f->since) / 1e6;
		uint64_t retry_ms = i == BG_WAL || f->retry_at <= now ? 0 : (f->retry_at - now) / 1000;
		if (json) {
			char msg[2 * sizeof(f->msg)];
			json_escape(msg, sizeof(msg), f->msg);
			sink(arg,
			     "%s{\"source\":\"%s\",\"code\":%d,\"error\":\"%s\",\"failures\":%llu,"
			     "\"seconds\":%.3f,\"retry_in_ms\":%llu,\"message\":\"%s\"}",
			     first ? "" : ",", source_names[i], f->rc, wb_strerror(f->rc),
			     (unsigned long long)f->failures, seconds, (unsigned long long)retry_ms, msg);
		} else if (i == BG_WAL) {
			sink(arg, "  %s: %s\n", source_names[i], f->msg);
		} else {
			sink(arg, "  %s: failed %llu time%s in %.1f s, next retry in %llu ms: %s\n",
			     source_names[i], (unsigned long long)f->failures, f->failures == 1 ? "" : "s",
			     seconds, (unsigned long long)retry_ms, f->msg);
		}
		first = false;
	}
	if (json)
		sink(arg, "]}");
	pthread_mutex_unlock(&b->mu);
}
