#pragma once
// DPDK's own log lines (EAL, drivers) through spdlog, so that with --log-format json every line
// straitd writes is one JSON object, DPDK's included. rte_openlog_stream takes a FILE*; a
// fopencookie stream splits what DPDK writes into lines and logs each at the level DPDK gave
// the message (rte_log_cur_msg_loglevel). Any thread that logs through DPDK may write;
// spdlog's default logger is thread-safe.

namespace strait::straitd {

// Call before the EAL starts (its first messages come from rte_eal_init). Once per process.
void route_dpdk_logs_to_spdlog();

}  // namespace strait::straitd
