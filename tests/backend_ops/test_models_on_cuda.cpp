// test_backend_ops: whole models moved with Module::to(Device::cuda) give the CPU's logits, encoder
// stages, F-CAM maps and the six CAM baselines' maps (inference mode: BatchNorm folded into the
// convolutions on both devices), and repeated inference leaves the device memory as it was.
#include <algorithm>
#include <cmath>

#include "backend_ops/compare.hpp"

using namespace fcam;
using namespace fcam::test;

namespace {

// `method`'s full-resolution maps (normalised to [0, 1]) of `classes` for the images x, as fcam-infer
// makes them; Smooth-GradCAM++'s noise comes from an Rng seeded with 5 on either device.
Tensor<float> baseline_full_maps(models::FcamModel<float>& model, const models::ClassifierOutput<float>& out,
                                 const Tensor<float>& x, const std::vector<int>& classes, cam::Method method) {
  Rng rng(5);
  return cam::full_resolution(cam::baseline_maps(model, out, x, classes, method, rng, {2, 0.3}), x.size(2), x.size(3));
}

}  // namespace

TEST_CASE("every WSOL backbone, its F-CAM decoder and the six CAM methods: the same outputs on both devices",
          "[cuda]") {
  const std::vector<int> classes = {1, 3};
  for (const models::Arch arch :
       {models::Arch::resnet18, models::Arch::resnet50, models::Arch::vgg16, models::Arch::inceptionv3,
        models::Arch::mobilenet_v2}) {
    const std::string name(models::arch_name(arch));
    models::FcamModel<float> model(arch, 5);
    model.eval();
    NoGradGuard no_grad;
    const Tensor<float> x = random_tensor({2, 3, 224, 224}, 11, -2.0, 2.0);
    const models::ClassifierOutput<float> cpu = model.classify(x);
    const Tensor<float> cpu_maps = model.foreground(cpu.stages);
    std::vector<Tensor<float>> cpu_cams;
    for (const auto& method : cam::method_table)
      cpu_cams.push_back(baseline_full_maps(model, cpu, x, classes, method.value));

    model.to(Device::cuda);
    const Tensor<float> x_gpu = x.to(Device::cuda);
    const models::ClassifierOutput<float> gpu = model.classify(x_gpu);
    expect_close(cpu.logits, gpu.logits, name + " logits");
    REQUIRE(gpu.stages.size() == cpu.stages.size());
    for (std::size_t s = 0; s < cpu.stages.size(); ++s)
      expect_close(cpu.stages[s], gpu.stages[s], name + " encoder stage " + std::to_string(s));
    const Tensor<float> gpu_maps = model.foreground(gpu.stages);
    REQUIRE(gpu_maps.device() == Device::cuda);
    expect_close(cpu_maps, gpu_maps, name + " F-CAM maps");
    INFO(name << ": largest F-CAM map difference " << largest_difference(cpu_maps, gpu_maps));
    CHECK(largest_difference(cpu_maps, gpu_maps) <= 1e-4f);

    for (std::size_t m = 0; m < cam::method_table.size(); ++m) {
      const std::string what = name + " " + std::string(cam::method_table[m].name) + " maps";
      const Tensor<float> gpu_cam = baseline_full_maps(model, gpu, x_gpu, classes, cam::method_table[m].value);
      REQUIRE(gpu_cam.device() == Device::cuda);
      expect_close(cpu_cams[m], gpu_cam, what);
      const float worst = largest_difference(cpu_cams[m], gpu_cam);
      INFO(what << ": largest difference " << worst);
      CHECK(worst <= 1e-4f);
      // Not vacuous: the maps are not flat (upsampling blurs the low-resolution peak of 1 a little).
      const Tensor<float> host = cpu_cams[m];
      CHECK(*std::max_element(host.data(), host.data() + host.numel()) > 0.9f);
    }

    model.to(Device::cpu);  // and back: the CPU gives its first answer again
    expect_close(cpu.logits, model.classify(x).logits, name + " logits after the round trip", 0.0);
  }
}

TEST_CASE("1,000 inference calls (classifier, CAM, GradCAM++, F-CAM) leave the device memory unchanged", "[cuda]") {
  models::FcamModel<float> model(models::Arch::resnet18, 5);
  model.eval();
  model.to(Device::cuda);
  NoGradGuard no_grad;
  const Tensor<float> x = random_tensor({1, 3, 96, 96}, 12, -2.0, 2.0).to(Device::cuda);
  auto call = [&] {  // fcam-infer's path for one image
    const models::ClassifierOutput<float> out = model.classify(x);
    const int cls = static_cast<int>(top_k(out.logits, 1).indices.front());
    Tensor<float> maps = cam::normalize_maps(model.foreground(out.stages));
    for (const cam::Method method : {cam::Method::cam, cam::Method::gradcampp})
      maps = baseline_full_maps(model, out, x, {cls}, method);
    return maps;
  };
  expect_steady_device_memory(call, 3, 1000);
}
