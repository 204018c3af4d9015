/// \file
/// \brief dist::GradientReducer: averages parameter gradients over the ranks of a Communicator,
/// in buckets of about 25 MB taken in reverse layer order, each bucket's all-reduce started as
/// soon as backward has finished its gradients, so that communication overlaps the rest of
/// backward.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <span>
#include <vector>

#include "fcam/dist/communicator.hpp"
#include "fcam/nn/module.hpp"

namespace fcam::dist {

/// Settings of gradient averaging.
struct ReducerOptions {
  std::int64_t bucket_bytes = 25 << 20;  ///< a bucket closes once it holds this many bytes
  bool overlap = true;                   ///< start buckets during backward (else all at the end)
};

/// Averages the gradients of a fixed list of parameters over the ranks. Use: construct once with
/// the trained parameters in forward order; each step run backward, then finish() before the
/// optimiser's update. With overlap on, each parameter's nn::Parameter::on_grad_ready is taken
/// for the reducer's lifetime: when the last gradient of a bucket is ready, the bucket is copied
/// into its flat buffer and its all-reduce starts on the communication thread while backward
/// goes on. Buckets start strictly in order (the same order on every rank, as collectives need);
/// finish() starts those not started yet, waits for all, and writes the averages back.
///
/// A world of one does nothing. CPU tensors only.
class GradientReducer {
public:
  GradientReducer(Communicator& comm, std::vector<nn::Parameter<float>*> params, ReducerOptions options = {})
      : comm_(comm) {
    FCAM_CHECK(options.bucket_bytes > 0, "GradientReducer: the bucket size must be > 0 bytes");
    if (comm.size() == 1) return;
    // Backward produces the gradients of the last layers first: the buckets follow it.
    std::int64_t bytes = options.bucket_bytes;
    for (auto it = params.rbegin(); it != params.rend(); ++it) {
      nn::Parameter<float>* p = *it;
      FCAM_CHECK(p->value.device() == Device::cpu, "GradientReducer: parameters must be on the CPU");
      if (bytes >= options.bucket_bytes) buckets_.emplace_back(), bytes = 0;
      buckets_.back().params.push_back(p);
      bytes += p->value.numel() * static_cast<std::int64_t>(sizeof(float));
    }
    for (std::size_t k = 0; k < buckets_.size(); ++k) {
      Bucket& b = buckets_[k];
      std::int64_t n = 0;
      for (auto* p : b.params) n += p->value.numel();
      b.flat.resize(static_cast<std::size_t>(n));
      b.pending = static_cast<std::int64_t>(b.params.size());
      if (options.overlap)
        for (auto* p : b.params) p->on_grad_ready = [this, k] { ready(k); };
    }
  }
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;
  ~GradientReducer() {
    for (Bucket& b : buckets_)
      for (auto* p : b.params) p->on_grad_ready = nullptr;
  }

  /// Starts the buckets not started yet, waits for every bucket and replaces each gradient by
  /// its mean over the ranks. Call after backward, before the update; every rank calls it.
  void finish() {
    while (next_ < buckets_.size()) start(next_++);
    const auto begin = std::chrono::steady_clock::now();
    for (Bucket& b : buckets_) b.reduced.wait();
    wait_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
    const float scale = 1.0f / static_cast<float>(comm_.size());
    for (Bucket& b : buckets_) {
      const float* from = b.flat.data();
      for (auto* p : b.params) {
        float* g = p->grad.data();
        for (std::int64_t i = 0; i < p->grad.numel(); ++i) g[i] = from[i] * scale;
        from += p->grad.numel();
      }
      b.pending = static_cast<std::int64_t>(b.params.size());
    }
    next_ = 0;
  }

  /// Number of buckets (0 in a world of one).
  std::size_t bucket_count() const { return buckets_.size(); }
  /// Seconds finish() has spent waiting for all-reduces to complete, over all steps: the
  /// communication that backward did not hide.
  double wait_seconds() const { return wait_seconds_; }
  /// Buckets started during backward (before finish()), over all steps.
  std::int64_t buckets_overlapped() const { return overlapped_; }

private:
  struct Bucket {
    std::vector<nn::Parameter<float>*> params;
    std::vector<float> flat;
    std::int64_t pending = 0;  // gradients of the step not ready yet
    Pending reduced;
  };

  void ready(std::size_t k) {
    Bucket& b = buckets_[k];
    if (b.pending > 0) --b.pending;
    while (next_ < buckets_.size() && buckets_[next_].pending == 0) {
      start(next_++);
      ++overlapped_;
    }
  }

  void start(std::size_t k) {
    Bucket& b = buckets_[k];
    float* to = b.flat.data();
    for (auto* p : b.params) {
      FCAM_CHECK(p->grad.numel() == p->value.numel(), "GradientReducer: a parameter has no gradient");
      const float* g = p->grad.data();
      std::copy(g, g + p->grad.numel(), to);
      to += p->grad.numel();
    }
    b.reduced = comm_.all_reduce_sum_async(std::span<float>(b.flat));
  }

  Communicator& comm_;
  std::vector<Bucket> buckets_;
  std::size_t next_ = 0;  // the next bucket to start
  double wait_seconds_ = 0;
  std::int64_t overlapped_ = 0;
};

}  // namespace fcam::dist
