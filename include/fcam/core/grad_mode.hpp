/// \file
/// \brief Whether modules keep what their backward needs; NoGradGuard turns it off for inference.
#pragma once

namespace fcam {

namespace detail {
inline bool& grad_enabled_slot() {
  thread_local bool enabled = true;
  return enabled;
}
}  // namespace detail

/// True when forward passes on this thread cache what backward needs (the default).
inline bool grad_enabled() { return detail::grad_enabled_slot(); }

/// RAII: disables caching for backward on this thread while alive (inference uses less memory).
class NoGradGuard {
public:
  NoGradGuard() : previous_(detail::grad_enabled_slot()) { detail::grad_enabled_slot() = false; }
  ~NoGradGuard() { detail::grad_enabled_slot() = previous_; }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
  bool previous_;
};

}  // namespace fcam
