/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Router addresses: "HOST:PORT" strings from configuration and flags resolved into a
 * socket address once, when a producer or a request starts. HOST may be a name, an
 * IPv4 address or a bracketed IPv6 address; PORT must be numeric.
 */
#include "client/client_int.h"

#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>

int client_addr_parse(const char *hostport, struct client_addr *out)
{
	char host[256];
	const char *colon;
	const char *port;
	size_t host_len;
	struct addrinfo hints;
	struct addrinfo *res = NULL;

	if (hostport == NULL) {
		return -EINVAL;
	}
	colon = strrchr(hostport, ':');
	if (colon == NULL || colon == hostport || colon[1] == '\0') {
		return -EINVAL;
	}
	port = colon + 1;
	if (strspn(port, "0123456789") != strlen(port) || strlen(port) > 5 || atoi(port) <= 0 ||
	    atoi(port) > 65535) {
		return -EINVAL;
	}
	host_len = (size_t)(colon - hostport);
	if (hostport[0] == '[') {
		/* [v6addr]:port */
		if (host_len < 3 || hostport[host_len - 1] != ']') {
			return -EINVAL;
		}
		hostport++;
		host_len -= 2;
	}
	if (host_len >= sizeof(host)) {
		return -EINVAL;
	}
	memcpy(host, hostport, host_len);
	host[host_len] = '\0';

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &res) != 0 || res == NULL) {
		return -EINVAL;
	}
	if (res->ai_addrlen > sizeof(out->ss)) {
		freeaddrinfo(res);
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}
