// test_backend_ops: whole models moved with Module::to(Device::cuda) give the CPU's logits, encoder
// stages and F-CAM maps (inference mode: BatchNorm folded into the convolutions on both devices).
#include "backend_ops/compare.hpp"

using namespace fcam;
using namespace fcam::test;

TEST_CASE("every WSOL backbone and its F-CAM decoder: the same outputs on both devices", "[cuda]") {
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

    model.to(Device::cuda);
    const models::ClassifierOutput<float> gpu = model.classify(x.to(Device::cuda));
    expect_close(cpu.logits, gpu.logits, name + " logits");
    REQUIRE(gpu.stages.size() == cpu.stages.size());
    for (std::size_t s = 0; s < cpu.stages.size(); ++s)
      expect_close(cpu.stages[s], gpu.stages[s], name + " encoder stage " + std::to_string(s));
    const Tensor<float> gpu_maps = model.foreground(gpu.stages);
    expect_close(cpu_maps, gpu_maps, name + " F-CAM maps");
    const Tensor<float> back = gpu_maps.to(Device::cpu);
    float worst = 0;
    for (std::int64_t i = 0; i < back.numel(); ++i) worst = std::max(worst, std::abs(back.data()[i] - cpu_maps.data()[i]));
    INFO(name << ": largest map difference " << worst);
    CHECK(worst <= 1e-4f);

    model.to(Device::cpu);  // and back: the CPU gives its first answer again
    expect_close(cpu.logits, model.classify(x).logits, name + " logits after the round trip", 0.0);
  }
}
