// xdp_drop_bench: how fast the XDP program (ebpf/strait_xdp.bpf.c) disposes of floods, run by
// the kernel itself (bpf_prog_test_run_opts with `repeat`), one core, no NIC.
//
// Every figure is also given as a ratio against a one-instruction XDP_DROP program measured in
// the same run (DESIGN.md section 8: these machines are shared and noisy); the ratio is the
// program's cost over the test-run floor. Needs root.
//
//   xdp_drop_bench [object path] [repeat]

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/packet_builder.hpp"
#include "xdp_loader.hpp"

namespace {

using strait::test::PacketBuilder;
using Bytes = std::vector<std::uint8_t>;

// r0 = XDP_DROP; exit: the cheapest possible XDP program, the floor of a test run.
int load_floor_program() {
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, XDP_DROP},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  return bpf_prog_load(BPF_PROG_TYPE_XDP, "xdp_floor", "GPL", insns, 2, nullptr);
}

// Average ns per run of prog_fd over `repeat` runs of frame, and the verdict.
double ns_per_packet(int prog_fd, const Bytes& frame, int repeat, std::uint32_t* verdict) {
  bpf_test_run_opts opts{};
  opts.sz = sizeof opts;
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<std::uint32_t>(frame.size());
  opts.repeat = repeat;
  if (const int err = bpf_prog_test_run_opts(prog_fd, &opts); err != 0) {
    std::fprintf(stderr, "bpf_prog_test_run_opts: error %d\n", err);
    std::exit(1);
  }
  if (verdict) *verdict = opts.retval;
  return opts.duration;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string object = argc > 1 ? argv[1] : STRAIT_XDP_OBJECT_BUILD;
  const int repeat = argc > 2 ? std::atoi(argv[2]) : 1'000'000;
  if (geteuid() != 0) {
    std::fprintf(stderr, "xdp_drop_bench: needs root to load and run XDP programs\n");
    return 77;
  }

  auto prog = strait::ebpf::XdpProgram::load(object);
  prog.configure({51820, false, 0});
  prog.add_live_index(7);
  const int floor_fd = load_floor_program();
  if (floor_fd < 0) {
    std::fprintf(stderr, "loading the floor program failed: %d\n", floor_fd);
    return 1;
  }

  const auto v4 = [](const char* src, std::uint16_t dport) {
    PacketBuilder b;
    b.eth().ipv4(src, "198.51.100.1").udp(40000, dport);
    return b;
  };
  Bytes bad_type(140, 0x77);
  struct Flood {
    const char* name;
    Bytes frame;
  };
  const Flood floods[] = {
      {"garbage to the tunnel port", v4("192.0.2.1", 51820).payload(bad_type).build()},
      {"data, unknown index", v4("192.0.2.1", 51820).wg_data(99, 0, 1024).build()},
      {"initiation, rate-limited", v4("192.0.2.2", 51820).wg_initiation_shaped().build()},
      {"data, live index (accepted)", v4("192.0.2.1", 51820).wg_data(7, 0, 1024).build()},
      {"other UDP (to the kernel)", v4("192.0.2.1", 53).payload(64).build()},
  };

  const double floor_ns = ns_per_packet(floor_fd, floods[0].frame, repeat, nullptr);
  std::printf("xdp_drop_bench: %d runs per case, one core; floor (1-insn XDP_DROP): %.0f ns\n",
              repeat, floor_ns);
  std::printf("%-30s %8s %8s %8s %s\n", "flood", "ns/pkt", "Mpps", "x floor", "verdict");
  for (const Flood& f : floods) {
    std::uint32_t verdict = 0;
    const double ns = ns_per_packet(prog.program_fd(), f.frame, repeat, &verdict);
    std::printf("%-30s %8.0f %8.2f %8.2f %s\n", f.name, ns, ns > 0 ? 1e3 / ns : 0.0,
                floor_ns > 0 ? ns / floor_ns : 0.0,
                verdict == XDP_DROP   ? "drop"
                : verdict == XDP_PASS ? "pass"
                                      : "other");
  }
  const auto c = prog.read_counters();
  std::printf("counters: msg_bad_type=%llu unknown_index=%llu handshake_rate_limited=%llu\n",
              static_cast<unsigned long long>(c.drop(strait::DropReason::msg_bad_type)),
              static_cast<unsigned long long>(c.drop(strait::DropReason::unknown_index)),
              static_cast<unsigned long long>(c.drop(strait::DropReason::handshake_rate_limited)));
  close(floor_fd);
  return 0;
}
