/* fuzz_dhcp.c - libFuzzer harness for the DHCP client's packet handling
 * (`make fuzz`; clang -fsanitize=fuzzer,address,undefined). The input is
 * a received frame from the IP header on, as the packet socket hands it
 * over: dhcp_unwrap, dhcp_parse, then the state machine in SELECTING and
 * REQUESTING with the input's xid forced to the client's, so every byte
 * reaches the code a hostile server could drive. The first byte selects
 * whether the input is taken as a whole IP packet or as a bare DHCP
 * payload. tests/fuzz/corpus/ holds seeds (an OFFER, an ACK, a NAK). */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dhcp.h"

static const uint8_t MAC[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};

static void drive(const uint8_t *p, size_t n)
{
    struct dhcp_msg m;
    if (dhcp_parse(p, n, &m) < 0)
        return;
    struct dhcp_client c;
    struct dhcp_actions a;
    dhcp_client_init(&c, MAC, n, NULL, 1000);
    dhcp_start(&c, 1000, &a);
    m.xid = c.xid;
    memcpy(m.chaddr, MAC, 6);
    m.type = DHCPOFFER;
    dhcp_on_packet(&c, &m, 1001, &a);
    m.type = DHCPACK;
    m.xid = c.xid;
    dhcp_on_packet(&c, &m, 1002, &a);
    if (c.has_lease) {
        if (!(c.lease.t1_s < c.lease.t2_s && c.lease.t2_s < c.lease.lease_s) &&
            c.lease.lease_s != DHCP_INFINITE)
            __builtin_trap();
        dhcp_on_timer(&c, dhcp_lease_t1(&c.lease), &a);
        dhcp_on_timer(&c, dhcp_lease_t2(&c.lease), &a);
        dhcp_stop(&c, true, &a);
        uint8_t out[DHCP_MAX_LEN];
        if (a.send && dhcp_encode(&a.out, out, sizeof(out)) < 300)
            __builtin_trap();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    if (data[0] & 1) {
        size_t off, len;
        if (dhcp_unwrap(p, n, &off, &len) == 0) {
            if (off + len > n)
                __builtin_trap();
            drive(p + off, len);
        }
    } else
        drive(p, n);
    return 0;
}
