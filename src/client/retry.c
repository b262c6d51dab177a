/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The producer's retry policy as pure functions: which NACK reasons are worth a
 * retransmit, the error a refused batch fails with, the retransmit timeout (adaptive,
 * RFC 6298) and its exponential backoff. Kept apart from the state machine so tests can check it directly.
 */
#include "client/client_int.h"

enum retry_nack_action retry_nack_action(unsigned reason)
{
	switch (reason) {
	case SL_NACK_BUSY:
		/* The router's queue or tables were full: the same bytes will pass later. */
	case SL_NACK_BAD_CRC:
		/* Our copy is intact (its CRC was computed from it): the datagram was
		 * damaged in transit, so resending it is the fix. */
		return RETRY_NACK_WAIT;
	case SL_NACK_OUT_OF_SEQUENCE:
		return RETRY_NACK_RESYNC;
	case SL_NACK_MALFORMED:
	case SL_NACK_UNSUPPORTED_VERSION:
	case SL_NACK_UNKNOWN_TOPIC:
	case SL_NACK_TOO_LARGE:
	case SL_NACK_STORAGE:
	case SL_NACK_UNAUTHORIZED:
	case SL_NACK_FENCED:
	case SL_NACK_UNSUPPORTED_TYPE:
		/* Resending the same frame gets the same answer. STORAGE included: in v1
		 * durable acks are refused until a journal exists, and the application,
		 * not a retry loop, should decide to fall back to acks=received. */
		return RETRY_NACK_FAIL;
	default:
		return RETRY_NACK_INVALID;
	}
}

int retry_nack_error(unsigned reason)
{
	return -(SL_ENACK_BASE + (int)reason);
}

uint64_t retry_backoff_ns(uint32_t retries, uint32_t timeout_us, uint32_t timeout_max_us)
{
	uint64_t us = timeout_us;

	for (uint32_t i = 0; i < retries && us < timeout_max_us; i++) {
		us *= 2;
	}
	if (us > timeout_max_us) {
		us = timeout_max_us;
	}
	return us * 1000u;
}

void retry_rtt_init(struct retry_rtt *r, uint32_t timeout_us)
{
	/* No sample yet: an estimate whose timeout is exactly timeout_us. */
	r->srtt_ns = (uint64_t)timeout_us * 1000u / 4;
	r->rttvar_ns = r->srtt_ns / 2;
}

void retry_rtt_sample(struct retry_rtt *r, uint64_t sample_ns)
{
	uint64_t delta = sample_ns > r->srtt_ns ? sample_ns - r->srtt_ns : r->srtt_ns - sample_ns;

	/* RFC 6298: rttvar += (|srtt - R| - rttvar) / 4, then srtt += (R - srtt) / 8. */
	r->rttvar_ns = r->rttvar_ns - r->rttvar_ns / 4 + delta / 4;
	r->srtt_ns = r->srtt_ns - r->srtt_ns / 8 + sample_ns / 8;
}

uint32_t retry_rto_us(const struct retry_rtt *r, uint32_t timeout_us, uint32_t timeout_max_us)
{
	uint64_t us = (r->srtt_ns + 4 * r->rttvar_ns) / 1000u;

	if (us < timeout_us) {
		return timeout_us;
	}
	return us > timeout_max_us ? timeout_max_us : (uint32_t)us;
}
