/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The status line long runs of `sluice` show on a terminal: rewritten in place about
 * once a second on stderr, never when stderr is a file or a pipe, so scripted runs and
 * --json output stay clean.
 */
#include "cli/cli.h"

#include <stdarg.h>
#include <unistd.h>

#define PROGRESS_INTERVAL_NS 1000000000ull

void cli_progress_init(struct cli_progress *pr, int fd, uint64_t now_ns)
{
	pr->enabled = isatty(fd) == 1;
	pr->shown = false;
	pr->next_ns = now_ns + PROGRESS_INTERVAL_NS;
}

bool cli_progress_due(struct cli_progress *pr, uint64_t now_ns)
{
	if (!pr->enabled || now_ns < pr->next_ns) {
		return false;
	}
	pr->next_ns = now_ns + PROGRESS_INTERVAL_NS;
	return true;
}

void cli_progress_print(struct cli_progress *pr, const char *fmt, ...)
{
	va_list ap;

	fputs("\r\033[K", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
	pr->shown = true;
}

void cli_progress_end(struct cli_progress *pr)
{
	if (pr->shown) {
		fputc('\n', stderr);
		pr->shown = false;
	}
}
