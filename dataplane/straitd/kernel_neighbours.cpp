#include "straitd/kernel_neighbours.hpp"

#include <arpa/inet.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace strait::straitd {
namespace {

// A request: header, family message, room for one address attribute.
template <class FamilyMsg>
struct Request {
  nlmsghdr nh;
  FamilyMsg msg;
  std::array<char, RTA_SPACE(16)> attrs;
};

template <class FamilyMsg>
std::size_t add_address_attr(Request<FamilyMsg>& r, unsigned short type, const std::uint8_t* addr,
                             std::size_t len) {
  auto* rta = reinterpret_cast<rtattr*>(r.attrs.data());
  rta->rta_type = type;
  rta->rta_len = static_cast<unsigned short>(RTA_LENGTH(len));
  std::memcpy(RTA_DATA(rta), addr, len);
  return NLMSG_LENGTH(sizeof(FamilyMsg)) + RTA_SPACE(len);
}

}  // namespace

Result<KernelNeighbours> KernelNeighbours::open() {
  int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) {
    return Error{std::string("cannot open an rtnetlink socket to read the neighbour table: ") +
                 std::strerror(errno)};
  }
  // The kernel answers at once; the timeout only guards against a lost reply.
  timeval tv{0, 200 * 1000};
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return KernelNeighbours(fd);
}

KernelNeighbours::KernelNeighbours(KernelNeighbours&& other) noexcept
    : fd_(other.fd_), seq_(other.seq_) {
  other.fd_ = -1;
}

KernelNeighbours::~KernelNeighbours() {
  if (fd_ >= 0) ::close(fd_);
}

bool KernelNeighbours::round_trip(void* request, std::size_t len, std::string& reply) {
  auto* nh = static_cast<nlmsghdr*>(request);
  nh->nlmsg_len = static_cast<std::uint32_t>(len);
  nh->nlmsg_flags = NLM_F_REQUEST;
  nh->nlmsg_seq = ++seq_;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_, request, len, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof(kernel)) < 0) {
    return false;
  }
  std::array<char, 8192> buf{};
  // Skip stale replies of earlier requests that timed out.
  for (int attempts = 0; attempts < 8; ++attempts) {
    ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n < 0) return false;
    auto* r = reinterpret_cast<nlmsghdr*>(buf.data());
    if (!NLMSG_OK(r, static_cast<unsigned>(n))) return false;
    if (r->nlmsg_seq != seq_) continue;
    if (r->nlmsg_type == NLMSG_ERROR) return false;  // ENETUNREACH, ENOENT, ...
    reply.assign(buf.data(), r->nlmsg_len);
    return true;
  }
  return false;
}

std::optional<dp::MacAddr> KernelNeighbours::lookup(const dp::IpAddr16& dst) {
  if (fd_ < 0) return std::nullopt;
  const bool v4 = dp::is_ipv4_mapped(dst);
  const std::uint8_t* addr = v4 ? dst.data() + 12 : dst.data();
  const std::size_t addr_len = v4 ? 4 : 16;
  const unsigned char family = v4 ? AF_INET : AF_INET6;

  // 1. The route: gateway and output interface (ip route get).
  Request<rtmsg> rq{};
  rq.nh.nlmsg_type = RTM_GETROUTE;
  rq.msg.rtm_family = family;
  rq.msg.rtm_dst_len = static_cast<unsigned char>(addr_len * 8);
  std::size_t len = add_address_attr(rq, RTA_DST, addr, addr_len);
  std::string reply;
  if (!round_trip(&rq, len, reply) || reply.size() < NLMSG_LENGTH(sizeof(rtmsg))) {
    return std::nullopt;
  }
  auto* rnh = reinterpret_cast<nlmsghdr*>(reply.data());
  if (rnh->nlmsg_type != RTM_NEWROUTE) return std::nullopt;
  auto* rt = static_cast<rtmsg*>(NLMSG_DATA(rnh));
  if (rt->rtm_type != RTN_UNICAST) return std::nullopt;  // local, unreachable, blackhole
  std::array<std::uint8_t, 16> next_hop{};
  std::memcpy(next_hop.data(), addr, addr_len);
  int oif = 0;
  int attr_len = static_cast<int>(RTM_PAYLOAD(rnh));
  for (auto* a = RTM_RTA(rt); RTA_OK(a, attr_len); a = RTA_NEXT(a, attr_len)) {
    if (a->rta_type == RTA_OIF && RTA_PAYLOAD(a) >= sizeof(int)) {
      std::memcpy(&oif, RTA_DATA(a), sizeof(int));
    } else if (a->rta_type == RTA_GATEWAY && RTA_PAYLOAD(a) == addr_len) {
      std::memcpy(next_hop.data(), RTA_DATA(a), addr_len);
    }
  }
  if (oif == 0) return std::nullopt;

  // 2. The neighbour entry of the next hop on that interface (ip neigh get).
  Request<ndmsg> nq{};
  nq.nh.nlmsg_type = RTM_GETNEIGH;
  nq.msg.ndm_family = family;
  nq.msg.ndm_ifindex = oif;
  len = add_address_attr(nq, NDA_DST, next_hop.data(), addr_len);
  if (!round_trip(&nq, len, reply) || reply.size() < NLMSG_LENGTH(sizeof(ndmsg))) {
    return std::nullopt;
  }
  auto* nnh = reinterpret_cast<nlmsghdr*>(reply.data());
  if (nnh->nlmsg_type != RTM_NEWNEIGH) return std::nullopt;
  auto* nd = static_cast<ndmsg*>(NLMSG_DATA(nnh));
  constexpr std::uint16_t kUsable =
      NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT;
  if ((nd->ndm_state & kUsable) == 0) return std::nullopt;
  attr_len = static_cast<int>(nnh->nlmsg_len - NLMSG_LENGTH(sizeof(ndmsg)));
  for (auto* a =
           reinterpret_cast<rtattr*>(reinterpret_cast<char*>(nd) + NLMSG_ALIGN(sizeof(ndmsg)));
       RTA_OK(a, attr_len); a = RTA_NEXT(a, attr_len)) {
    if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) {
      dp::MacAddr mac{};
      std::memcpy(mac.data(), RTA_DATA(a), 6);
      return mac;
    }
  }
  return std::nullopt;
}

void KernelNeighbours::solicit(const dp::IpAddr16& dst, std::uint16_t port) {
  const bool v4 = dp::is_ipv4_mapped(dst);
  int s = ::socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s < 0) return;
  if (v4) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    std::memcpy(&sa.sin_addr, dst.data() + 12, 4);
    (void)::sendto(s, "", 0, 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  } else {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons(port);
    std::memcpy(&sa.sin6_addr, dst.data(), 16);
    (void)::sendto(s, "", 0, 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
  }
  ::close(s);
}

}  // namespace strait::straitd
