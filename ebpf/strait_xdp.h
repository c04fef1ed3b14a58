/* strait_xdp.h: what the XDP program (strait_xdp.bpf.c) and its loader (xdp_loader.cpp) must
 * agree on: map names, the config record, map keys and values, counter indices. Plain C with
 * linux/types.h only, so that clang -target bpf and g++ both compile it.
 *
 * Drop reasons come from dataplane/base/drop_reasons.def, the one list shared with straitd and the
 * metrics: STRAIT_XDP_DROP_<name> has the same value as strait::DropReason::<name>, and the
 * drop counter map is indexed by it (xdp_loader.cpp static_asserts both). */
#ifndef STRAIT_EBPF_STRAIT_XDP_H
#define STRAIT_EBPF_STRAIT_XDP_H

#include <linux/types.h>

enum strait_xdp_drop_reason {
#define STRAIT_DROP(name, metric, help) STRAIT_XDP_DROP_##name,
#include "base/drop_reasons.def"
#undef STRAIT_DROP
  STRAIT_XDP_DROP_COUNT
};

/* Verdicts that are not drops, counted in the "verdicts" per-CPU array. A tunnel packet that
 * passed every check is counted once as accepted and once more by what the redirect did. */
enum strait_xdp_verdict {
  STRAIT_XDP_PASS_NOT_TUNNEL = 0, /* not UDP to the tunnel port (or unparsable): to the kernel */
  STRAIT_XDP_PASS_UNCONFIGURED,   /* tunnel port 0: the program is not configured yet */
  STRAIT_XDP_TUNNEL_ACCEPTED,     /* a tunnel packet passed every check */
  STRAIT_XDP_TUNNEL_REDIRECTED,   /* ... and went to the AF_XDP socket of its RX queue */
  STRAIT_XDP_TUNNEL_NO_SOCKET,    /* ... but no socket on that queue: XDP_PASS fallback */
  STRAIT_XDP_VERDICT_COUNT
};

/* Map names (at most 15 characters, the kernel's BPF_OBJ_NAME_LEN - 1). "xsks_map" is the name
 * DPDK's net_af_xdp PMD looks up in a program loaded with its xdp_prog= devarg. */
#define STRAIT_XDP_PROG_NAME "strait_xdp"
#define STRAIT_XDP_MAP_CONFIG "config"
#define STRAIT_XDP_MAP_LIVE_INDICES "live_indices"
#define STRAIT_XDP_MAP_HS_GLOBAL "hs_global"
#define STRAIT_XDP_MAP_ALLOWED "allowed_srcs"
#define STRAIT_XDP_MAP_XSKS "xsks_map"
#define STRAIT_XDP_MAP_DROPS "drops"
#define STRAIT_XDP_MAP_VERDICTS "verdicts"

/* config: an ARRAY of one record, key 0. All zero (the state right after load) means tunnel
 * port 0: every packet passes untouched, so a program attached before it is configured is
 * harmless. */
#define STRAIT_XDP_F_ALLOWLIST (1u << 0) /* drop tunnel packets from outside allowed_srcs */

struct strait_xdp_config {
  __u16 tunnel_port; /* UDP destination port of the tunnel, host byte order; 0 = unconfigured */
  __u16 reserved;
  __u32 flags;         /* STRAIT_XDP_F_* */
  __u64 test_now_ns;   /* tests only: if non-zero, the handshake cap's clock; 0 in production */
  __u32 hs_per_second; /* cap on handshake messages from all sources together; 0 = no cap */
  __u32 hs_burst;      /* ... and its burst, in messages (at least 1 when the cap is on) */
};

/* live_indices: HASH, key = a receiver index as straitd allocated it (the little-endian u32 of
 * the wire, WireGuard paper section 5.4.6, as a number), value = which data type may use it. */
struct strait_xdp_live_index {
  __u8 data_type; /* 4 (ChaCha20-Poly1305) or 0x84 (AES-256-GCM); 0 = either */
  __u8 reserved[3];
};

/* hs_global: ARRAY of one token bucket for handshake messages of every source together (the
 * coarse global cap; there is no per-source limit here, see strait_xdp.bpf.c). */
struct strait_xdp_bucket {
  __u64 tokens_ns;    /* credit in nanoseconds of packet cost */
  __u64 last_seen_ns; /* clock when tokens_ns was computed */
};

/* allowed_srcs: LPM_TRIE of endpoint prefixes, both families in one trie: the first key byte
 * is the family (4 or 6) and counts in prefixlen, so an IPv4 /24 is prefixlen 8 + 24 and can
 * never match an IPv6 source (not even an IPv4-mapped one, ::ffff:0:0/96). */
struct strait_xdp_lpm_key {
  __u32 prefixlen; /* 8 + the prefix length */
  __u8 family;     /* 4 or 6 */
  __u8 addr[16];   /* IPv4: first 4 bytes */
  __u8 reserved[3];
};

#define STRAIT_XDP_LIVE_INDICES_MAX 65536
#define STRAIT_XDP_ALLOWED_MAX 4096
#define STRAIT_XDP_XSKS_MAX 64

#endif /* STRAIT_EBPF_STRAIT_XDP_H */
