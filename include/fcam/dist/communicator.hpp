/// \file
/// \brief fcam::dist::Communicator: the collectives data-parallel training needs (all-reduce sum,
/// broadcast, barrier), started asynchronously and waited for, with rank, world size and the
/// rank's place on its machine; and SingleProcess, the world of one.
///
/// Implementations: SingleProcess (here), MPI (dist/mpi.hpp, compiled in fcam::mpi when fcam is
/// built with FCAM_WITH_MPI). This header includes no MPI or NCCL header.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <future>
#include <span>
#include <string>
#include <type_traits>

#include "fcam/core/error.hpp"

namespace fcam::dist {

/// The element type of a collective's buffer.
enum class DType { f32, f64, i64, bytes };

/// The DType of T.
template <typename T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, float>) return DType::f32;
  else if constexpr (std::is_same_v<T, double>) return DType::f64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return DType::i64;
  else {
    static_assert(std::is_same_v<T, std::byte>, "collectives move float, double, int64 or bytes");
    return DType::bytes;
  }
}

/// Element types a collective can move.
template <typename T>
concept CollectiveElement = std::is_same_v<T, float> || std::is_same_v<T, double> ||
                            std::is_same_v<T, std::int64_t> || std::is_same_v<T, std::byte>;

/// One collective operation, as a back end runs it. The buffer belongs to the caller and must
/// stay valid until the operation's Pending::wait() returns.
struct Collective {
  /// What the operation does.
  enum class Kind { all_reduce_sum, broadcast, barrier };
  Kind kind = Kind::barrier;  ///< the operation
  DType type = DType::bytes;  ///< element type of `data`
  void* data = nullptr;       ///< in place: the input and the result
  std::int64_t count = 0;     ///< elements
  int root = 0;               ///< broadcast: the rank whose buffer is sent
};

/// The name of a collective's kind, for messages ("all-reduce", "broadcast", "barrier").
inline const char* kind_name(Collective::Kind k) {
  switch (k) {
    case Collective::Kind::all_reduce_sum: return "all-reduce";
    case Collective::Kind::broadcast: return "broadcast";
    case Collective::Kind::barrier: return "barrier";
  }
  return "collective";
}

/// A started collective. wait() blocks until it finished on this rank and rethrows its error
/// (a timeout naming the ranks that did not join, see docs/distributed.md). A
/// default-constructed Pending is already finished.
class Pending {
public:
  Pending() = default;
  /// Wraps the future a back end fulfils when the operation ends.
  explicit Pending(std::shared_future<void> done) : done_(std::move(done)) {}
  /// Blocks until the operation finished; throws fcam::Error when it failed.
  void wait() const {
    if (done_.valid()) done_.get();
  }
  /// True once the operation finished (successfully or not).
  bool ready() const {
    return !done_.valid() || done_.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
  }

private:
  std::shared_future<void> done_;
};

/// A group of processes (ranks 0 … size−1) that run the same program on their own data and
/// meet in collectives. Every rank must start the same collectives in the same order.
class Communicator {
public:
  virtual ~Communicator() = default;

  /// This process's rank, 0 … size()−1.
  virtual int rank() const = 0;
  /// Number of ranks.
  virtual int size() const = 0;
  /// This process's rank among the ranks on its machine.
  virtual int local_rank() const = 0;
  /// Number of ranks on this process's machine.
  virtual int local_size() const = 0;
  /// "rank R on HOST", for messages.
  virtual std::string describe(int rank) const = 0;
  /// The back end's name ("single process", "MPI").
  virtual std::string backend() const = 0;
  /// Starts `c` on this rank; runs in order with the collectives started before it.
  virtual Pending start(const Collective& c) = 0;
  /// Ends every rank's process at once with `code` (after an error on one rank, so that the
  /// others do not wait for it). Returns only in a world of one.
  virtual void abort(int code) = 0;

  /// True on rank 0, the rank that writes files and prints.
  bool is_root() const { return rank() == 0; }

  /// Starts the sum of `x` over every rank, in place (the result lands on every rank).
  template <CollectiveElement T>
  Pending all_reduce_sum_async(std::span<T> x) {
    static_assert(!std::is_same_v<T, std::byte>, "all-reduce sums numbers, not bytes");
    return start({Collective::Kind::all_reduce_sum, dtype_of<T>(), x.data(), static_cast<std::int64_t>(x.size()), 0});
  }
  /// The sum of `x` over every rank, in place.
  template <CollectiveElement T>
  void all_reduce_sum(std::span<T> x) {
    all_reduce_sum_async(x).wait();
  }
  /// Copies `root`'s `x` into every rank's `x` (same size on every rank).
  template <CollectiveElement T>
  void broadcast(std::span<T> x, int root = 0) {
    FCAM_CHECK(root >= 0 && root < size(), "broadcast: root ", root, " is not a rank of a world of ", size());
    start({Collective::Kind::broadcast, dtype_of<T>(), x.data(), static_cast<std::int64_t>(x.size()), root}).wait();
  }
  /// Returns once every rank has reached it.
  void barrier() { start({Collective::Kind::barrier, DType::bytes, nullptr, 0, 0}).wait(); }
};

/// The world of one process: every collective is already complete when it starts.
class SingleProcess final : public Communicator {
public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  int local_size() const override { return 1; }
  std::string describe(int rank) const override { return "rank " + std::to_string(rank); }
  std::string backend() const override { return "single process"; }
  Pending start(const Collective&) override { return {}; }
  void abort(int) override {}
};

}  // namespace fcam::dist
