/*
 * wombat.c -- the `wombat` command-line tool: main, the options before the
 * command, help and usage messages, and the helpers every command uses
 * (argument parsing, opening the database, writing stdout). The commands
 * themselves are in commands.c; escape.c spells bytes for the text formats.
 *
 *     wombat [OPTIONS] DBDIR COMMAND [ARGS]
 *
 * Exit status 0 on success, 1 when the command failed at run time, 2 when
 * the command line was wrong (then nothing was opened or written). The tool
 * uses nothing of the engine but wombat.h.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "escape.h"

/* stdout buffer: scan writes one short line per key, and a million of them
 * should cost a few hundred write(2) calls, not a million. */
#define OUT_BUFFER_SIZE (1 << 20)

static const char general_usage[] = "usage: wombat [OPTIONS] DBDIR COMMAND [ARGS]";

static const char options_help[] =
	"Options (before COMMAND):\n"
	"  --create        create the database (and DBDIR) when missing; put and load\n"
	"                  always do, other commands otherwise report a missing database\n"
	"  --sync=MODE     when writes are fsynced: always (before each write returns),\n"
	"                  interval (every 100 ms, the default) or none (when the\n"
	"                  command ends); the log is always synced when wombat exits\n"
	"  -h, --help      this help; 'wombat COMMAND --help' explains one command\n"
	"  --version       print the version\n"
	"\n"
	"Escaping. scan prints keys and values with these bytes escaped, and load,\n"
	"KEY and PREFIX arguments are read with the same rules, so any key can be\n"
	"named (wombat DBDIR get 'a\\x00b'):\n"
	"  \\\\      a backslash\n"
	"  \\t      a tab (0x09)\n"
	"  \\n      a newline (0x0a)\n"
	"  \\xHH    any other byte outside printable ASCII 0x20-0x7e (control bytes,\n"
	"          DEL, bytes 0x80-0xff); printed with lowercase hex, read in any case\n"
	"Every other byte stands for itself; a backslash followed by anything else is\n"
	"an error. VALUE on the put command line is stored as given, unescaped.\n"
	"\n"
	"Exit status: 0 success, 1 failure (including a key get cannot find),\n"
	"2 usage error (nothing was done).\n";

static const struct command *find_command(const char *name)
{
	for (const struct command *c = commands; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static void print_help(void)
{
	printf("%s\n\nReads and writes the Wombat database in directory DBDIR.\n\nCommands:\n",
	       general_usage);
	for (const struct command *c = commands; c->name != NULL; c++) {
		char head[128];
		snprintf(head, sizeof(head), "%s%s%s", c->name, c->synopsis[0] ? " " : "", c->synopsis);
		/* Long synopses get their summary on the next line. */
		if (strlen(head) <= 16)
			printf("  %-16s  %s\n", head, c->summary);
		else
			printf("  %s\n  %-16s  %s\n", head, "", c->summary);
	}
	printf("\n%s", options_help);
}

static void print_command_help(const struct command *c)
{
	printf("usage: wombat [OPTIONS] DBDIR %s%s%s\n\n%s", c->name, c->synopsis[0] ? " " : "",
	       c->synopsis, c->help);
}

int cli_usage(const struct command *cmd, const char *fmt, ...)
{
	va_list ap;
	fputs("wombat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd != NULL)
		fprintf(stderr, "\nusage: wombat [OPTIONS] DBDIR %s%s%s\n", cmd->name,
			cmd->synopsis[0] ? " " : "", cmd->synopsis);
	else
		fprintf(stderr, "\n%s  (wombat --help lists the commands)\n", general_usage);
	return EXIT_USAGE;
}

int cli_fail(const char *fmt, ...)
{
	va_list ap;
	fputs("wombat: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

const char *cli_reason(const struct cli *cli, int rc)
{
	const char *msg = wb_errmsg(cli->db);
	return msg[0] != '\0' ? msg : wb_strerror(rc);
}

/* The n-th word (from 0) of cmd's synopsis, for "missing VALUE". */
static const char *synopsis_word(const struct command *cmd, int n, char *buf, size_t len)
{
	const char *s = cmd->synopsis;
	for (;;) {
		s += strspn(s, " ");
		size_t w = strcspn(s, " ");
		if (w == 0)
			return "argument";
		if (n-- == 0) {
			snprintf(buf, len, "%.*s", (int)w, s);
			return buf;
		}
		s += w;
	}
}

int cli_args(const struct command *cmd, int argc, char **argv, const struct flag *flags,
	     char **pos, int min, int max, int *npos)
{
	int n = 0;
	bool flags_done = false;
	for (int i = 0; i < argc; i++) {
		char *a = argv[i];
		if (flags_done || a[0] != '-' || a[1] == '\0') {
			if (n == max)
				return cli_usage(cmd, "%s: unexpected argument '%s'", cmd->name, a);
			pos[n++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			flags_done = true;
			continue;
		}
		const char *eq = strchr(a, '=');
		size_t name_len = eq ? (size_t)(eq - a) : strlen(a);
		const struct flag *f = flags;
		while (f != NULL && f->name != NULL &&
		       (strlen(f->name) != name_len || strncmp(f->name, a, name_len) != 0))
			f++;
		if (f == NULL || f->name == NULL)
			return cli_usage(cmd, "%s: unknown option '%s'", cmd->name, a);
		if (f->arg == NULL) {
			if (eq != NULL)
				return cli_usage(cmd, "%s: option %s takes no value", cmd->name,
						 f->name);
			*f->set = true;
		} else if (eq != NULL) {
			*f->arg = eq + 1;
		} else if (i + 1 < argc) {
			*f->arg = argv[++i];
		} else {
			return cli_usage(cmd, "%s: option %s needs a value", cmd->name, f->name);
		}
	}
	if (n < min) {
		char word[64];
		return cli_usage(cmd, "%s: missing %s", cmd->name,
				 synopsis_word(cmd, n, word, sizeof(word)));
	}
	*npos = n;
	return EXIT_OK;
}

int cli_key(const struct command *cmd, const char *what, const char *arg, bool allow_empty,
	    char **out, size_t *len)
{
	size_t n = strlen(arg), bad = 0;
	char *buf = malloc(n + 1);
	if (buf == NULL)
		return cli_fail("out of memory");
	if (unescape(buf, arg, n, len, &bad) != 0) {
		free(buf);
		return cli_usage(cmd, "%s '%s': bad escape at byte %zu (use \\\\, \\t, \\n or \\xHH)",
				 what, arg, bad + 1);
	}
	if (*len == 0 && !allow_empty) {
		free(buf);
		return cli_usage(cmd, "%s: %s must not be empty", cmd->name, what);
	}
	if (*len > WB_MAX_KEY_LEN) {
		free(buf);
		return cli_usage(cmd, "%s: %s is %zu bytes, over the limit of %u", cmd->name, what,
				 *len, WB_MAX_KEY_LEN);
	}
	*out = buf;
	return EXIT_OK;
}

int cli_open(struct cli *cli, enum open_mode mode)
{
	wb_options o = cli->opts;
	o.create_if_missing = mode == OPEN_CREATE || cli->create;
	/* A command that only reads does not rewrite the MANIFEST or start a
	 * log; with --create it must be able to write the new database. */
	o.read_only = mode == OPEN_READ && !o.create_if_missing;
	int rc = wb_open(cli->dir, &o, &cli->db);
	if (rc == WB_OK)
		return EXIT_OK;
	if (rc == WB_ENOTFOUND && !o.create_if_missing)
		return cli_fail("%s: no database here (--create makes one)", cli->dir);
	return cli_fail("%s", cli_reason(cli, rc));
}

int cli_write(struct cli *cli, const void *p, size_t n)
{
	if (cli->out_closed || cli->out_failed)
		return -1;
	errno = 0;
	if (fwrite(p, 1, n, stdout) == n)
		return 0;
	/* A reader that stops early (wombat DB scan | head) is not an error. */
	if (errno == EPIPE) {
		cli->out_closed = true;
	} else {
		cli->out_failed = true;
		cli_fail("writing to stdout: %s", errno ? strerror(errno) : "failed");
	}
	return -1;
}

/* Parses "--sync=MODE"'s MODE into *sync. Returns false when unknown. */
static bool parse_sync(const char *mode, int *sync)
{
	if (strcmp(mode, "always") == 0)
		*sync = WB_SYNC_ALWAYS;
	else if (strcmp(mode, "interval") == 0)
		*sync = WB_SYNC_INTERVAL;
	else if (strcmp(mode, "none") == 0)
		*sync = WB_SYNC_NONE;
	else
		return false;
	return true;
}

int main(int argc, char **argv)
{
	static char out_buffer[OUT_BUFFER_SIZE];
	setvbuf(stdout, out_buffer, _IOFBF, sizeof(out_buffer));
	/* Without this a closed pipe kills us before fwrite can say EPIPE, and
	 * the database would not be closed cleanly. */
	signal(SIGPIPE, SIG_IGN);

	struct cli cli = { 0 };
	wb_options_init(&cli.opts);
	const char *pos[2];
	int npos = 0, i;
	bool help = false, opts_done = false;
	for (i = 1; i < argc && npos < 2; i++) {
		const char *a = argv[i];
		if (opts_done || a[0] != '-' || a[1] == '\0') {
			pos[npos++] = a;
		} else if (strcmp(a, "--") == 0) {
			opts_done = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			help = true;
		} else if (strcmp(a, "--version") == 0) {
			printf("wombat %d.%d\n", WB_VERSION_MAJOR, WB_VERSION_MINOR);
			return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
		} else if (strcmp(a, "--create") == 0) {
			cli.create = true;
		} else if (strncmp(a, "--sync=", 7) == 0 || strcmp(a, "--sync") == 0) {
			const char *mode = a[6] == '=' ? a + 7 : i + 1 < argc ? argv[++i] : NULL;
			if (mode == NULL)
				return cli_usage(NULL, "option --sync needs a value: always, "
						       "interval or none");
			if (!parse_sync(mode, &cli.opts.sync))
				return cli_usage(NULL, "--sync=%s: not one of always, interval, none",
						 mode);
		} else {
			return cli_usage(NULL, "unknown option '%s'", a);
		}
	}

	if (help) {
		/* wombat --help [COMMAND], wombat COMMAND --help, wombat DBDIR --help COMMAND */
		const struct command *c = NULL;
		for (int j = npos - 1; j >= 0 && c == NULL; j--)
			c = find_command(pos[j]);
		if (c != NULL)
			print_command_help(c);
		else
			print_help();
		return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
	}
	if (npos == 0)
		return cli_usage(NULL, "missing DBDIR and COMMAND");
	if (npos == 1) {
		if (find_command(pos[0]) != NULL)
			return cli_usage(NULL, "missing DBDIR before %s", pos[0]);
		return cli_usage(NULL, "missing COMMAND after %s", pos[0]);
	}
	const struct command *cmd = find_command(pos[1]);
	if (cmd == NULL) {
		if (find_command(pos[0]) != NULL)
			return cli_usage(NULL, "unknown command '%s' (DBDIR comes first: "
					       "wombat DBDIR %s ...)",
					 pos[1], pos[0]);
		return cli_usage(NULL, "unknown command '%s'", pos[1]);
	}
	for (int j = i; j < argc && strcmp(argv[j], "--") != 0; j++) {
		if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
			print_command_help(cmd);
			return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAIL;
		}
	}

	cli.dir = pos[0];
	int status = cmd->run(&cli, cmd, argc - i, argv + i);
	if (cli.db != NULL) {
		int rc = wb_close(cli.db);
		cli.db = NULL;
		if (rc != WB_OK && status == EXIT_OK)
			status = cli_fail("%s: closing the database: %s", cli.dir,
					  cli_reason(&cli, rc));
	}
	if (!cli.out_closed && !cli.out_failed && fflush(stdout) != 0 && errno != EPIPE) {
		cli_fail("writing to stdout: %s", strerror(errno));
		cli.out_failed = true;
	}
	if (cli.out_failed && status == EXIT_OK)
		status = EXIT_FAIL;
	return status;
}
