/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replies and TX. A reply is written over the request in the request's own mbuf (the
 * peer stored in it is where the reply goes), or into a fresh mbuf of the shard's pool
 * when the request's buffer cannot be reused. Replies wait in a burst-sized array that
 * is handed to the netdev once per loop iteration, or sooner when it fills.
 */
#include "shard/shard_int.h"

#include "core/assert.h"

#include <string.h>

/* Responses a client did not size for stay within the smallest frame limit any peer
 * uses: clients size their receive buffers for the default frame. */
#define SHARD_RESPONSE_BYTES_MAX SL_WIRE_FRAME_BYTES_DEFAULT

void shard_tx_flush(struct shard *s)
{
	uint16_t n = s->tx_count;

	if (n == 0) {
		return;
	}
	uint64_t bytes = 0;
	uint16_t k = netdev_tx_burst(s->env->netdev, s->index, s->tx, n);
	for (uint16_t i = 0; i < k; i++) {
		bytes += s->tx_len[i];
	}
	shard_count(s, SL_STAT_TX_DATAGRAMS, k);
	shard_count(s, SL_STAT_TX_BYTES, bytes);
	if (k < n) {
		shard_count(s, SL_STAT_TX_DROP_FULL, (uint64_t)(n - k));
		rte_pktmbuf_free_bulk(s->tx + k, (unsigned)(n - k));
	}
	s->tx_count = 0;
}

void shard_tx_push(struct shard *s, struct rte_mbuf *m, uint32_t len)
{
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	s->tx[s->tx_count] = m;
	s->tx_len[s->tx_count] = (uint16_t)len;
	if (++s->tx_count == s->burst) {
		shard_tx_flush(s);
	}
}

void shard_tx_push_chain(struct shard *s, struct rte_mbuf *m)
{
	s->tx[s->tx_count] = m;
	s->tx_len[s->tx_count] = (uint16_t)m->pkt_len;
	if (++s->tx_count == s->burst) {
		shard_tx_flush(s);
	}
}

static bool shard_mbuf_is_reusable(const struct rte_mbuf *m)
{
	return RTE_MBUF_DIRECT(m) && rte_mbuf_refcnt_read(m) == 1 && m->nb_segs == 1;
}

/* Bytes a reply may take in the mbuf out. */
static uint32_t shard_reply_cap(const struct shard *s, const struct rte_mbuf *out, uint32_t limit)
{
	uint32_t room = (uint32_t)out->buf_len - out->data_off;
	uint32_t cap = s->frame_bytes_max < limit ? s->frame_bytes_max : limit;

	return room < cap ? room : cap;
}

/*
 * The mbuf a reply to request m is written into: m itself when reusable, else a fresh
 * one carrying m's peer (then *reused is false and the caller frees m once it has read
 * the request). NULL when the pool is empty: m is freed and the drop counted.
 */
static struct rte_mbuf *shard_reply_mbuf(struct shard *s, struct rte_mbuf *m, bool *reused)
{
	if (shard_mbuf_is_reusable(m)) {
		*reused = true;
		return m;
	}
	*reused = false;
	struct rte_mbuf *out = rte_pktmbuf_alloc(s->pool);
	if (out == NULL) {
		shard_count(s, SL_STAT_DROP_NOMBUF, 1);
		rte_pktmbuf_free(m);
		return NULL;
	}
	*netdev_mbuf_peer(out) = *netdev_mbuf_peer(m);
	return out;
}

struct rte_mbuf *shard_reply_mbuf_over(struct shard *s, struct rte_mbuf *m)
{
	bool reused;
	struct rte_mbuf *out = shard_reply_mbuf(s, m, &reused);

	if (out != NULL && !reused) {
		rte_pktmbuf_free(m);
	}
	return out;
}

/*
 * Starts reply header h with `topic` in `out`. The topic may point into the request,
 * which may be `out` itself: it is copied aside first, as wire_begin() may not copy
 * onto itself.
 */
static void shard_reply_begin(struct wire_builder *b, struct rte_mbuf *out, uint32_t cap,
			      const struct sl_wire_header *h, const uint8_t *topic)
{
	uint8_t name[SL_WIRE_TOPIC_BYTES_MAX];
	size_t len = topic == NULL ? 0 : h->topic_len;

	if (len > 0) {
		memcpy(name, topic, len);
	}
	int rc = wire_begin(b, rte_pktmbuf_mtod(out, void *), cap, h, name, len);
	/* Pools hold frame_bytes_max and frames hold at least header + topic. */
	SL_ASSERT_HOT(rc == 0);
	(void)rc;
}

void shard_reply_nack(struct shard *s, struct rte_mbuf *m, const struct sl_wire_header *req,
		      const uint8_t *topic, enum sl_nack_reason reason, uint32_t detail,
		      uint64_t expected)
{
	struct sl_wire_header h;
	struct wire_builder b;
	uint8_t body[sizeof(struct sl_wire_nack)];
	bool reused;

	/* A producer that asked for no acks is not listening: it gets no NACK either. */
	if (req->type == SL_WIRE_PRODUCE && req->ack_level == SL_ACKS_NONE) {
		if (shard_is_dead_letter(req)) {
			/* Refused on the way (its reason counted by the caller): lost. */
			shard_count(s, SL_STAT_DEAD_LETTERS_LOST, 1);
		}
		rte_pktmbuf_free(m);
		return;
	}
	wire_reply_header(&h, req, SL_WIRE_NACK);
	h.record_count = req->record_count;
	wire_nack_write(body, &(struct sl_wire_nack){.reason = (uint16_t)reason,
						     .detail = detail,
						     .expected = expected});
	struct rte_mbuf *out = shard_reply_mbuf(s, m, &reused);
	if (out == NULL) {
		return;
	}
	shard_reply_begin(&b, out, shard_reply_cap(s, out, UINT32_MAX), &h, topic);
	int rc = wire_add_body(&b, body, sizeof(body));
	SL_ASSERT_HOT(rc == 0);
	(void)rc;
	if (!reused) {
		rte_pktmbuf_free(m);
	}
	shard_count(s, SL_STAT_NACKS, 1);
	shard_tx_push(s, out, wire_finish(&b));
}

void shard_reply_ack(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f,
		     enum sl_ack_status status, uint64_t base_offset, uint64_t durable_end)
{
	struct sl_wire_header h;
	struct wire_builder b;
	uint8_t body[sizeof(struct sl_wire_ack)];
	bool reused;

	if (f->hdr.ack_level == SL_ACKS_NONE) {
		rte_pktmbuf_free(m);
		return;
	}
	wire_reply_header(&h, &f->hdr, SL_WIRE_ACK);
	h.record_count = f->hdr.record_count;
	wire_ack_write(body, &(struct sl_wire_ack){.base_offset = base_offset,
						   .status = (uint16_t)status,
						   .ack_level = f->hdr.ack_level});
	struct rte_mbuf *out = shard_reply_mbuf(s, m, &reused);
	if (out == NULL) {
		return;
	}
	shard_reply_begin(&b, out, shard_reply_cap(s, out, UINT32_MAX), &h, f->topic);
	int rc = wire_add_body(&b, body, sizeof(body));
	SL_ASSERT_HOT(rc == 0);
	(void)rc;
	if (!reused) {
		rte_pktmbuf_free(m);
	}
	uint32_t len = wire_finish(&b);
	if (h.ack_level == SL_ACKS_DURABLE && durable_end > journal_durable_end(s->journal)) {
		shard_durable_push(s, out, len, durable_end);
		return;
	}
	shard_count(s, SL_STAT_ACKS, 1);
	shard_tx_push(s, out, len);
}

/* Appends one topic entry; false (builder unchanged) when it does not fit. */
static bool shard_metadata_add_topic(struct wire_builder *b, const uint8_t *name, uint8_t name_len,
				     uint32_t partitions)
{
	uint8_t entry[sizeof(struct sl_wire_topic_entry)] = {0};

	if ((uint64_t)b->cap - b->len < sizeof(entry) + wire_align(name_len)) {
		return false;
	}
	wire_put_u32(entry, partitions);
	entry[offsetof(struct sl_wire_topic_entry, name_len)] = name_len;
	int rc = wire_add_body(b, entry, sizeof(entry));
	rc |= wire_add_body(b, name, name_len);
	SL_ASSERT_HOT(rc == 0);
	return true;
}

void shard_reply_metadata(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f)
{
	const struct route_table *routes = s->env->routes;
	struct sl_wire_header h;
	struct wire_builder b;
	uint8_t asked[SL_WIRE_TOPIC_BYTES_MAX];
	uint8_t asked_len = f->hdr.topic_len;
	struct sl_wire_metadata md = {
		.produce_bytes_max = wire_produce_bytes_max(s->frame_bytes_max),
		.partitions_default = route_partitions_default(routes),
		.shards = s->shards,
		.auto_create = route_auto_create(routes) ? 1 : 0,
		.stream_batches_max = (uint16_t)s->dedupe_window,
	};
	bool reused;

	memcpy(asked, f->topic, asked_len);
	wire_reply_header(&h, &f->hdr, SL_WIRE_METADATA_RESPONSE);
	struct rte_mbuf *out = shard_reply_mbuf(s, m, &reused);
	if (out == NULL) {
		return;
	}
	if (!reused) {
		rte_pktmbuf_free(m);
	}
	shard_reply_begin(&b, out, shard_reply_cap(s, out, SHARD_RESPONSE_BYTES_MAX), &h, asked);
	uint32_t md_at = b.len;
	int rc = wire_add_body(&b, &md, sizeof(md));
	SL_ASSERT_HOT(rc == 0);
	(void)rc;
	if (asked_len > 0) {
		md.topic_count = 1;
		(void)shard_metadata_add_topic(&b, asked, asked_len,
					       route_partitions(routes, asked, asked_len));
	} else {
		for (uint32_t i = 0; i < route_topic_count(routes); i++) {
			const struct route_topic *t = route_topic_at(routes, i);
			if (!shard_metadata_add_topic(&b, (const uint8_t *)t->name, t->name_len,
						      t->partitions)) {
				b.buf[offsetof(struct sl_wire_header, flags)] |=
					SL_WIRE_FLAG_TRUNCATED;
				break;
			}
			md.topic_count++;
		}
	}
	wire_metadata_write(b.buf + md_at, &md);
	shard_tx_push(s, out, wire_finish(&b));
}

/* The SL_STAT_NET_* block mirrors enum netdev_stat, in the same order. */
static_assert(SL_STAT_NET_PORT_OERRORS - SL_STAT_NET_RX_FRAMES + 1 == NETDEV_STAT_COUNT,
	      "SL_STAT_NET_* mirrors enum netdev_stat");
static_assert(SL_STAT_NET_NOT_IPV4 - SL_STAT_NET_RX_FRAMES == NETDEV_STAT_NOT_IPV4,
	      "SL_STAT_NET_* mirrors enum netdev_stat");
static_assert(SL_STAT_NET_ICMP_OTHER - SL_STAT_NET_RX_FRAMES == NETDEV_STAT_ICMP_OTHER,
	      "SL_STAT_NET_* mirrors enum netdev_stat");

void shard_reply_stats(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f)
{
	struct sl_wire_header h;
	struct wire_builder b;
	uint8_t body[sizeof(struct sl_wire_stats) + SL_STAT_COUNT * 8];
	uint64_t asked = f->hdr.sequence;
	bool reused;

	if (asked >= s->shards) {
		shard_count(s, SL_STAT_DROP_BAD_FIELD, 1);
		shard_reply_nack(s, m, &f->hdr, f->topic, SL_NACK_MALFORMED,
				 SL_WIRE_REJECT_BAD_FIELD, s->shards);
		return;
	}
	const struct shard_counters *c = &s->env->counters[asked];
	wire_stats_write(body, &(struct sl_wire_stats){
				       .shard = (uint16_t)asked,
				       .shards = s->shards,
				       .counter_count = SL_STAT_COUNT,
				       .lcore = c->lcore,
				       .numa_node = c->socket,
			       });
	uint64_t net[NETDEV_STAT_COUNT];
	netdev_counters(s->env->netdev, (uint16_t)asked, net);
	for (unsigned i = 0; i < SL_STAT_COUNT; i++) {
		uint64_t v = shard_counters_get(c, (enum sl_stat)i);
		if (i >= SL_STAT_NET_RX_FRAMES && i <= SL_STAT_NET_PORT_OERRORS) {
			v = net[i - SL_STAT_NET_RX_FRAMES]; /* the driver's, for queue `asked` */
		}
		wire_put_u64(body + sizeof(struct sl_wire_stats) + 8 * i, v);
	}
	wire_reply_header(&h, &f->hdr, SL_WIRE_STATS_RESPONSE);
	struct rte_mbuf *out = shard_reply_mbuf(s, m, &reused);
	if (out == NULL) {
		return;
	}
	shard_reply_begin(&b, out, shard_reply_cap(s, out, SHARD_RESPONSE_BYTES_MAX), &h, f->topic);
	int rc = wire_add_body(&b, body, sizeof(body));
	SL_ASSERT_HOT(rc == 0);
	(void)rc;
	if (!reused) {
		rte_pktmbuf_free(m);
	}
	shard_tx_push(s, out, wire_finish(&b));
}

void shard_reply_pong(struct shard *s, struct rte_mbuf *m, const struct wire_frame *f)
{
	struct sl_wire_header h;
	struct wire_builder b;
	bool reused;

	wire_reply_header(&h, &f->hdr, SL_WIRE_PONG);
	struct rte_mbuf *out = shard_reply_mbuf(s, m, &reused);
	if (out == NULL) {
		return;
	}
	shard_reply_begin(&b, out, shard_reply_cap(s, out, UINT32_MAX), &h, f->topic);
	if (reused) {
		/* Same header and topic lengths: the body already sits where the reply's
		 * goes, so it is counted in rather than copied onto itself. */
		SL_ASSERT_HOT(b.len + f->body_len <= b.cap);
		b.len += f->body_len;
	} else {
		int rc = wire_add_body(&b, f->body, f->body_len);
		SL_ASSERT_HOT(rc == 0);
		(void)rc;
		rte_pktmbuf_free(m);
	}
	shard_tx_push(s, out, wire_finish(&b));
}
