/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How `sluice consume` prints an event, one line each. text: `topic partition offset
 * timestamp_ns key value` with key and value escaped so that the line always splits
 * into six fields on spaces; json: one object per line, key and value as strings when
 * they are UTF-8, else base64 with a *_base64 flag; hex: like text, key and value in hex.
 */
#include "cli/cli.h"

#include <string.h>

/* Length of the UTF-8 sequence led by byte b, 0 for a byte that cannot lead one. */
static unsigned consume_utf8_lead(uint8_t b)
{
	if (b < 0x80) {
		return 1;
	}
	if (b >= 0xc2 && b <= 0xdf) {
		return 2;
	}
	if (b >= 0xe0 && b <= 0xef) {
		return 3;
	}
	if (b >= 0xf0 && b <= 0xf4) {
		return 4;
	}
	return 0;
}

bool cli_utf8_is_valid(const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned n = consume_utf8_lead(p[i]);
		if (n == 0 || len - i < n) {
			return false;
		}
		for (unsigned k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80) {
				return false;
			}
		}
		/* Overlong 3- and 4-byte forms, surrogates, and above U+10FFFF. */
		if ((p[i] == 0xe0 && p[i + 1] < 0xa0) || (p[i] == 0xed && p[i + 1] > 0x9f) ||
		    (p[i] == 0xf0 && p[i + 1] < 0x90) || (p[i] == 0xf4 && p[i + 1] > 0x8f)) {
			return false;
		}
		i += n;
	}
	return true;
}

void cli_base64_write(FILE *f, const uint8_t *p, size_t len)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t left = len - i;
		if (left > 1) {
			v |= (uint32_t)p[i + 1] << 8;
		}
		if (left > 2) {
			v |= p[i + 2];
		}
		fputc(digits[(v >> 18) & 63], f);
		fputc(digits[(v >> 12) & 63], f);
		fputc(left > 1 ? digits[(v >> 6) & 63] : '=', f);
		fputc(left > 2 ? digits[v & 63] : '=', f);
	}
}

/* A text field: "-" when empty; bytes outside '!'..'~', '\' and a lone "-" as \xHH. */
static void consume_text_field(FILE *f, const uint8_t *p, size_t len)
{
	if (len == 0) {
		fputc('-', f);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		bool lone_dash = len == 1 && p[i] == '-';
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == '\\' || lone_dash) {
			fprintf(f, "\\x%02x", p[i]);
		} else {
			fputc(p[i], f);
		}
	}
}

/* A hex field: "-" when empty, else two lowercase digits per byte. */
static void consume_hex_field(FILE *f, const uint8_t *p, size_t len)
{
	if (len == 0) {
		fputc('-', f);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		fprintf(f, "%02x", p[i]);
	}
}

/* A JSON member holding bytes: a string when UTF-8, else base64 and "<key>_base64". */
static void consume_json_bytes(struct cli_json *j, const char *key, const char *flag_key,
			       const uint8_t *p, size_t len)
{
	if (cli_utf8_is_valid(p, len)) {
		cli_json_utf8(j, key, p != NULL ? p : (const uint8_t *)"", len);
		return;
	}
	cli_json_bool(j, flag_key, true);
	cli_json_base64(j, key, p, len);
}

static void consume_json_event(FILE *f, const struct sl_event *ev)
{
	struct cli_json j;

	cli_json_init(&j, f);
	cli_json_object_begin(&j, NULL);
	cli_json_string(&j, "topic", ev->topic);
	cli_json_u64(&j, "partition", ev->partition);
	cli_json_u64(&j, "offset", ev->offset);
	cli_json_u64(&j, "timestamp_ns", ev->timestamp_ns);
	if (ev->key_len == 0) {
		cli_json_utf8(&j, "key", NULL, 0);
	} else {
		consume_json_bytes(&j, "key", "key_base64", ev->key, ev->key_len);
	}
	consume_json_bytes(&j, "value", "value_base64", ev->value, ev->value_len);
	cli_json_object_end(&j);
	cli_json_end_line(&j);
}

void cli_event_write(FILE *f, enum cli_consume_format format, const struct sl_event *ev)
{
	if (format == CLI_FORMAT_JSON) {
		consume_json_event(f, ev);
		return;
	}
	fprintf(f, "%s %u %llu %llu ", ev->topic, ev->partition, (unsigned long long)ev->offset,
		(unsigned long long)ev->timestamp_ns);
	if (format == CLI_FORMAT_HEX) {
		consume_hex_field(f, ev->key, ev->key_len);
		fputc(' ', f);
		consume_hex_field(f, ev->value, ev->value_len);
	} else {
		consume_text_field(f, ev->key, ev->key_len);
		fputc(' ', f);
		consume_text_field(f, ev->value, ev->value_len);
	}
	fputc('\n', f);
}
