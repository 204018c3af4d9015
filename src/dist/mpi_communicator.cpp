// fcam::dist::mpi_world(): MPI_COMM_WORLD behind fcam::dist::Communicator.
//
// Every MPI call after initialisation runs on one communication thread (MPI_THREAD_SERIALIZED,
// collective_queue.hpp), which takes the started collectives in order. Each runs as a non-blocking MPI operation polled
// against a deadline, so that a rank that died or stalls cannot hang the others: at the deadline
// the waiting ranks tell each other that they wait (on a duplicate of the world, so the messages
// cannot mix with a collective's) and each names the ranks it did not hear from.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <optional>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "collective_queue.hpp"
#include "fcam/dist/mpi.hpp"

namespace fcam::dist {
namespace {

using Clock = std::chrono::steady_clock;

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i64: return MPI_INT64_T;
    case DType::bytes: return MPI_BYTE;
  }
  return MPI_BYTE;
}

std::size_t element_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i64: return 8;
    case DType::bytes: return 1;
  }
  return 1;
}

std::string mpi_error_text(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, static_cast<std::size_t>(length));
}

void check_mpi(int code, const char* call) {
  if (code != MPI_SUCCESS) throw Error(std::string("MPI: ") + call + " failed: " + mpi_error_text(code));
}

class MpiWorld final : public Communicator {
public:
  explicit MpiWorld(MpiOptions options) : options_(options) {
    FCAM_CHECK(options.timeout_seconds > 0, "MPI world: the timeout must be > 0 seconds, got ",
               options.timeout_seconds);
    int initialised = 0;
    MPI_Initialized(&initialised);
    FCAM_CHECK(!initialised, "MPI world: MPI is already initialised (make one world per process)");
    int provided = 0;
    check_mpi(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
    if (provided < MPI_THREAD_SERIALIZED) {
      MPI_Finalize();
      throw Error("MPI world: this MPI library does not support calls from a second thread (MPI_THREAD_SERIALIZED)");
    }
    // Errors come back as codes (and become fcam::Error) instead of aborting the job silently.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &fault_comm_), "MPI_Comm_dup");
    MPI_Comm node;
    check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
              "MPI_Comm_split_type");
    MPI_Comm_rank(node, &local_rank_);
    MPI_Comm_size(node, &local_size_);
    MPI_Comm_free(&node);
    char name[MPI_MAX_PROCESSOR_NAME] = {};
    int length = 0;
    MPI_Get_processor_name(name, &length);
    std::vector<char> all(static_cast<std::size_t>(size_) * MPI_MAX_PROCESSOR_NAME);
    check_mpi(MPI_Allgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR,
                            MPI_COMM_WORLD),
              "MPI_Allgather");
    for (int r = 0; r < size_; ++r) {
      const char* h = &all[static_cast<std::size_t>(r) * MPI_MAX_PROCESSOR_NAME];
      hosts_.emplace_back(h, strnlen(h, MPI_MAX_PROCESSOR_NAME));
    }
    queue_.emplace([this](const Collective& c, std::int64_t serial) { run(c, serial); });
  }

  ~MpiWorld() override {
    queue_->stop();
    // After a failed collective, or while an error unwinds this rank, the other ranks may be
    // inside a collective that will never complete: end the whole job instead of finalising.
    if (queue_->failed() || std::uncaught_exceptions() > 0) MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Comm_free(&fault_comm_);
    MPI_Finalize();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string describe(int r) const override {
    return "rank " + std::to_string(r) + " on " + hosts_.at(static_cast<std::size_t>(r));
  }
  std::string backend() const override { return "MPI"; }

  Pending start(const Collective& c) override { return queue_->submit(c); }

  void abort(int code) override { MPI_Abort(MPI_COMM_WORLD, code); }

private:
  // Runs one collective in pieces of 1 MB, one after the other. A piece stays in the caches
  // while it is sent, received and summed; a 64 MB all-reduce in one piece streams through memory
  // several times and ran at 0.8 GB/s on 2 ranks here, in 1 MB pieces at 2.9 GB/s (0.25 MB:
  // 2.4, 4 MB: 2.2; docs/distributed.md).
  void run(const Collective& c, std::int64_t serial) {
    const std::int64_t piece = piece_bytes / static_cast<std::int64_t>(element_size(c.type));
    auto* bytes = static_cast<char*>(c.data);
    std::int64_t at = 0;
    do {
      const int n = static_cast<int>(std::min(piece, c.count - at));
      void* data = bytes + static_cast<std::size_t>(at) * element_size(c.type);
      MPI_Request request = MPI_REQUEST_NULL;
      int code = MPI_SUCCESS;
      switch (c.kind) {
        case Collective::Kind::all_reduce_sum:
          code = MPI_Iallreduce(MPI_IN_PLACE, data, n, mpi_type(c.type), MPI_SUM, MPI_COMM_WORLD, &request);
          break;
        case Collective::Kind::broadcast:
          code = MPI_Ibcast(data, n, mpi_type(c.type), c.root, MPI_COMM_WORLD, &request);
          break;
        case Collective::Kind::barrier: code = MPI_Ibarrier(MPI_COMM_WORLD, &request); break;
      }
      check_mpi(code, kind_name(c.kind));
      wait_for(request, c, serial);
      at += n;
    } while (at < c.count);
  }

  // Polls `request` until it completes or the timeout passes. The first millisecond spins (small
  // messages finish there); after that it yields, then sleeps briefly, to leave the cores to the
  // computation that the collective overlaps.
  void wait_for(MPI_Request& request, const Collective& c, std::int64_t serial) {
    const auto begin = Clock::now();
    const auto deadline = begin + std::chrono::duration_cast<Clock::duration>(
                                      std::chrono::duration<double>(options_.timeout_seconds));
    while (true) {
      int complete = 0;
      check_mpi(MPI_Test(&request, &complete, MPI_STATUS_IGNORE), kind_name(c.kind));
      if (complete) return;
      const auto now = Clock::now();
      if (now >= deadline) break;
      if (now - begin < std::chrono::milliseconds(1)) continue;
      if (now - begin < std::chrono::milliseconds(20)) std::this_thread::yield();
      else std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    throw Error(detail::concat(kind_name(c.kind), " #", serial, " on ", describe(rank_), " waited ",
                               options_.timeout_seconds, " s for the other ranks; ", silent_ranks(serial)));
  }

  // After a timeout: tells every other rank that this one waits at collective `serial`, listens
  // for the same message from them for a few seconds, and names the ranks that stayed silent
  // (dead, or stalled outside any collective) or that wait at another collective.
  std::string silent_ranks(std::int64_t serial) {
    std::vector<std::int64_t> mine(1, serial);
    std::vector<MPI_Request> sends;
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      sends.emplace_back();
      MPI_Isend(mine.data(), 1, MPI_INT64_T, r, fault_tag, fault_comm_, &sends.back());
    }
    std::set<int> waiting_here, elsewhere;
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                                             std::min(5.0, std::max(1.0, options_.timeout_seconds / 4))));
    while (static_cast<int>(waiting_here.size() + elsewhere.size()) < size_ - 1 && Clock::now() < deadline) {
      int flag = 0;
      MPI_Status status;
      MPI_Iprobe(MPI_ANY_SOURCE, fault_tag, fault_comm_, &flag, &status);
      if (!flag) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        continue;
      }
      std::int64_t theirs = 0;
      MPI_Recv(&theirs, 1, MPI_INT64_T, status.MPI_SOURCE, fault_tag, fault_comm_, MPI_STATUS_IGNORE);
      (theirs == serial ? waiting_here : elsewhere).insert(status.MPI_SOURCE);
    }
    // The sends stay pending (a dead rank never receives); the job is aborted right after.
    std::string silent, other;
    for (int r = 0; r < size_; ++r) {
      if (r == rank_ || waiting_here.count(r)) continue;
      std::string& list = elsewhere.count(r) ? other : silent;
      list += (list.empty() ? "" : ", ") + describe(r);
    }
    std::string text;
    if (!silent.empty()) text += "no answer from " + silent + " (the rank died or stalls)";
    if (!other.empty()) text += std::string(text.empty() ? "" : "; ") + other + " waits at another collective";
    if (text.empty()) text = "every rank waits here: the collective itself does not progress";
    return text;
  }

  static constexpr int fault_tag = 7401;
  static constexpr std::int64_t piece_bytes = 1 << 20;
  MpiOptions options_;
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  std::vector<std::string> hosts_;
  MPI_Comm fault_comm_ = MPI_COMM_NULL;
  std::optional<CollectiveQueue> queue_;  // started last, once MPI is set up
};

}  // namespace

std::unique_ptr<Communicator> mpi_world(MpiOptions options) { return std::make_unique<MpiWorld>(options); }

}  // namespace fcam::dist
