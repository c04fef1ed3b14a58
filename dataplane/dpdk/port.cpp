#include "dpdk/port.hpp"

#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <spdlog/spdlog.h>

#include "dpdk/queue_wakeup.hpp"

namespace strait::dp {
namespace {

std::string errno_text(int ret) { return rte_strerror(ret < 0 ? -ret : ret); }

// Finds an ethdev matching `devargs`: by the device name (the part before the first comma,
// which is how vdevs and PCI devices name their single ethdev), else through the devargs
// iterator (devices with several ports per PCI function name theirs differently).
bool find_port(const std::string& devargs, std::uint16_t& port_id) {
  std::string name = devargs.substr(0, devargs.find(','));
  if (rte_eth_dev_get_port_by_name(name.c_str(), &port_id) == 0) return true;
  rte_dev_iterator it{};
  if (rte_eth_iterator_init(&it, devargs.c_str()) != 0) return false;
  std::uint16_t id = rte_eth_iterator_next(&it);
  if (id == RTE_MAX_ETHPORTS) return false;
  rte_eth_iterator_cleanup(&it);
  port_id = id;
  return true;
}

}  // namespace

std::string Port::describe() const {
  return "port " + name_ + " (" + devargs_.substr(0, devargs_.find(',')) +
         (driver_.empty() ? "" : ", " + driver_) + ")";
}

Result<std::unique_ptr<Port>> Port::open(const PortSpec& spec) {
  std::unique_ptr<Port> p(new Port());
  p->name_ = spec.name;
  p->devargs_ = spec.devargs;
  if (spec.devargs.empty()) return Error{"port " + spec.name + ": empty devargs"};
  if (spec.mempool == nullptr) return Error{p->describe() + ": no mempool given"};
  if (spec.n_rx_queues == 0 || spec.n_tx_queues == 0) {
    return Error{p->describe() + ": needs at least one RX and one TX queue"};
  }

  if (!find_port(spec.devargs, p->port_id_)) {
    int ret = rte_dev_probe(spec.devargs.c_str());
    if (ret < 0) {
      return Error{"port " + spec.name + ": cannot open device '" + spec.devargs +
                   "': " + errno_text(ret) +
                   " (a PCI address must be bound to vfio-pci; a vdev name starts with its "
                   "driver: net_tap, net_af_xdp, net_af_packet, net_ring, net_null)"};
    }
    p->hotplugged_ = true;
    if (!find_port(spec.devargs, p->port_id_)) {
      // Probed, yet no ethdev: not a network device. Undo the probe by name.
      std::string name = spec.devargs.substr(0, spec.devargs.find(','));
      (void)rte_eal_hotplug_remove("vdev", name.c_str());
      return Error{"port " + spec.name + ": device '" + spec.devargs +
                   "' was probed but created no ethdev"};
    }
  }
  p->have_port_ = true;

  rte_eth_dev_info info{};
  if (int ret = rte_eth_dev_info_get(p->port_id_, &info); ret != 0) {
    return Error{p->describe() + ": rte_eth_dev_info_get: " + errno_text(ret)};
  }
  p->device_ = info.device;
  p->driver_ = info.driver_name != nullptr ? info.driver_name : "";
  int socket = rte_eth_dev_socket_id(p->port_id_);
  p->socket_ = socket < 0 ? 0 : socket;  // SOCKET_ID_ANY for vdevs: use socket 0's memory

  if (info.max_rx_queues < spec.n_rx_queues) {
    return Error{p->describe() + " supports " + std::to_string(info.max_rx_queues) +
                 " RX queues, straitd needs " + std::to_string(spec.n_rx_queues) +
                 " (one per worker lcore)"};
  }
  if (info.max_tx_queues < spec.n_tx_queues) {
    return Error{p->describe() + " supports " + std::to_string(info.max_tx_queues) +
                 " TX queues, straitd needs " + std::to_string(spec.n_tx_queues) +
                 " (one per worker lcore)"};
  }

  rte_eth_conf conf{};
  if (spec.n_rx_queues > 1) {
    // Spread flows over the workers' queues; only the hash types the device can compute.
    std::uint64_t rss_hf =
        (RTE_ETH_RSS_IP | RTE_ETH_RSS_UDP | RTE_ETH_RSS_TCP) & info.flow_type_rss_offloads;
    if (rss_hf != 0) {
      conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
      conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
      p->rss_ = true;
    } else {
      spdlog::info("{}: no RSS, each of its {} RX queues gets what the device gives it",
                   p->describe(), spec.n_rx_queues);
    }
  }
  if (spec.rx_interrupts && wake_source(p->driver_) == WakeSource::rx_interrupt) {
    conf.intr_conf.rxq = 1;
  }
  std::uint64_t tx_wanted = RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
  conf.txmode.offloads = tx_wanted & info.tx_offload_capa;
  p->tx_offloads_.ipv4_cksum = (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
  p->tx_offloads_.udp_cksum = (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;

  if (int ret = rte_eth_dev_configure(p->port_id_, spec.n_rx_queues, spec.n_tx_queues, &conf);
      ret != 0) {
    return Error{p->describe() + ": rte_eth_dev_configure with " +
                 std::to_string(spec.n_rx_queues) + " RX / " + std::to_string(spec.n_tx_queues) +
                 " TX queues: " + errno_text(ret)};
  }
  p->n_rx_ = spec.n_rx_queues;
  p->n_tx_ = spec.n_tx_queues;

  if (int ret = rte_eth_dev_set_mtu(p->port_id_, spec.mtu); ret != 0) {
    // net_ring, net_null and some others have no MTU to set; the frames still pass.
    spdlog::warn("{}: cannot set MTU {} ({}), keeping the device's", p->describe(), spec.mtu,
                 errno_text(ret));
  }
  if (rte_eth_dev_get_mtu(p->port_id_, &p->mtu_) != 0) p->mtu_ = spec.mtu;

  std::uint16_t nb_rxd = spec.rx_ring_size;
  std::uint16_t nb_txd = spec.tx_ring_size;
  if (int ret = rte_eth_dev_adjust_nb_rx_tx_desc(p->port_id_, &nb_rxd, &nb_txd); ret != 0) {
    return Error{p->describe() + ": rte_eth_dev_adjust_nb_rx_tx_desc: " + errno_text(ret)};
  }
  rte_eth_rxconf rxconf = info.default_rxconf;
  rxconf.offloads = conf.rxmode.offloads;
  for (std::uint16_t q = 0; q < spec.n_rx_queues; ++q) {
    if (int ret = rte_eth_rx_queue_setup(p->port_id_, q, nb_rxd, p->socket_, &rxconf, spec.mempool);
        ret != 0) {
      return Error{p->describe() + ": RX queue " + std::to_string(q) +
                   " setup: " + errno_text(ret)};
    }
  }
  rte_eth_txconf txconf = info.default_txconf;
  txconf.offloads = conf.txmode.offloads;
  for (std::uint16_t q = 0; q < spec.n_tx_queues; ++q) {
    if (int ret = rte_eth_tx_queue_setup(p->port_id_, q, nb_txd, p->socket_, &txconf); ret != 0) {
      return Error{p->describe() + ": TX queue " + std::to_string(q) +
                   " setup: " + errno_text(ret)};
    }
  }

  if (int ret = rte_eth_dev_start(p->port_id_); ret != 0) {
    return Error{p->describe() + ": rte_eth_dev_start: " + errno_text(ret)};
  }
  p->started_ = true;

  if (spec.promiscuous) {
    if (int ret = rte_eth_promiscuous_enable(p->port_id_); ret != 0) {
      spdlog::warn("{}: cannot enable promiscuous mode ({})", p->describe(), errno_text(ret));
    }
  }
  if (int ret = rte_eth_macaddr_get(p->port_id_, &p->mac_); ret != 0) {
    return Error{p->describe() + ": rte_eth_macaddr_get: " + errno_text(ret)};
  }
  return p;
}

Port::~Port() {
  if (!have_port_) return;
  if (started_) {
    if (int ret = rte_eth_dev_stop(port_id_); ret != 0) {
      spdlog::warn("{}: rte_eth_dev_stop: {}", describe(), errno_text(ret));
    }
  }
  if (int ret = rte_eth_dev_close(port_id_); ret != 0) {
    spdlog::warn("{}: rte_eth_dev_close: {}", describe(), errno_text(ret));
  }
  if (hotplugged_ && device_ != nullptr) {
    if (int ret = rte_dev_remove(device_); ret != 0) {
      spdlog::warn("{}: rte_dev_remove: {}", describe(), errno_text(ret));
    }
  }
}

}  // namespace strait::dp
