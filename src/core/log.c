/* SPDX-License-Identifier: BSD-3-Clause */
/* Line-at-a-time logging to stderr for start-up and control-plane code. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static int sl_log_level_max = SL_LOG_INFO;

void sl_log_set_level(enum sl_log_level level)
{
	__atomic_store_n(&sl_log_level_max, (int)level, __ATOMIC_RELAXED);
}

void sl_log(enum sl_log_level level, const char *module, const char *fmt, ...)
{
	static const char *const names[] = {[SL_LOG_ERR] = "error",
					    [SL_LOG_WARNING] = "warning",
					    [SL_LOG_INFO] = "info",
					    [SL_LOG_DEBUG] = "debug"};
	char line[1024];
	va_list ap;

	if ((int)level > __atomic_load_n(&sl_log_level_max, __ATOMIC_RELAXED)) {
		return;
	}
	int n = snprintf(line, sizeof(line), "sluice %s %s: ", names[level], module);
	if (n < 0) {
		return;
	}
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2) {
		len = sizeof(line) - 2;
	}
	line[len++] = '\n';
	(void)!write(STDERR_FILENO, line, len);
}
