/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Logging for code outside the data path (start-up, control plane, tools). Lines go to
 * stderr as "sluice <level> <module>: message". The hot path never logs: it counts.
 */
#ifndef SL_CORE_LOG_H
#define SL_CORE_LOG_H

enum sl_log_level {
	SL_LOG_ERR = 3,
	SL_LOG_WARNING = 4,
	SL_LOG_INFO = 6,
	SL_LOG_DEBUG = 7,
};

/* Lines above `level` are discarded. Default: SL_LOG_INFO. */
void sl_log_set_level(enum sl_log_level level);

/* Writes one line (a newline is added). Thread-safe: one write(2) per line. */
__attribute__((format(printf, 3, 4))) void sl_log(enum sl_log_level level, const char *module,
						  const char *fmt, ...);

#endif
