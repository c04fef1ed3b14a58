#pragma once
// --log-format json (straitd, strait-agent): one JSON object per log record, for log
// collectors that parse fields instead of lines:
//   {"ts":"2026-12-04T04:40:01.123456Z","level":"info","logger":"straitd","msg":"..."}
// ts is ISO 8601 in UTC with microseconds; msg is escaped per RFC 8259 (quotes, backslash,
// control characters as \uXXXX; other bytes pass through, so UTF-8 stays UTF-8).

#include <spdlog/formatter.h>

#include <memory>
#include <string>
#include <string_view>

namespace strait::observe {

class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override;
};

// Appends `text` to `out` as the inside of a JSON string.
void append_json_escaped(std::string& out, std::string_view text);

// Makes every sink of the default logger write JSON records.
void use_json_logs();

}  // namespace strait::observe
