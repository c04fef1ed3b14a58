#pragma once
// Port: one DPDK ethdev (the wire or the bridge port), from its devargs to a started device
// with its RX/TX queues. Opened and closed by straitd's main thread; the worker lcores only
// call rte_eth_rx_burst/tx_burst on the queues assigned to them.

#include <rte_ether.h>
#include <rte_mempool.h>

#include <cstdint>
#include <memory>
#include <string>

#include "base/result.hpp"

struct rte_device;

namespace strait::dp {

struct PortSpec {
  std::string name;  // "wire" or "bridge": only for messages
  // A PCI address ("0000:3b:00.1", probed by the EAL or hot-plugged here) or a vdev with its
  // arguments ("net_tap0,iface=strait0", "net_af_xdp0,iface=eth1,start_queue=0,queue_count=1",
  // "net_af_packet0,iface=veth1", "net_ring0").
  std::string devargs;
  std::uint16_t n_rx_queues = 1;
  std::uint16_t n_tx_queues = 1;
  std::uint16_t rx_ring_size = 1024;  // descriptors, adjusted to the device's limits
  std::uint16_t tx_ring_size = 1024;
  std::uint16_t mtu = 1500;  // L3 MTU; PMDs that cannot set it keep theirs (logged)
  bool promiscuous = false;  // the bridge port must see every pod's MAC
  // Turn on Rx queue interrupts (intr_conf.rxq) where the PMD's wake source is one
  // (queue_wakeup.hpp: net_tap), so that an idle worker can wait on its queues.
  bool rx_interrupts = false;
  rte_mempool* mempool = nullptr;  // RX buffers; must outlive the port
};

// TX offloads the device has and we enabled; the encap stage fills checksums in software
// when a bit is false.
struct TxOffloads {
  bool ipv4_cksum = false;
  bool udp_cksum = false;
};

class Port {
 public:
  // Finds the ethdev named by spec.devargs (already probed by the EAL, e.g. a PCI device on
  // the allow list) or hot-plugs it with rte_dev_probe, then configures it (RSS over the RX
  // queues when there are several and the device can), sets the MTU, enables the TX checksum
  // offloads it has, sets up the queues on the device's NUMA socket, starts it.
  [[nodiscard]] static Result<std::unique_ptr<Port>> open(const PortSpec& spec);

  // Stops and closes the ethdev; removes the device if open() hot-plugged it.
  ~Port();
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  [[nodiscard]] std::uint16_t port_id() const { return port_id_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] const std::string& devargs() const { return devargs_; }
  [[nodiscard]] const std::string& driver_name() const { return driver_; }
  [[nodiscard]] int socket_id() const { return socket_; }
  [[nodiscard]] const rte_ether_addr& mac() const { return mac_; }
  [[nodiscard]] std::uint16_t n_rx_queues() const { return n_rx_; }
  [[nodiscard]] std::uint16_t n_tx_queues() const { return n_tx_; }
  [[nodiscard]] bool rss_enabled() const { return rss_; }
  [[nodiscard]] std::uint16_t mtu() const { return mtu_; }
  [[nodiscard]] const TxOffloads& tx_offloads() const { return tx_offloads_; }
  // "port wire (net_ring0, net_ring)": the prefix of every message about this port.
  [[nodiscard]] std::string describe() const;

 private:
  Port() = default;
  std::string name_;
  std::string devargs_;
  rte_device* device_ = nullptr;  // what rte_dev_remove needs when hotplugged_
  std::string driver_;
  std::uint16_t port_id_ = 0;
  int socket_ = 0;
  rte_ether_addr mac_{};
  std::uint16_t n_rx_ = 0;
  std::uint16_t n_tx_ = 0;
  std::uint16_t mtu_ = 0;
  bool rss_ = false;
  bool hotplugged_ = false;
  bool have_port_ = false;
  bool started_ = false;
  TxOffloads tx_offloads_;
};

}  // namespace strait::dp
