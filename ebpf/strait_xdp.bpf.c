// SPDX-License-Identifier: (GPL-2.0-only OR Apache-2.0)
/* strait_xdp: the XDP program on the wire NIC (DESIGN.md sections 1, 2 and 4).
 *
 * Tunnel UDP goes to the AF_XDP socket of the RX queue it arrived on (straitd's net_af_xdp
 * port); everything else goes to the kernel untouched; tunnel packets that cannot be
 * WireGuard, or are a flood, are dropped here, before any allocation, each with a counter named
 * after its drop reason (dataplane/base/drop_reasons.def).
 *
 *   Ethernet [802.1Q|802.1ad tag] IPv4 (options allowed) | IPv6 (no extension headers)
 *     UDP dst != tunnel port (or not parsable as such)  -> XDP_PASS
 *     UDP dst == tunnel port ("tunnel-looking"):
 *       IP/UDP lengths inconsistent or beyond the frame -> DROP outer_truncated/_bad_ip/_bad_udp
 *       WireGuard type, reserved bytes, length          -> DROP msg_bad_type / msg_bad_length
 *       source outside allowed_srcs (flag set)          -> DROP source_not_allowed
 *       data: receiver index not live / wrong cipher    -> DROP unknown_index / cipher_mismatch
 *       handshake: global cap on (hs_per_second) spent  -> DROP handshake_rate_limited
 *       else bpf_redirect_map(xsks_map, rx queue, fallback XDP_PASS)
 *
 * No per-source limit on handshake messages here: their source address is unproven until
 * straitd has checked a mac2 (a cookie), and a bucket keyed by it lets a spoofer drain a real
 * peer's bucket with a few junk packets a second. straitd limits per source after mac2, under
 * load, as WireGuard does (dataplane/device/handshake_rate_limiter.hpp).
 *
 * Checksums are not verified: transport data is authenticated by its AEAD tag and handshake
 * messages by mac1, both in straitd. */

// The kernel's UAPI headers first: libbpf's headers use the types they define.
// clang-format off
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "strait_xdp.h"
// clang-format on

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct strait_xdp_config);
} config SEC(".maps");

/* Written by straitd's slow path when it creates or retires a keypair. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, STRAIT_XDP_LIVE_INDICES_MAX);
  __type(key, __u32);
  __type(value, struct strait_xdp_live_index);
} live_indices SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct strait_xdp_bucket);
} hs_global SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, STRAIT_XDP_ALLOWED_MAX);
  __uint(map_flags, BPF_F_NO_PREALLOC);  // required for LPM tries
  __type(key, struct strait_xdp_lpm_key);
  __type(value, __u8);
} allowed_srcs SEC(".maps");

/* Filled by whoever opens the AF_XDP sockets (DPDK's net_af_xdp PMD): key = RX queue id. */
struct {
  __uint(type, BPF_MAP_TYPE_XSKMAP);
  __uint(max_entries, STRAIT_XDP_XSKS_MAX);
  __type(key, __u32);
  __type(value, __u32);
} xsks_map SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, STRAIT_XDP_DROP_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} drops SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, STRAIT_XDP_VERDICT_COUNT);
  __type(key, __u32);
  __type(value, __u64);
} verdicts SEC(".maps");

/* WireGuard message types and lengths (paper section 5.4; dataplane/core/messages.hpp). */
#define WG_INITIATION 1
#define WG_RESPONSE 2
#define WG_COOKIE_REPLY 3
#define WG_DATA 4
#define WG_DATA_AES_GCM 0x84
#define WG_INITIATION_LEN 148
#define WG_RESPONSE_LEN 92
#define WG_COOKIE_REPLY_LEN 64
#define WG_DATA_MIN_LEN 32 /* 16-byte header + 16-byte tag: a keepalive */

#define IPV4_MF 0x2000
#define IPV4_OFFSET_MASK 0x1fff

struct vlan_tag {
  __be16 tci;
  __be16 inner_proto;
};

static __always_inline void count_verdict(__u32 v) {
  __u64* c = bpf_map_lookup_elem(&verdicts, &v);
  if (c) *c += 1;  // per-CPU slot: no atomic needed
}

static __always_inline int drop(__u32 reason) {
  __u64* c = bpf_map_lookup_elem(&drops, &reason);
  if (c) *c += 1;
  return XDP_DROP;
}

static __always_inline int pass_not_tunnel(void) {
  count_verdict(STRAIT_XDP_PASS_NOT_TUNNEL);
  return XDP_PASS;
}

/* The coarse global cap: one token bucket for handshake messages of all sources together,
 * credit in nanoseconds, refilled by elapsed time up to hs_burst messages, each costing
 * 1/hs_per_second s (it starts full). It only bounds the slow path's intake; which messages
 * win under a flood above the cap is chance, so straitd's default leaves room well above what
 * its slow path answers (dataplane/straitd/xdp_wire.cpp). The read-modify-write is not atomic
 * across CPUs: N queues at the same instant can let up to N bursts through. Coarse, still
 * bounded. */
static __always_inline int handshake_within_cap(const struct strait_xdp_config* cfg, __u64 now) {
  if (cfg->hs_per_second == 0) return 1;
  __u32 zero = 0;
  struct strait_xdp_bucket* b = bpf_map_lookup_elem(&hs_global, &zero);
  if (!b) return 1;
  const __u64 cost = 1000000000ull / cfg->hs_per_second;
  const __u64 max = cost * (cfg->hs_burst ? cfg->hs_burst : 1);
  __u64 tokens = b->tokens_ns;
  if (now > b->last_seen_ns) tokens += now - b->last_seen_ns;  // a clock going back adds nothing
  if (tokens > max) tokens = max;
  b->last_seen_ns = now;
  if (tokens < cost) {
    b->tokens_ns = tokens;
    return 0;
  }
  b->tokens_ns = tokens - cost;
  return 1;
}

SEC("xdp")
int strait_xdp(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;

  __u32 zero = 0;
  const struct strait_xdp_config* cfg = bpf_map_lookup_elem(&config, &zero);
  if (!cfg || cfg->tunnel_port == 0) {
    count_verdict(STRAIT_XDP_PASS_UNCONFIGURED);
    return XDP_PASS;
  }
  const __be16 tunnel_port = bpf_htons(cfg->tunnel_port);

  /* ---- Ethernet, one optional VLAN tag ---- */
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return pass_not_tunnel();
  __be16 proto = eth->h_proto;
  void* l3 = eth + 1;
  if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
    struct vlan_tag* tag = l3;
    if ((void*)(tag + 1) > data_end) return pass_not_tunnel();
    proto = tag->inner_proto;
    l3 = tag + 1;
  }

  /* ---- IP and UDP header up to the destination port: until the port says "tunnel", anything
   * odd is the kernel's business (XDP_PASS); after it, it is ours to drop. ---- */
  struct strait_xdp_lpm_key allow_key = {};
  struct udphdr* udp;
  __u32 ip_payload_len;
  const __u64 l3_avail = (__u64)((long)data_end - (long)l3);

  if (proto == bpf_htons(ETH_P_IP)) {
    struct iphdr* ip = l3;
    if ((void*)(ip + 1) > data_end) return pass_not_tunnel();
    if (ip->version != 4 || ip->ihl < 5 || ip->protocol != IPPROTO_UDP) return pass_not_tunnel();
    const __u16 frag = bpf_ntohs(ip->frag_off);
    if (frag & IPV4_OFFSET_MASK) return pass_not_tunnel();  // no UDP header to judge
    const __u32 hlen = ip->ihl * 4;                         // 20..60
    udp = l3 + hlen;
    if ((void*)(udp + 1) > data_end) return pass_not_tunnel();
    if (udp->dest != tunnel_port) return pass_not_tunnel();

    // straitd does not reassemble; WireGuard never relies on IP fragmentation of its packets.
    if (frag & IPV4_MF) return drop(STRAIT_XDP_DROP_outer_bad_ip);
    const __u32 total = bpf_ntohs(ip->tot_len);
    if (total < hlen + sizeof(struct udphdr)) return drop(STRAIT_XDP_DROP_outer_bad_ip);
    if (total > l3_avail) return drop(STRAIT_XDP_DROP_outer_truncated);
    ip_payload_len = total - hlen;

    allow_key.prefixlen = 8 + 32;
    allow_key.family = 4;
    __builtin_memcpy(allow_key.addr, &ip->saddr, 4);
  } else if (proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr* ip6 = l3;
    if ((void*)(ip6 + 1) > data_end) return pass_not_tunnel();
    if (ip6->version != 6 || ip6->nexthdr != IPPROTO_UDP) return pass_not_tunnel();
    udp = (void*)(ip6 + 1);
    if ((void*)(udp + 1) > data_end) return pass_not_tunnel();
    if (udp->dest != tunnel_port) return pass_not_tunnel();

    ip_payload_len = bpf_ntohs(ip6->payload_len);
    if (ip_payload_len < sizeof(struct udphdr))  // includes 0, a jumbogram (RFC 2675)
      return drop(STRAIT_XDP_DROP_outer_bad_ip);
    if (ip_payload_len + sizeof(struct ipv6hdr) > l3_avail)
      return drop(STRAIT_XDP_DROP_outer_truncated);

    allow_key.prefixlen = 8 + 128;
    allow_key.family = 6;
    __builtin_memcpy(allow_key.addr, &ip6->saddr, 16);
  } else {
    return pass_not_tunnel();
  }

  /* ---- UDP length, then the WireGuard message header ---- */
  const __u32 udp_len = bpf_ntohs(udp->len);
  if (udp_len < sizeof(struct udphdr) || udp_len > ip_payload_len)
    return drop(STRAIT_XDP_DROP_outer_bad_udp);
  const __u32 msg_len = udp_len - sizeof(struct udphdr);
  const __u8* msg = (const __u8*)(udp + 1);

  if (msg_len < 4) return drop(STRAIT_XDP_DROP_msg_bad_length);
  if ((void*)(msg + 4) > data_end) return drop(STRAIT_XDP_DROP_outer_truncated);
  const __u8 type = msg[0];
  if (msg[1] | msg[2] | msg[3]) return drop(STRAIT_XDP_DROP_msg_bad_type);

  int is_data = 0;
  switch (type) {
    case WG_INITIATION:
      if (msg_len != WG_INITIATION_LEN) return drop(STRAIT_XDP_DROP_msg_bad_length);
      break;
    case WG_RESPONSE:
      if (msg_len != WG_RESPONSE_LEN) return drop(STRAIT_XDP_DROP_msg_bad_length);
      break;
    case WG_COOKIE_REPLY:
      if (msg_len != WG_COOKIE_REPLY_LEN) return drop(STRAIT_XDP_DROP_msg_bad_length);
      break;
    case WG_DATA:
    case WG_DATA_AES_GCM:
      if (msg_len < WG_DATA_MIN_LEN) return drop(STRAIT_XDP_DROP_msg_bad_length);
      is_data = 1;
      break;
    default: return drop(STRAIT_XDP_DROP_msg_bad_type);
  }

  if ((cfg->flags & STRAIT_XDP_F_ALLOWLIST) && !bpf_map_lookup_elem(&allowed_srcs, &allow_key))
    return drop(STRAIT_XDP_DROP_source_not_allowed);

  if (is_data) {
    // Receiver index: little-endian u32 at offset 4 (paper section 5.4.6).
    if ((void*)(msg + 8) > data_end) return drop(STRAIT_XDP_DROP_outer_truncated);
    const __u32 receiver =
        (__u32)msg[4] | (__u32)msg[5] << 8 | (__u32)msg[6] << 16 | (__u32)msg[7] << 24;
    const struct strait_xdp_live_index* live = bpf_map_lookup_elem(&live_indices, &receiver);
    if (!live) return drop(STRAIT_XDP_DROP_unknown_index);
    if (live->data_type && live->data_type != type) return drop(STRAIT_XDP_DROP_cipher_mismatch);
  } else {
    // Initiation, response and cookie reply share the cap: each costs straitd slow-path work.
    const __u64 now = cfg->test_now_ns ? cfg->test_now_ns : bpf_ktime_get_ns();
    if (!handshake_within_cap(cfg, now)) return drop(STRAIT_XDP_DROP_handshake_rate_limited);
  }

  count_verdict(STRAIT_XDP_TUNNEL_ACCEPTED);
  const long action = bpf_redirect_map(&xsks_map, ctx->rx_queue_index, XDP_PASS);
  count_verdict(action == XDP_REDIRECT ? STRAIT_XDP_TUNNEL_REDIRECTED
                                       : STRAIT_XDP_TUNNEL_NO_SOCKET);
  return (int)action;
}
