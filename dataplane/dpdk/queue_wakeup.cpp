#include "dpdk/queue_wakeup.hpp"

#include <dirent.h>
#include <linux/if_packet.h>
#include <rte_ethdev.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <system_error>

namespace strait::dp {

WakeSource wake_source(std::string_view driver_name) {
  if (driver_name == "net_tap") return WakeSource::rx_interrupt;
  if (driver_name == "net_af_packet") return WakeSource::packet_socket;
  if (driver_name == "net_af_xdp") return WakeSource::xdp_socket;
  return WakeSource::none;
}

std::vector<ProcessSocket> process_sockets() {
  std::vector<ProcessSocket> out;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return out;
  const int own = ::dirfd(dir);
  while (const dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    const long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == own) continue;
    ProcessSocket s;
    s.fd = static_cast<int>(fd);
    socklen_t len = sizeof(s.domain);
    // Not a socket (ENOTSOCK): skipped.
    if (::getsockopt(s.fd, SOL_SOCKET, SO_DOMAIN, &s.domain, &len) != 0) continue;
    if (s.domain == AF_PACKET) {
      sockaddr_ll sll{};
      socklen_t sl = sizeof(sll);
      if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&sll), &sl) == 0) {
        s.ifindex = sll.sll_ifindex;
      }
    }
    out.push_back(s);
  }
  ::closedir(dir);
  return out;
}

std::vector<int> packet_sockets_of(std::span<const ProcessSocket> sockets, int ifindex) {
  std::vector<int> fds;
  if (ifindex <= 0) return fds;
  for (const ProcessSocket& s : sockets) {
    if (s.domain == AF_PACKET && s.ifindex == ifindex) fds.push_back(s.fd);
  }
  std::sort(fds.begin(), fds.end());
  return fds;
}

std::vector<int> xdp_sockets_of(std::span<const ProcessSocket> sockets) {
  std::vector<int> fds;
  for (const ProcessSocket& s : sockets) {
    if (s.domain == AF_XDP) fds.push_back(s.fd);
  }
  std::sort(fds.begin(), fds.end());
  return fds;
}

// ---- Doorbell ----

Doorbell::Doorbell() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

Doorbell::~Doorbell() {
  if (fd_ >= 0) ::close(fd_);
}

void Doorbell::write_eventfd() noexcept {
  const std::uint64_t one = 1;
  // EAGAIN only at a count of 2^64 - 2: the owner wakes anyway.
  (void)!::write(fd_, &one, sizeof(one));
}

bool Doorbell::clear() noexcept {
  if (!rung_.exchange(false, std::memory_order_seq_cst)) return false;
  std::uint64_t count = 0;
  (void)!::read(fd_, &count, sizeof(count));
  return true;
}

// ---- QueueWakeup ----

namespace {

std::string queue_name(const QueueWakeup::Queue& q, const rte_eth_dev_info& info) {
  char name[RTE_ETH_NAME_MAX_LEN] = "?";
  (void)rte_eth_dev_get_name_by_port(q.port_id, name);
  return std::string(name) + " (" + (info.driver_name ? info.driver_name : "?") + ") RX queue " +
         std::to_string(q.rx_queue);
}

}  // namespace

Result<std::unique_ptr<QueueWakeup>> QueueWakeup::create(std::span<const Queue> queues,
                                                         std::span<const ProcessSocket> sockets) {
  std::unique_ptr<QueueWakeup> w(new QueueWakeup());
  w->epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (w->epoll_fd_ < 0) return Error{std::string("epoll_create1: ") + std::strerror(errno)};
  std::vector<int> added;
  auto add = [&](int fd) -> bool {
    if (std::find(added.begin(), added.end(), fd) != added.end()) return true;
    epoll_event ev{};
    ev.events = EPOLLIN;  // level-triggered
    ev.data.fd = fd;
    if (::epoll_ctl(w->epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
    added.push_back(fd);
    return true;
  };
  if (!add(w->doorbell_.fd())) {
    return Error{std::string("epoll_ctl on the doorbell: ") + std::strerror(errno)};
  }
  for (const Queue& q : queues) {
    rte_eth_dev_info info{};
    if (int ret = rte_eth_dev_info_get(q.port_id, &info); ret != 0) {
      return Error{"port " + std::to_string(q.port_id) + ": rte_eth_dev_info_get failed"};
    }
    const std::string name = queue_name(q, info);
    std::vector<int> fds;
    std::string how;
    switch (wake_source(info.driver_name != nullptr ? info.driver_name : "")) {
      case WakeSource::rx_interrupt: {
        const int fd = rte_eth_dev_rx_intr_ctl_q_get_fd(q.port_id, q.rx_queue);
        if (fd < 0) return Error{name + ": no Rx interrupt fd (opened without rx_interrupts?)"};
        fds.push_back(fd);
        w->interrupt_queues_.push_back(q);
        how = "rx interrupt";
        break;
      }
      case WakeSource::packet_socket:
        fds = packet_sockets_of(sockets, static_cast<int>(info.if_index));
        if (fds.empty()) {
          return Error{name + ": no AF_PACKET socket of this process is bound to ifindex " +
                       std::to_string(info.if_index)};
        }
        how = std::to_string(fds.size()) + " packet socket" + (fds.size() == 1 ? "" : "s");
        break;
      case WakeSource::xdp_socket:
        fds = xdp_sockets_of(sockets);
        if (fds.empty()) return Error{name + ": this process has no XDP socket"};
        how = std::to_string(fds.size()) + " XDP socket" + (fds.size() == 1 ? "" : "s") +
              " (of all ports)";
        break;
      case WakeSource::none: return Error{name + ": the PMD offers no descriptor to wait on"};
    }
    for (int fd : fds) {
      if (!add(fd)) return Error{name + ": epoll_ctl: " + std::strerror(errno)};
    }
    w->summary_ += (w->summary_.empty() ? "" : ", ") + name + ": " + how;
  }
  return w;
}

QueueWakeup::~QueueWakeup() {
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

void QueueWakeup::arm() noexcept {
  doorbell_.clear();
  // net_tap has no enable op (-ENOTSUP: its fd is always live); a PMD with real Rx
  // interrupts needs them on before the last look (examples/l3fwd-power's order).
  for (const Queue& q : interrupt_queues_) (void)rte_eth_dev_rx_intr_enable(q.port_id, q.rx_queue);
}

bool QueueWakeup::wait(int timeout_ms) noexcept {
  std::array<epoll_event, 8> events{};
  return ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout_ms) > 0;
}

void QueueWakeup::disarm() noexcept {
  for (const Queue& q : interrupt_queues_) {
    (void)rte_eth_dev_rx_intr_disable(q.port_id, q.rx_queue);
  }
}

}  // namespace strait::dp
