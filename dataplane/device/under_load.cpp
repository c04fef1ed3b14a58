#include "device/under_load.hpp"

namespace strait::wg {

bool UnderLoad::observe(std::size_t queued, std::size_t capacity, Time now) {
  // A queue of fewer than 8 slots still goes under load when full.
  const std::size_t threshold = capacity >= kQueueFraction ? capacity / kQueueFraction : capacity;
  if (capacity != 0 && queued >= threshold) {
    last_loaded_ = now;
  } else if (last_loaded_ && now >= *last_loaded_ + kHold) {
    last_loaded_.reset();
  }
  under_load_ = last_loaded_.has_value();
  return under_load_;
}

}  // namespace strait::wg
