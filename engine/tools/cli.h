/*
 * cli.h -- what the parts of the wombat command-line tool share.
 *
 * wombat.c owns main: it parses the options before the command, finds the
 * command in the table that commands.c defines, and after the command
 * returns closes the database and flushes stdout. A command parses its own
 * arguments first (so a usage error never opens, let alone creates, a
 * database), then calls cli_open and does its work. Single-threaded; every
 * message goes to stderr as one line starting "wombat: ".
 */
#ifndef WOMBAT_TOOLS_CLI_H
#define WOMBAT_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "wombat.h"

/* Exit statuses, as documented in `wombat --help`. */
#define EXIT_OK 0
#define EXIT_FAIL 1  /* the command ran and failed: missing key, I/O error... */
#define EXIT_USAGE 2 /* the command line was wrong; nothing was done */

enum open_mode {
	OPEN_READ,   /* read-only, and the database must exist (unless --create) */
	OPEN_WRITE,  /* writable, and the database must exist (unless --create) */
	OPEN_CREATE, /* writable, created when missing */
};

struct cli {
	const char *dir;  /* DBDIR as given */
	wb_options opts;  /* from the options before the command */
	bool create;      /* --create */
	wb_db *db;        /* set by cli_open; main closes it */
	bool out_closed;  /* stdout's reader went away (EPIPE): stop quietly */
	bool out_failed;  /* writing stdout failed otherwise; already reported */
};

struct command {
	const char *name;
	/* Runs the command with the arguments after its name; returns an exit
	 * status. May leave cli->db open. */
	int (*run)(struct cli *cli, const struct command *cmd, int argc, char **argv);
	const char *synopsis; /* what follows the name in a usage line */
	const char *summary;  /* one line for `wombat --help` */
	const char *help;     /* the rest of `wombat COMMAND --help` */
};

/* The commands, ended by an entry with a NULL name (commands.c). */
extern const struct command commands[];

/* Commands with a file of their own. */
int cmd_bank(struct cli *cli, const struct command *cmd, int argc, char **argv); /* bank.c */

/* An option a command accepts: a switch (arg == NULL) sets *set; an option
 * with an argument ("--limit N" or "--limit=N") stores it in *arg. */
struct flag {
	const char *name;
	bool *set;
	const char **arg;
};

/* Splits argv into the flags (a NULL-name-terminated table) and between
 * min and max positional arguments, stored in pos[]. "--" ends the flags;
 * a lone "-" is positional. Returns EXIT_OK, or EXIT_USAGE after printing
 * the error and the usage line. */
int cli_args(const struct command *cmd, int argc, char **argv, const struct flag *flags,
	     char **pos, int min, int max, int *npos);

/* Decodes the escaped key or prefix arg (what names it in messages) into
 * a new buffer *out of *len bytes (free it). An empty key is refused unless
 * allow_empty. Returns EXIT_OK, or EXIT_USAGE after printing the error. */
int cli_key(const struct command *cmd, const char *what, const char *arg, bool allow_empty,
	    char **out, size_t *len);

/* Prints "wombat: " fmt "\n" to stderr and returns EXIT_USAGE after adding
 * cmd's usage line (the general one when cmd is NULL). */
int cli_usage(const struct command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints "wombat: " fmt "\n" to stderr and returns EXIT_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Why the engine call that returned rc failed: wb_errmsg when the engine
 * left context, else wb_strerror(rc). Valid until the next engine call. */
const char *cli_reason(const struct cli *cli, int rc);

/* Opens cli->dir as mode asks. Returns EXIT_OK, or EXIT_FAIL after saying
 * why (missing database, in use by another process, corruption...). */
int cli_open(struct cli *cli, enum open_mode mode);

/* Writes n bytes to stdout (buffered). Returns 0, or -1 when the command
 * should stop writing: the reader went away (cli->out_closed, no message)
 * or the write failed (cli->out_failed, reported). */
int cli_write(struct cli *cli, const void *p, size_t n);

#endif /* WOMBAT_TOOLS_CLI_H */
