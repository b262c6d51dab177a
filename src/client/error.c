/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * sl_strerror: one string for every error libsluice returns, whether it came from the
 * system (-errno) or from the router refusing a frame (-SL_E*, one per NACK reason).
 */
#include <sluice/error.h>

#include <string.h>

static const char *const error_router_names[] = {
	[SL_EMALFORMED - SL_ENACK_BASE] = "router: malformed frame",
	[SL_EBADCRC - SL_ENACK_BASE] = "router: bad CRC",
	[SL_EVERSION - SL_ENACK_BASE] = "router: unsupported protocol version",
	[SL_EUNKNOWNTOPIC - SL_ENACK_BASE] = "router: unknown topic or partition",
	[SL_ETOOLARGE - SL_ENACK_BASE] = "router: frame too large",
	[SL_EBUSY - SL_ENACK_BASE] = "router: busy",
	[SL_ESTORAGE - SL_ENACK_BASE] = "router: durable storage unavailable",
	[SL_EUNAUTHORIZED - SL_ENACK_BASE] = "router: unauthorized",
	[SL_EOUTOFSEQUENCE - SL_ENACK_BASE] = "router: batch out of sequence",
	[SL_EFENCED - SL_ENACK_BASE] = "router: fenced by a newer epoch of this producer id",
	[SL_EUNSUPPORTED - SL_ENACK_BASE] = "router: unsupported frame type",
	[SL_EBADPATTERN - SL_ENACK_BASE] = "router: invalid subscription pattern",
	[SL_EBADCREDIT - SL_ENACK_BASE] = "router: bad credit window",
	[SL_EBADGROUP - SL_ENACK_BASE] = "router: bad consumer group",
	[SL_EBADSTART - SL_ENACK_BASE] = "router: bad start position",
	[SL_ECONFLICT - SL_ENACK_BASE] = "router: subscription conflict",
	[SL_EUNKNOWNSUB - SL_ENACK_BASE] = "router: unknown subscription",
	[SL_ESUBSFULL - SL_ENACK_BASE] = "router: subscription table full",
	[SL_EUNKNOWNOFFSET - SL_ENACK_BASE] = "router: ack for an offset not delivered",
	[SL_EGROUPSFULL - SL_ENACK_BASE] = "router: consumer group table full (64 groups)",
	[SL_EGROUPFULL - SL_ENACK_BASE] = "router: consumer group full (256 members)",
	[SL_ESTARTSFULL - SL_ENACK_BASE] =
		"router: start offset pool full (too many subscriptions replaying from offsets; "
		"retry later)",
};

const char *sl_strerror(int err)
{
	int e = err < 0 ? -err : err;

	if (err == 0) {
		return "success";
	}
	if (e > SL_ENACK_BASE) {
		unsigned i = (unsigned)(e - SL_ENACK_BASE);
		if (i < sizeof(error_router_names) / sizeof(error_router_names[0]) &&
		    error_router_names[i] != NULL) {
			return error_router_names[i];
		}
		return "router: unknown refusal";
	}
	/* strerror() of glibc returns a static string for every value ("Unknown error
	 * N" for unknown ones, in a thread-local buffer): never NULL. */
	return strerror(e);
}
