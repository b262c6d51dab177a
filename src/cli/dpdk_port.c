/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DPDK side of `sluice produce --driver dpdk`: brings up the EAL with the arguments
 * after `--` and starts the one ethdev port a libsluice-dpdk client uses, with one RX
 * and one TX queue. The client then frames its datagrams itself (see client_dpdk.h).
 */
#include "cli/cli.h"

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <errno.h>
#include <string.h>

#define DPDK_PORT_RX_DESC 512u
#define DPDK_PORT_TX_DESC 512u
/* RX carries ACKs, NACKs and ARP only: small frames, a modest pool. */
#define DPDK_PORT_RX_MBUFS 2047u
/* Ethernet + IPv4 + UDP headers around a datagram. */
#define DPDK_PORT_HEADERS_BYTES 42u

static int dpdk_port_configure(uint16_t port, uint32_t frame_bytes, char *err)
{
	struct rte_eth_conf conf;
	int socket = rte_eth_dev_socket_id(port);
	struct rte_mempool *pool;
	int rc;

	memset(&conf, 0, sizeof(conf));
	pool = rte_pktmbuf_pool_create("sluice_cli_rx", DPDK_PORT_RX_MBUFS, 0, 0,
				       RTE_MBUF_DEFAULT_BUF_SIZE, socket);
	if (pool == NULL) {
		snprintf(err, CLI_ERR_BYTES, "port %u: cannot create its RX mbuf pool: %s", port,
			 rte_strerror(rte_errno));
		return -ENOMEM;
	}
	rc = rte_eth_dev_configure(port, 1, 1, &conf);
	if (rc == 0 && frame_bytes + DPDK_PORT_HEADERS_BYTES - RTE_ETHER_HDR_LEN > RTE_ETHER_MTU) {
		/* Jumbo datagrams: the port must pass them. */
		rc = rte_eth_dev_set_mtu(port, (uint16_t)(frame_bytes + DPDK_PORT_HEADERS_BYTES -
							  RTE_ETHER_HDR_LEN));
	}
	if (rc == 0) {
		rc = rte_eth_rx_queue_setup(port, 0, DPDK_PORT_RX_DESC, socket, NULL, pool);
	}
	if (rc == 0) {
		rc = rte_eth_tx_queue_setup(port, 0, DPDK_PORT_TX_DESC, socket, NULL);
	}
	if (rc == 0) {
		rc = rte_eth_dev_start(port);
	}
	if (rc != 0) {
		snprintf(err, CLI_ERR_BYTES, "port %u: cannot configure and start it: %s", port,
			 rte_strerror(-rc));
	}
	return rc;
}

int cli_dpdk_port_start(int eal_argc, char **eal_argv, uint16_t port, uint32_t frame_bytes,
			char *err)
{
	char *argv[CLI_EAL_ARGS_MAX + 2];
	char name[] = "sluice";
	int argc = 0;

	if (eal_argc > CLI_EAL_ARGS_MAX) {
		snprintf(err, CLI_ERR_BYTES, "more than %d EAL arguments", CLI_EAL_ARGS_MAX);
		return -EINVAL;
	}
	argv[argc++] = name;
	for (int i = 0; i < eal_argc; i++) {
		argv[argc++] = eal_argv[i];
	}
	argv[argc] = NULL;
	if (rte_eal_init(argc, argv) < 0) {
		snprintf(err, CLI_ERR_BYTES,
			 "EAL initialisation failed: %s (check the EAL "
			 "arguments after --)",
			 rte_strerror(rte_errno));
		return -rte_errno;
	}
	if (!rte_eth_dev_is_valid_port(port)) {
		snprintf(err, CLI_ERR_BYTES,
			 "--port-id %u: no such ethdev port (%u available; name one with "
			 "--vdev or a PCI address in the EAL arguments)",
			 port, rte_eth_dev_count_avail());
		(void)rte_eal_cleanup();
		return -ENODEV;
	}
	int rc = dpdk_port_configure(port, frame_bytes, err);
	if (rc != 0) {
		(void)rte_eal_cleanup();
	}
	return rc;
}

void cli_dpdk_port_stop(uint16_t port)
{
	(void)rte_eth_dev_stop(port);
	(void)rte_eth_dev_close(port);
	(void)rte_eal_cleanup();
}
