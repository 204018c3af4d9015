// test_backend_ops: CUDA graphs (cuda::Graph, models::InferencePlan). A plan's replay gives the
// eager pass's logits and maps bit for bit (deterministic convolutions on both), reads each new
// input, allocates nothing, and gives its memory back when destroyed; work that waits for the
// device cannot be captured and says so; a thread cancelled inside a capture unwinds cleanly; a
// capture holds off empty_cache and the out-of-memory retry on other threads.
#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "backend_ops/compare.hpp"

using namespace fcam;
using namespace fcam::test;

namespace {

models::Inference<float> eager(models::FcamModel<float>& model, const Tensor<float>& x) {
  NoGradGuard no_grad;
  const models::ClassifierOutput<float> out = model.classify(x);
  return {out.logits, cam::normalize_maps(model.foreground(out.stages))};
}

}  // namespace

TEST_CASE("an inference plan's replays equal the eager pass, for every backbone and each new input", "[cuda]") {
  const ModeScope deterministic(cuda::set_deterministic, cuda::deterministic);
  for (const models::Arch arch :
       {models::Arch::resnet18, models::Arch::resnet50, models::Arch::vgg16, models::Arch::inceptionv3,
        models::Arch::mobilenet_v2}) {
    const std::string name(models::arch_name(arch));
    models::FcamModel<float> model(arch, 5);
    model.to(Device::cuda);
    const Tensor<float> a = random_tensor({2, 3, 224, 224}, 21, -2.0, 2.0).to(Device::cuda);
    const Tensor<float> b = random_tensor({2, 3, 224, 224}, 22, -2.0, 2.0).to(Device::cuda);
    models::InferencePlan<float> plan(model, a.shape());
    REQUIRE(plan.graphed());
    for (const Tensor<float>* x : {&a, &b, &a}) {
      const models::Inference<float> replayed = plan.run(*x);
      const models::Inference<float> expected = eager(model, *x);
      INFO(name << ": logits differ by " << largest_difference(replayed.logits, expected.logits) << ", maps by "
                << largest_difference(replayed.maps, expected.maps));
      CHECK(largest_difference(replayed.logits, expected.logits) == 0.0f);
      CHECK(largest_difference(replayed.maps, expected.maps) == 0.0f);
    }
    // Not vacuous: the two inputs give different maps.
    const float apart = largest_difference(plan.run(a).maps.clone(), plan.run(b).maps.clone());
    INFO(name << ": maps of the two inputs differ by " << apart);
    CHECK(apart > 1e-3f);
  }
}

TEST_CASE("a CAM plan replays the closed-form methods of fixed and top classes as the eager pass computes them",
          "[cuda]") {
  const ModeScope deterministic(cuda::set_deterministic, cuda::deterministic);
  for (const models::Arch arch : {models::Arch::resnet50, models::Arch::vgg16}) {
    models::FcamModel<float> model(arch, 5);
    model.to(Device::cuda);
    model.eval();
    const Tensor<float> a = random_tensor({3, 3, 224, 224}, 31, -2.0, 2.0).to(Device::cuda);
    const Tensor<float> b = random_tensor({3, 3, 224, 224}, 32, -2.0, 2.0).to(Device::cuda);
    const std::vector<int> fixed{4, 0, 2};
    for (const cam::Method method : {cam::Method::cam, cam::Method::gradcam, cam::Method::gradcampp,
                                     cam::Method::xgradcam, cam::Method::layercam})
      for (const bool choose : {true, false}) {
        const std::string name = std::string(models::arch_name(arch)) + " " + std::string(cam::method_name(method)) +
                                 (choose ? ", top classes" : ", fixed classes");
        models::InferencePlan<float> plan(model, a.shape(),
                                          cam::plan_maps<float>(method, choose ? std::vector<int>{} : fixed));
        REQUIRE(plan.graphed());
        for (const Tensor<float>* x : {&a, &b}) {
          NoGradGuard no_grad;
          const models::ClassifierOutput<float> out = model.classify(*x);
          const std::vector<std::int64_t> top = top_k(out.logits, 1).indices;
          const std::vector<int> classes = choose ? std::vector<int>(top.begin(), top.end()) : fixed;
          const Tensor<float> expected = cam::full_resolution(
              cam::class_activation_maps(out.stages.back(), model.head().fc().weight().value, classes, method), 224,
              224);
          const models::Inference<float> replayed = plan.run(*x);
          INFO(name << ": maps differ by " << largest_difference(replayed.maps, expected));
          CHECK(largest_difference(replayed.logits, out.logits) == 0.0f);
          CHECK(largest_difference(replayed.maps, expected) == 0.0f);
        }
      }
  }
}

TEST_CASE("a Smooth-GradCAM++ plan replays its noisy passes as the eager call with the plan's key", "[cuda]") {
  const ModeScope deterministic(cuda::set_deterministic, cuda::deterministic);
  models::FcamModel<float> model(models::Arch::resnet50, 5);
  model.to(Device::cuda);
  model.eval();
  const Tensor<float> a = random_tensor({3, 3, 224, 224}, 41, -2.0, 2.0).to(Device::cuda);
  const Tensor<float> b = random_tensor({3, 3, 224, 224}, 42, -2.0, 2.0).to(Device::cuda);
  const std::vector<int> fixed{4, 0, 2};
  for (const bool choose : {true, false}) {
    const std::string name = choose ? "top classes" : "fixed classes";
    models::InferencePlan<float> plan(
        model, a.shape(), cam::plan_maps<float>(cam::Method::sgcampp, choose ? std::vector<int>{} : fixed, {}, {4, 0.3}, 77));
    REQUIRE(plan.graphed());
    for (const Tensor<float>* x : {&a, &b, &a}) {
      NoGradGuard no_grad;
      const models::ClassifierOutput<float> out = model.classify(*x);
      const std::vector<std::int64_t> top = top_k(out.logits, 1).indices;
      const std::vector<int> classes = choose ? std::vector<int>(top.begin(), top.end()) : fixed;
      const Tensor<float> expected =
          cam::full_resolution(cam::smooth_gradcampp_keyed(model, *x, classes, 4, 0.3, 77), 224, 224);
      const models::Inference<float> replayed = plan.run(*x);
      INFO(name << ": maps differ by " << largest_difference(replayed.maps, expected));
      CHECK(largest_difference(replayed.maps, expected) == 0.0f);
    }
    // Not vacuous: the noise matters.
    const Tensor<float> other = cam::full_resolution(cam::smooth_gradcampp_keyed(model, a, fixed, 4, 0.3, 78), 224, 224);
    const Tensor<float> keyed = cam::full_resolution(cam::smooth_gradcampp_keyed(model, a, fixed, 4, 0.3, 77), 224, 224);
    CHECK(largest_difference(other, keyed) > 0.0f);
  }
}

TEST_CASE("an inference plan keeps its shape; plans of two shapes work side by side and keep their memory",
          "[cuda]") {
  const ModeScope deterministic(cuda::set_deterministic, cuda::deterministic);
  models::FcamModel<float> model(models::Arch::resnet18, 5);
  model.to(Device::cuda);
  const Tensor<float> two = random_tensor({2, 3, 96, 96}, 23, -2.0, 2.0).to(Device::cuda);
  const Tensor<float> one = random_tensor({1, 3, 128, 128}, 24, -2.0, 2.0).to(Device::cuda);
  models::InferencePlan<float> plan_two(model, two.shape());
  CHECK_THROWS_WITH(plan_two.run(one), Catch::Contains("make a plan for that shape"));
  models::InferencePlan<float> plan_one(model, one.shape());
  for (int round = 0; round < 2; ++round) {
    CHECK(largest_difference(plan_two.run(two).maps, eager(model, two).maps) == 0.0f);
    CHECK(largest_difference(plan_one.run(one).maps, eager(model, one).maps) == 0.0f);
  }
  // A host input is copied in.
  CHECK(largest_difference(plan_one.run(one.to(Device::cpu)).logits, eager(model, one).logits) == 0.0f);
  // Memory the plans replay stays theirs: empty_cache() returns no segment of theirs, and the
  // resize tables they captured outlive the cache's limit of 256 geometries.
  cuda::empty_cache();
  const Tensor<float> small = random_tensor({1, 1, 8, 8}, 27).to(Device::cuda);
  for (std::int64_t size = 9; size < 9 + 300; ++size) resize_bilinear(small, size, size, true);
  CHECK(largest_difference(plan_two.run(two).maps, eager(model, two).maps) == 0.0f);
  CHECK(largest_difference(plan_one.run(one).maps, eager(model, one).maps) == 0.0f);
}

TEST_CASE("1,000 replays allocate nothing; destroyed plans give their memory back", "[cuda]") {
  models::FcamModel<float> model(models::Arch::resnet18, 5);
  model.to(Device::cuda);
  const Tensor<float> x = random_tensor({1, 3, 96, 96}, 25, -2.0, 2.0).to(Device::cuda);
  {
    models::InferencePlan<float> plan(model, x.shape());
    for (int i = 0; i < 3; ++i) plan.run(x);
    cuda::synchronize();
    const cuda::MemoryStats before = cuda::memory_stats();
    for (int i = 0; i < 1000; ++i) plan.run(x);
    cuda::synchronize();
    const cuda::MemoryStats after = cuda::memory_stats();
    CHECK(after.allocations == before.allocations);
    CHECK(after.allocated_bytes == before.allocated_bytes);
    CHECK(after.reserved_bytes == before.reserved_bytes);
    CHECK(after.device_mallocs == before.device_mallocs);
  }
  // Made and destroyed again and again: the second plan reuses the first one's memory.
  std::size_t reserved_after_second = 0;
  std::int64_t mallocs_after_second = 0;
  for (int i = 0; i < 5; ++i) {
    { models::InferencePlan<float> plan(model, x.shape()); plan.run(x); }
    cuda::synchronize();
    if (i == 1) {
      reserved_after_second = cuda::memory_stats().reserved_bytes;
      mallocs_after_second = cuda::memory_stats().device_mallocs;
    }
  }
  CHECK(cuda::memory_stats().reserved_bytes == reserved_after_second);
  CHECK(cuda::memory_stats().device_mallocs == mallocs_after_second);
}

TEST_CASE("work that waits for the device cannot be captured: an error that says so, and CUDA keeps working",
          "[cuda]") {
  const Tensor<float> x = random_tensor({64}, 26, -1.0, 1.0).to(Device::cuda);
  CHECK_THROWS_WITH(cuda::Graph([&] { relu(x).to(Device::cpu); }),
                    Catch::Contains("could not be captured") && Catch::Contains("never wait for the device"));
  // Host values copied in: a replay would read freed staging memory.
  const Tensor<float> features = random_tensor({2, 4, 3, 3}, 27).to(Device::cuda);
  const Tensor<float> fc = random_tensor({5, 4}, 28).to(Device::cuda);
  CHECK_THROWS_WITH(cuda::Graph([&] { class_weighted_channel_sum(features, fc, {1, 3}, ClassWeight::row, false); }),
                    Catch::Contains("could not be captured") &&
                        Catch::Contains("host values (classes, channel weights or fill values given in host memory)"));
  const Tensor<float> y = relu(x);
  cuda::synchronize();
  expect_close(relu(x.to(Device::cpu)), y, "relu after a failed capture", 0.0);
  // A graph of plain work replays it.
  Tensor<float> out;
  cuda::Graph graph([&] { out = scaled(x, 2.0); });
  graph.launch();
  expect_close(scaled(x.to(Device::cpu), 2.0), out, "a replayed scale", 0.0);
}

namespace {

/// A thread that makes a graph and is cancelled inside the capture (the work's second call).
struct CancelledGraphMaker {
  const Tensor<float>* x = nullptr;
  int work_calls = 0;
  bool made = false;

  static void* run(void* self) {
    auto& maker = *static_cast<CancelledGraphMaker*>(self);
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, nullptr);
    pthread_cancel(pthread_self());  // pending until the capture enables it
    Tensor<float> y;
    cuda::Graph graph([&] {
      y = scaled(*maker.x, 2.0);
      if (++maker.work_calls == 2) {
        pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, nullptr);
        pthread_testcancel();
      }
    });
    maker.made = true;
    return nullptr;
  }
};

}  // namespace

TEST_CASE("a thread cancelled inside a capture unwinds: the capture ends and the graph's memory comes back",
          "[cuda]") {
  // glibc cancels a thread by a forced unwind, which every catch (...) on its way must rethrow:
  // swallowing it aborts the process.
  const Tensor<float> x = random_tensor({64}, 29, -1.0, 1.0).to(Device::cuda);
  cuda::synchronize();
  const std::size_t allocated_before = cuda::memory_stats().allocated_bytes;
  CancelledGraphMaker maker{&x};
  pthread_t thread;
  REQUIRE(pthread_create(&thread, nullptr, &CancelledGraphMaker::run, &maker) == 0);
  void* result = nullptr;
  REQUIRE(pthread_join(thread, &result) == 0);
  CHECK(result == PTHREAD_CANCELED);
  CHECK(maker.work_calls == 2);
  CHECK_FALSE(maker.made);
  CHECK(cuda::memory_stats().allocated_bytes == allocated_before);
  // This thread still captures and replays.
  Tensor<float> out;
  cuda::Graph graph([&] { out = scaled(x, 3.0); });
  graph.launch();
  expect_close(scaled(x.to(Device::cpu), 3.0), out, "a replay after another thread's cancelled capture", 0.0);
  CHECK_NOTHROW(cuda::empty_cache());  // the cancelled capture no longer counts as one in progress
}

TEST_CASE("while another thread captures a graph, empty_cache is refused and running out of memory does not wait "
          "for the device", "[cuda]") {
  // Both would wait for the whole device and free memory, which invalidates a capture in progress.
  const Tensor<float> x = random_tensor({64}, 30, -1.0, 1.0).to(Device::cuda);
  const std::size_t impossible = std::size_t(1) << 50;  // more than any device has
  const auto cache_a_free_segment = [] { (void)Tensor<float>({1 << 20}, Device::cuda); };  // 4 MiB, dropped
  std::mutex mutex;
  std::condition_variable changed;
  bool capturing = false, go_on = false;
  std::string maker_error;
  Tensor<float> replayed;
  std::thread maker([&] {
    try {
      int calls = 0;
      cuda::Graph graph([&] {
        replayed = scaled(x, 2.0);
        if (++calls < 2) return;
        std::unique_lock lock(mutex);
        capturing = true;
        changed.notify_all();
        changed.wait(lock, [&] { return go_on; });
      });
      graph.launch();
      cuda::synchronize();
    } catch (const std::exception& e) {
      maker_error = e.what();
    }
  });
  {
    std::unique_lock lock(mutex);
    changed.wait(lock, [&] { return capturing; });
  }
  CHECK_THROWS_WITH(cuda::empty_cache(), Catch::Contains("a CUDA graph is being captured"));
  cache_a_free_segment();  // what a retry would give back
  const cuda::MemoryStats before = cuda::memory_stats();
  CHECK_THROWS_WITH(cuda::device_alloc(impossible),
                    Catch::Contains("CUDA out of memory") && Catch::Contains("the cache was not given back first"));
  CHECK(cuda::memory_stats().device_frees == before.device_frees);
  {
    std::lock_guard lock(mutex);
    go_on = true;
  }
  changed.notify_all();
  maker.join();
  INFO("the other thread: " << maker_error);
  CHECK(maker_error.empty());
  expect_close(scaled(x.to(Device::cpu), 2.0), replayed, "the other thread's replay", 0.0);
  // With no capture in progress, running out of memory first gives the cache back.
  cache_a_free_segment();
  const cuda::MemoryStats idle = cuda::memory_stats();
  CHECK_THROWS_WITH(cuda::device_alloc(impossible),
                    Catch::Contains("CUDA out of memory") && !Catch::Contains("not given back"));
  CHECK(cuda::memory_stats().device_frees > idle.device_frees);
  CHECK_NOTHROW(cuda::empty_cache());
}

TEST_CASE("bfloat16 convolutions: an inference plan replays the eager bf16 pass; its maps stay close to fp32's",
          "[cuda]") {
  const ModeScope deterministic(cuda::set_deterministic, cuda::deterministic);
  for (const models::Arch arch :
       {models::Arch::resnet50, models::Arch::vgg16, models::Arch::inceptionv3, models::Arch::mobilenet_v2}) {
    const std::string name(models::arch_name(arch));
    models::FcamModel<float> model(arch, 5);
    model.to(Device::cuda);
    model.eval();
    const Tensor<float> x = random_tensor({2, 3, 224, 224}, 41, -2.0, 2.0).to(Device::cuda);
    const auto decoder_logits = [&] {  // the segmentation head's two channels, before the softmax
      NoGradGuard no_grad;
      return model.segment(model.classify(x).stages);
    };
    const models::Inference<float> fp32 = eager(model, x);
    const Tensor<float> fp32_segments = decoder_logits();
    models::Inference<float> replayed, bf16;
    Tensor<float> bf16_segments;
    {
      const ModeScope bf16_mode(cuda::set_bf16, cuda::bf16_enabled);
      models::InferencePlan<float> plan(model, x.shape());
      replayed = plan.run(x);
      bf16 = eager(model, x);
      bf16_segments = decoder_logits();
    }
    CHECK(largest_difference(replayed.maps, bf16.maps) == 0.0f);
    CHECK(largest_difference(replayed.logits, bf16.logits) == 0.0f);
    // Differences relative to the largest magnitude: a random model's logits have no natural scale.
    const auto relative = [](const Tensor<float>& got, const Tensor<float>& want) {
      const Tensor<float> host = want.to(Device::cpu);
      const float scale = std::abs(*std::max_element(host.data(), host.data() + host.numel(),
                                                     [](float a, float b) { return std::abs(a) < std::abs(b); }));
      return largest_difference(got, want) / scale;
    };
    const float map_difference = largest_difference(bf16.maps, fp32.maps);
    const float segment_difference = relative(bf16_segments, fp32_segments);
    const float logit_difference = relative(bf16.logits, fp32.logits);
    // The figures docs/cuda.md reports for bf16. The normalised maps of a random model can span a
    // tiny range, which the normalisation magnifies: the bounds are on the logits of both heads.
    WARN(name << " bf16 vs fp32: normalised maps differ by up to " << map_difference << "; decoder logits by "
              << segment_difference << ", class logits by " << logit_difference << " of the largest");
    CHECK(segment_difference > 0.0f);  // the mode was on
    CHECK(segment_difference <= 0.1f);
    CHECK(logit_difference <= 0.1f);
  }
}
