// The pieces straitd and strait-agent share for operators: JSON log records (--log-format json)
// and the --version line.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <regex>

#include "observability/build_version.hpp"
#include "observability/json_log.hpp"
#include "observability/version.hpp"

namespace strait::observe {
namespace {

std::string log_as_json(const std::function<void(spdlog::logger&)>& write) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("straitd", sink);
  logger.set_formatter(std::make_unique<JsonLogFormatter>());
  logger.set_level(spdlog::level::trace);
  write(logger);
  logger.flush();
  return out.str();
}

TEST(JsonLog, OneObjectPerRecordWithUtcIsoTimestamp) {
  const std::string out = log_as_json([](spdlog::logger& l) {
    l.info("port {} up", "wire");
    l.warn("second");
  });
  const std::regex record(
      R"re(\{"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z","level":"(info|warning)","logger":"straitd","msg":"[^"]*"\}\n)re");
  std::smatch m;
  std::string rest = out;
  int records = 0;
  while (std::regex_search(rest, m, record, std::regex_constants::match_continuous)) {
    ++records;
    rest = m.suffix();
  }
  EXPECT_EQ(records, 2) << out;
  EXPECT_TRUE(rest.empty()) << "unparsed: " << rest;
  EXPECT_NE(out.find(R"("msg":"port wire up")"), std::string::npos) << out;
}

TEST(JsonLog, EscapesWhatJsonRequires) {
  const std::string out = log_as_json([](spdlog::logger& l) {
    l.error("a \"quoted\" \\path\\ on\ntwo lines\twith\x01 control, caf\xc3\xa9");
  });
  EXPECT_NE(out.find(R"("msg":"a \"quoted\" \\path\\ on\ntwo lines\twith\u0001 control, café")"),
            std::string::npos)
      << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << "one line per record: " << out;
}

TEST(JsonLog, EscapingTable) {
  struct Case {
    const char* in;
    const char* out;
  };
  for (const Case& c :
       {Case{"", ""}, Case{"plain", "plain"}, Case{"\"", "\\\""}, Case{"\\", "\\\\"},
        Case{"\r\n", "\\r\\n"}, Case{"\x1f", "\\u001f"}, Case{"\x7f", "\\u007f"}, Case{"/", "/"}}) {
    std::string s;
    append_json_escaped(s, c.in);
    EXPECT_EQ(s, c.out) << "input: " << c.in;
  }
}

TEST(Version, LineNamesProgramVersionAndCommit) {
  EXPECT_EQ(version_line("straitd"),
            std::string("straitd ") + STRAIT_VERSION + " (commit " + STRAIT_COMMIT + ")");
  EXPECT_TRUE(std::regex_match(std::string(STRAIT_VERSION), std::regex(R"(\d+\.\d+\.\d+)")));
  // A clone gives 12 hex digits; a tree without git, "unknown".
  EXPECT_TRUE(std::regex_match(std::string(STRAIT_COMMIT), std::regex(R"([0-9a-f]{12}|unknown)")))
      << STRAIT_COMMIT;
}

}  // namespace
}  // namespace strait::observe
