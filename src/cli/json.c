/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small JSON writer for the machine-readable output of `sluice` (--json): one object
 * per run, keys in a fixed order, strings escaped per RFC 8259. It writes as it goes;
 * nothing is buffered beyond stdio.
 */
#include "cli/cli.h"

#include "core/assert.h"

void cli_json_init(struct cli_json *j, FILE *f)
{
	j->f = f;
	j->depth = 0;
	j->first[0] = true;
}

static void cli_json_escape(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (*p < 0x20) {
				fprintf(f, "\\u%04x", *p);
			} else {
				fputc(*p, f);
			}
		}
	}
	fputc('"', f);
}

/* Comma and key before a value at the current depth. */
static void cli_json_key(struct cli_json *j, const char *key)
{
	if (!j->first[j->depth]) {
		fputc(',', j->f);
	}
	j->first[j->depth] = false;
	if (key != NULL) {
		cli_json_escape(j->f, key);
		fputc(':', j->f);
	}
}

static void cli_json_open(struct cli_json *j, const char *key, char c)
{
	if (j->depth > 0 || !j->first[0]) {
		cli_json_key(j, key);
	}
	SL_ASSERT(j->depth + 1 < CLI_JSON_DEPTH);
	fputc(c, j->f);
	j->depth++;
	j->first[j->depth] = true;
}

static void cli_json_close(struct cli_json *j, char c)
{
	SL_ASSERT(j->depth > 0);
	fputc(c, j->f);
	j->depth--;
	j->first[j->depth] = false;
}

void cli_json_object_begin(struct cli_json *j, const char *key)
{
	cli_json_open(j, key, '{');
}

void cli_json_object_end(struct cli_json *j)
{
	cli_json_close(j, '}');
}

void cli_json_array_begin(struct cli_json *j, const char *key)
{
	cli_json_open(j, key, '[');
}

void cli_json_array_end(struct cli_json *j)
{
	cli_json_close(j, ']');
}

void cli_json_u64(struct cli_json *j, const char *key, uint64_t v)
{
	cli_json_key(j, key);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void cli_json_double(struct cli_json *j, const char *key, double v)
{
	cli_json_key(j, key);
	fprintf(j->f, "%.6f", v);
}

void cli_json_bool(struct cli_json *j, const char *key, bool v)
{
	cli_json_key(j, key);
	fputs(v ? "true" : "false", j->f);
}

void cli_json_string(struct cli_json *j, const char *key, const char *s)
{
	cli_json_key(j, key);
	if (s == NULL) {
		fputs("null", j->f);
	} else {
		cli_json_escape(j->f, s);
	}
}

void cli_json_bytes(struct cli_json *j, const char *key, const uint8_t *p, size_t len)
{
	cli_json_key(j, key);
	fputc('"', j->f);
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\') {
			fputc('\\', j->f);
			fputc(p[i], j->f);
		} else if (p[i] < 0x20 || p[i] >= 0x7f) {
			fprintf(j->f, "\\u%04x", p[i]);
		} else {
			fputc(p[i], j->f);
		}
	}
	fputc('"', j->f);
}

void cli_json_utf8(struct cli_json *j, const char *key, const uint8_t *p, size_t len)
{
	cli_json_key(j, key);
	if (p == NULL) {
		fputs("null", j->f);
		return;
	}
	fputc('"', j->f);
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\') {
			fputc('\\', j->f);
			fputc(p[i], j->f);
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			fprintf(j->f, "\\u%04x", p[i]);
		} else {
			fputc(p[i], j->f);
		}
	}
	fputc('"', j->f);
}

void cli_json_base64(struct cli_json *j, const char *key, const uint8_t *p, size_t len)
{
	cli_json_key(j, key);
	fputc('"', j->f);
	cli_base64_write(j->f, p, len);
	fputc('"', j->f);
}

void cli_json_end_line(struct cli_json *j)
{
	SL_ASSERT(j->depth == 0);
	fputc('\n', j->f);
}

void cli_json_finish(struct cli_json *j)
{
	SL_ASSERT(j->depth == 0);
	fputc('\n', j->f);
	fflush(j->f);
}
