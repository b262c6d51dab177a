/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Error codes of libsluice. Functions return 0 or a negative number: -errno for system
 * errors (-EAGAIN, -ETIMEDOUT, -EMSGSIZE, ...) or -SL_E* for a refusal by the router
 * (one per NACK reason of include/sluice/wire.h), so an application can tell "the
 * network failed" from "the router said no, and why".
 */
#ifndef SLUICE_ERROR_H
#define SLUICE_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* Router refusals: SL_ENACK_BASE + enum sl_nack_reason. Above every errno value. */
#define SL_ENACK_BASE 4096
enum sl_error {
	SL_EMALFORMED = SL_ENACK_BASE + 1,
	SL_EBADCRC = SL_ENACK_BASE + 2,
	SL_EVERSION = SL_ENACK_BASE + 3,
	SL_EUNKNOWNTOPIC = SL_ENACK_BASE + 4,
	SL_ETOOLARGE = SL_ENACK_BASE + 5,
	SL_EBUSY = SL_ENACK_BASE + 6,
	SL_ESTORAGE = SL_ENACK_BASE + 7,
	SL_EUNAUTHORIZED = SL_ENACK_BASE + 8,
	SL_EOUTOFSEQUENCE = SL_ENACK_BASE + 9,
	SL_EFENCED = SL_ENACK_BASE + 10,
	SL_EUNSUPPORTED = SL_ENACK_BASE + 11,
	/* Subscriptions: sl_consumer_sub_error() names the problem where the router did. */
	SL_EBADPATTERN = SL_ENACK_BASE + 12,
	SL_EBADCREDIT = SL_ENACK_BASE + 13,
	SL_EBADGROUP = SL_ENACK_BASE + 14,
	SL_EBADSTART = SL_ENACK_BASE + 15,
	SL_ECONFLICT = SL_ENACK_BASE + 16,
	SL_EUNKNOWNSUB = SL_ENACK_BASE + 17,
	SL_ESUBSFULL = SL_ENACK_BASE + 18,
	SL_EUNKNOWNOFFSET = SL_ENACK_BASE + 19,
	SL_EGROUPSFULL = SL_ENACK_BASE + 20,
	SL_EGROUPFULL = SL_ENACK_BASE + 21,
	SL_ESTARTSFULL = SL_ENACK_BASE + 22,
};

/* Describes `err` (negative, as returned): errno text or the router's reason. Never NULL. */
const char *sl_strerror(int err);

#ifdef __cplusplus
}
#endif

#endif
