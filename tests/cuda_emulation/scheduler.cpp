// The CUDA emulation's kernel execution: the blocks of a grid run one after another on the
// launching host thread, and each block's threads are fibers that switch only at __syncthreads
// and warp operations (a few instructions of assembly below: glibc's swapcontext makes a system
// call per switch, which made the batch-norm case 60x slower). A round in which no fiber
// advances is a deadlock: a barrier that some thread of the block never reaches, or a warp
// operation whose mask names a lane that exited or waits elsewhere. Both are bugs on a GPU too
// (hangs or undefined behaviour), so the emulation stops (violation()) with a message naming the
// kernel and the block.
//
// The threads of a block run in ascending order in half of the blocks and in descending order in
// the other half, alternating from launch to launch as well (so a one-block kernel launched twice
// runs both ways). A GPU gives no order: code that reads another thread's write without a
// barrier between them is right in one order only, and then differs between the two.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include <cuda_runtime.h>

thread_local uint3 threadIdx;
thread_local uint3 blockIdx;
thread_local dim3 blockDim;
thread_local dim3 gridDim;

#if !defined(__x86_64__)
#error "the CUDA emulation's fibers switch stacks with x86-64 assembly"
#endif

// fcam_emu_switch(save, to): saves the callee-saved registers on the current stack, stores the
// stack pointer in *save, loads `to` and restores the registers saved there. A new fiber's stack
// is laid out as if it had switched away just before calling fiber_main.
extern "C" void fcam_emu_switch(void** save, void* to);
asm(R"(
  .text
  .globl fcam_emu_switch
  .type fcam_emu_switch, @function
fcam_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size fcam_emu_switch, .-fcam_emu_switch
)");

namespace fcam_emu {

namespace {

constexpr std::size_t stack_bytes = 256 * 1024;  // reserved, not touched: kernels use a few KiB

enum class Waiting { nothing, block_barrier, warp_operation };

struct Fiber {
  void* sp = nullptr;  // the saved stack pointer while switched away
  std::unique_ptr<char[]> stack;
  uint3 index{};
  unsigned linear = 0;
  bool finished = false;
  Waiting waiting = Waiting::nothing;
};

/// One warp's exchange: its lanes write slots[generation % 2] and wait until every lane of the
/// mask has; alternating the slots lets a fast lane start the next exchange while slow lanes
/// still read this one (they must all have arrived at it before the next can complete).
struct Warp {
  unsigned generation = 0;
  unsigned arrived = 0;
  unsigned mask = 0;
  const char* operation = nullptr;
  unsigned char slots[2][32][16];
};

/// The block being run on this host thread.
struct Block {
  const char* kernel = nullptr;
  const std::function<void()>* body = nullptr;
  unsigned threads = 0;
  std::vector<Fiber> fibers;
  std::vector<Warp> warps;
  void* scheduler = nullptr;  // the scheduler's saved stack pointer while a fiber runs
  Fiber* current = nullptr;
  unsigned barrier_generation = 0;
  unsigned barrier_arrived = 0;
  unsigned live = 0;
  bool progress = false;
};

thread_local Block state;
thread_local unsigned launches = 0;  // on this host thread: the parity picks each block's order
thread_local bool running = false;
thread_local bool direct = false;  // the threads run as plain calls (run_grid without fibers)

void yield(Block& b) { fcam_emu_switch(&b.current->sp, b.scheduler); }

/// A fiber's whole life: the kernel body, then back to the scheduler for good.
void fiber_main() {
  Block& b = state;
  (*b.body)();
  b.current->finished = true;
  b.current->waiting = Waiting::nothing;
  --b.live;
  b.progress = true;
  yield(b);
  std::abort();  // a finished fiber is never resumed
}

Block& current_block(const char* what) {
  if (!running) violation(what, "called outside a kernel");
  if (direct)
    violation(what, "called by a kernel whose file translate_launches.py found no synchronisation in (is it "
                    "reached through an include from another folder?)");
  return state;
}

[[noreturn]] void deadlock(const Block& b) {
  unsigned at_barrier = 0, at_warp = 0, exited = 0;
  for (unsigned t = 0; t < b.threads; ++t) {
    const Fiber& f = b.fibers[t];
    exited += f.finished;
    at_barrier += f.waiting == Waiting::block_barrier;
    at_warp += f.waiting == Waiting::warp_operation;
  }
  char detail[300];
  std::snprintf(detail, sizeof detail,
                "block (%u, %u, %u): deadlock: %u threads wait at __syncthreads, %u at a warp operation, %u have "
                "exited (a barrier or warp mask that not every thread reaches)",
                blockIdx.x, blockIdx.y, blockIdx.z, at_barrier, at_warp, exited);
  violation(b.kernel, detail);
}

void prepare_fibers(Block& b, dim3 block) {
  if (b.fibers.size() < b.threads) b.fibers.resize(b.threads);
  b.warps.assign((b.threads + 31) / 32, Warp{});
  for (unsigned t = 0; t < b.threads; ++t) {
    Fiber& f = b.fibers[t];
    if (!f.stack) f.stack.reset(new char[stack_bytes]);
    f.index = {t % block.x, t / block.x % block.y, t / (block.x * block.y)};
    f.linear = t;
    f.finished = false;
    f.waiting = Waiting::nothing;
    // From the 16-byte aligned top: a null return address for fiber_main (so that it starts with
    // the stack alignment of a called function), the address the first switch returns to, and
    // six zero registers for it to pop.
    // Tops staggered by 1 KiB steps within 16 KiB: stacks 256 KiB apart would otherwise map their
    // hot top lines to the same cache sets.
    auto* top = reinterpret_cast<std::uintptr_t*>(f.stack.get() + stack_bytes - 1024 * (t % 16));
    top[-1] = 0;
    top[-2] = reinterpret_cast<std::uintptr_t>(&fiber_main);
    for (int r = 3; r <= 8; ++r) top[-r] = 0;
    f.sp = top - 8;
  }
  b.barrier_generation = b.barrier_arrived = 0;
  b.live = b.threads;
}

}  // namespace

void run_grid(const char* kernel, bool fibers, dim3 grid, dim3 block, const std::function<void()>& body) {
  if (running) violation("a kernel launched from inside a kernel", kernel);
  Block& b = state;
  b.kernel = kernel;
  b.body = &body;
  b.threads = block.x * block.y * block.z;
  gridDim = grid;
  blockDim = block;
  running = true;
  direct = !fibers;
  const unsigned launch = launches++;
  for (unsigned z = 0; z < grid.z; ++z)
    for (unsigned y = 0; y < grid.y; ++y)
      for (unsigned x = 0; x < grid.x; ++x) {
        blockIdx = {x, y, z};
        const bool descending = ((x + y + z + launch) & 1u) != 0;
        const auto thread_at = [&](unsigned i) { return descending ? b.threads - 1 - i : i; };
        if (direct) {
          for (unsigned i = 0; i < b.threads; ++i) {
            const unsigned t = thread_at(i);
            threadIdx = {t % block.x, t / block.x % block.y, t / (block.x * block.y)};
            body();
          }
          continue;
        }
        prepare_fibers(b, block);
        while (b.live > 0) {
          b.progress = false;
          for (unsigned i = 0; i < b.threads; ++i) {
            Fiber& f = b.fibers[thread_at(i)];
            if (f.finished) continue;
            b.current = &f;
            threadIdx = f.index;
            fcam_emu_switch(&b.scheduler, f.sp);
          }
          if (!b.progress) deadlock(b);
        }
      }
  running = false;
  direct = false;
}

unsigned lane_id() { return current_block("lane_id").current->linear % 32; }

const unsigned char* warp_exchange(unsigned mask, const void* value, std::size_t bytes, const char* operation) {
  Block& b = current_block(operation);
  Fiber& f = *b.current;
  const unsigned lane = f.linear % 32;
  Warp& w = b.warps[f.linear / 32];
  if (!(mask >> lane & 1u)) violation(operation, "the calling lane is not in its mask");
  const unsigned lanes_here = b.threads - f.linear / 32 * 32;
  if (lanes_here < 32 && (mask >> lanes_here) != 0) violation(operation, "the mask names lanes beyond the block");
  const unsigned generation = w.generation;
  if (w.arrived == 0) {
    w.mask = mask;
    w.operation = operation;
  } else if (w.mask != mask || std::strcmp(w.operation, operation) != 0) {
    violation(operation, "lanes of one warp meet at different warp operations or with different masks");
  }
  std::memcpy(w.slots[generation & 1u][lane], value, bytes);
  b.progress = true;
  if (++w.arrived == static_cast<unsigned>(__builtin_popcount(mask))) {
    w.arrived = 0;
    ++w.generation;
  } else {
    f.waiting = Waiting::warp_operation;
    while (w.generation == generation) yield(b);
    f.waiting = Waiting::nothing;
  }
  return &w.slots[generation & 1u][0][0];
}

}  // namespace fcam_emu

void __syncthreads() {
  using namespace fcam_emu;
  Block& b = current_block("__syncthreads");
  const unsigned generation = b.barrier_generation;
  b.progress = true;
  if (++b.barrier_arrived == b.threads) {
    b.barrier_arrived = 0;
    ++b.barrier_generation;
    return;
  }
  b.current->waiting = Waiting::block_barrier;
  while (b.barrier_generation == generation) yield(b);
  b.current->waiting = Waiting::nothing;
}
