// fcam::dist::nccl_world(): NCCL over the ranks of the MPI world, one process per GPU.
//
// The NCCL communicator is created non-blocking (ncclConfig_t::blocking = 0), so that no NCCL
// call can hang this process: every call is followed by polling ncclCommGetAsyncError, and every
// collective by polling its CUDA event, both against the deadline. At the deadline the
// communicator is aborted (ncclCommAbort) and a barrier over MPI, which has its own timeout and
// names the ranks it does not hear from, tells which rank is missing.
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstddef>
#include <exception>
#include <optional>
#include <string>
#include <thread>

#include "collective_queue.hpp"
#include "fcam/dist/nccl.hpp"

namespace fcam::dist {
namespace {

using Clock = std::chrono::steady_clock;

void check_cuda(cudaError_t e, const char* call) {
  if (e != cudaSuccess) throw Error(std::string("NCCL world: ") + call + " failed: " + cudaGetErrorString(e));
}

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    case DType::i64: return ncclInt64;
    case DType::bytes: return ncclUint8;
  }
  return ncclUint8;
}

class NcclWorld final : public Communicator {
public:
  explicit NcclWorld(MpiOptions options) : mpi_(mpi_world(options)), options_(options) {
    int devices = 0;
    check_cuda(cudaGetDeviceCount(&devices), "cudaGetDeviceCount");
    FCAM_CHECK(devices > 0, "NCCL world: ", mpi_->describe(mpi_->rank()), " sees no GPU");
    FCAM_CHECK(mpi_->local_size() <= devices, "NCCL world: ", mpi_->local_size(), " ranks on the machine of ",
               mpi_->describe(mpi_->rank()), " but ", devices, " GPU(s); NCCL needs one GPU per rank");
    device_ = mpi_->local_rank();
    check_cuda(cudaSetDevice(device_), "cudaSetDevice");
    ncclUniqueId id{};
    if (mpi_->is_root()) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    mpi_->broadcast(std::span<std::byte>(reinterpret_cast<std::byte*>(&id), sizeof id));
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    check_nccl(ncclCommInitRankConfig(&comm_, mpi_->size(), id, mpi_->rank(), &config), "ncclCommInitRankConfig");
    settle("ncclCommInitRankConfig", Clock::now() + timeout());
    check_cuda(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
    check_cuda(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming), "cudaEventCreateWithFlags");
    queue_.emplace([this](const Collective& c, std::int64_t) { run(c); });
  }

  ~NcclWorld() override {
    queue_->stop();
    if (queue_->failed() || std::uncaught_exceptions() > 0) {
      ncclCommAbort(comm_);
    } else {
      // Finalize flushes what is in flight (polled, the communicator is non-blocking).
      const ncclResult_t finalizing = ncclCommFinalize(comm_);
      if (finalizing == ncclSuccess || finalizing == ncclInProgress) {
        ncclResult_t state = ncclInProgress;
        const auto deadline = Clock::now() + timeout();
        while (state == ncclInProgress && Clock::now() < deadline) ncclCommGetAsyncError(comm_, &state);
      }
      ncclCommDestroy(comm_);
    }
    cudaEventDestroy(done_);
    cudaStreamDestroy(stream_);
  }

  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }
  int local_rank() const override { return mpi_->local_rank(); }
  int local_size() const override { return mpi_->local_size(); }
  std::string describe(int r) const override { return mpi_->describe(r); }
  std::string backend() const override { return "NCCL " + std::to_string(NCCL_MAJOR) + "." + std::to_string(NCCL_MINOR); }

  Pending start(const Collective& c) override {
    if (c.count > 0 && c.data && c.kind != Collective::Kind::barrier) {
      cudaPointerAttributes attributes{};
      const bool known = cudaPointerGetAttributes(&attributes, c.data) == cudaSuccess;
      cudaGetLastError();  // a host pointer may leave an error behind on older runtimes
      FCAM_CHECK(known && (attributes.type == cudaMemoryTypeDevice || attributes.type == cudaMemoryTypeManaged),
                 "NCCL world: ", kind_name(c.kind), " of host memory; NCCL collectives move GPU memory");
    }
    return queue_->submit(c);
  }

  void abort(int code) override {
    ncclCommAbort(comm_);
    mpi_->abort(code);
  }

private:
  Clock::duration timeout() const {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(options_.timeout_seconds));
  }

  void check_nccl(ncclResult_t r, const char* call) {
    if (r != ncclSuccess && r != ncclInProgress)
      throw Error(std::string("NCCL world: ") + call + " failed on " + mpi_->describe(mpi_->rank()) + ": " +
                  ncclGetErrorString(r) + " (" + ncclGetLastError(comm_) + ")");
  }

  // Polls the non-blocking communicator until the last call has been taken in (not ncclInProgress).
  void settle(const char* call, Clock::time_point deadline) {
    ncclResult_t state = ncclInProgress;
    while (true) {
      check_nccl(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError");
      if (state != ncclInProgress) break;
      if (Clock::now() >= deadline) timed_out(call);
      std::this_thread::yield();
    }
    check_nccl(state, call);
  }

  [[noreturn]] void timed_out(const char* what) {
    ncclCommAbort(comm_);
    std::string why;
    try {
      mpi_->barrier();  // every rank answers: the NCCL operation itself does not progress
      why = "every rank answers over MPI: the NCCL operation itself does not progress";
    } catch (const std::exception& e) {
      why = e.what();  // names the ranks that did not answer
    }
    throw Error(std::string("NCCL ") + what + " on " + mpi_->describe(mpi_->rank()) + " (GPU " +
                std::to_string(device_) + ") did not finish within the timeout; the communicator was aborted. " + why);
  }

  void run(const Collective& c) {
    check_cuda(cudaSetDevice(device_), "cudaSetDevice");  // the device is per thread
    if (c.kind == Collective::Kind::barrier) {
      check_cuda(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
      mpi_->barrier();
      return;
    }
    const auto deadline = Clock::now() + timeout();
    const auto count = static_cast<std::size_t>(c.count);
    if (c.kind == Collective::Kind::all_reduce_sum)
      check_nccl(ncclAllReduce(c.data, c.data, count, nccl_type(c.type), ncclSum, comm_, stream_), "ncclAllReduce");
    else
      check_nccl(ncclBroadcast(c.data, c.data, count, nccl_type(c.type), c.root, comm_, stream_), "ncclBroadcast");
    settle(kind_name(c.kind), deadline);
    check_cuda(cudaEventRecord(done_, stream_), "cudaEventRecord");
    while (true) {
      const cudaError_t e = cudaEventQuery(done_);
      if (e == cudaSuccess) return;
      if (e != cudaErrorNotReady) check_cuda(e, "cudaEventQuery");
      ncclResult_t state = ncclSuccess;
      check_nccl(ncclCommGetAsyncError(comm_, &state), "ncclCommGetAsyncError");
      check_nccl(state, kind_name(c.kind));
      if (Clock::now() >= deadline) timed_out(kind_name(c.kind));
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }

  std::unique_ptr<Communicator> mpi_;
  MpiOptions options_;
  int device_ = 0;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  cudaEvent_t done_ = nullptr;
  std::optional<CollectiveQueue> queue_;  // started last, once NCCL is set up
};

}  // namespace

std::unique_ptr<Communicator> nccl_world(MpiOptions options) { return std::make_unique<NcclWorld>(options); }

}  // namespace fcam::dist
