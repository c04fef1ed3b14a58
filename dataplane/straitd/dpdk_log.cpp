#include "straitd/dpdk_log.hpp"

#include <rte_log.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <string>
#include <string_view>

namespace strait::straitd {

namespace {

spdlog::level::level_enum level_of_current_message() {
  switch (rte_log_cur_msg_loglevel()) {
    case RTE_LOG_EMERG:
    case RTE_LOG_ALERT:
    case RTE_LOG_CRIT: return spdlog::level::critical;
    case RTE_LOG_ERR: return spdlog::level::err;
    case RTE_LOG_WARNING: return spdlog::level::warn;
    case RTE_LOG_NOTICE:
    case RTE_LOG_INFO: return spdlog::level::info;
    default: return spdlog::level::debug;
  }
}

// One partial line per thread: DPDK may write a message in pieces (fprintf calls).
thread_local std::string pending;

ssize_t write_lines(void* /*cookie*/, const char* data, size_t size) {
  pending.append(data, size);
  std::size_t start = 0;
  for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
    const std::string_view line(pending.data() + start, nl - start);
    if (!line.empty()) spdlog::log(level_of_current_message(), "dpdk: {}", line);
  }
  pending.erase(0, start);
  return static_cast<ssize_t>(size);
}

}  // namespace

void route_dpdk_logs_to_spdlog() {
  cookie_io_functions_t io{};
  io.write = write_lines;
  FILE* stream = fopencookie(nullptr, "w", io);
  if (stream == nullptr) return;  // DPDK keeps writing to stderr
  setvbuf(stream, nullptr, _IOLBF, 0);
  rte_openlog_stream(stream);
}

}  // namespace strait::straitd
