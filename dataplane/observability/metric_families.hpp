#pragma once
// Building prometheus-cpp metric families from a snapshot of values, for collectables that read
// their numbers at scrape time (straitd's data plane, strait-agent's snapshot) instead of
// keeping prometheus::Counter objects up to date.

#include <prometheus/metric_family.h>

#include <string>
#include <utility>
#include <vector>

namespace strait::observe {

using Labels = std::vector<prometheus::ClientMetric::Label>;

// Appends an empty family to `out` and returns it (valid until the next append).
inline prometheus::MetricFamily& add_family(std::vector<prometheus::MetricFamily>& out,
                                            std::string name, std::string help,
                                            prometheus::MetricType type) {
  prometheus::MetricFamily& f = out.emplace_back();
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

// One series of a counter or gauge family.
inline void add_series(prometheus::MetricFamily& f, Labels labels, double value) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (f.type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
}

}  // namespace strait::observe
