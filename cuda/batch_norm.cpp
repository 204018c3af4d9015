// Tensor-level CUDA batch normalisation: allocate outputs and per-channel scratch, launch the
// statistics and then the per-element map, check each launch.
#include "fcam/cuda/ops/batch_norm.hpp"

#include "batch_norm_kernels.hpp"
#include "context.hpp"

namespace fcam::cuda {

namespace {
Tensor<float> per_channel(std::int64_t c) { return Tensor<float>::uninitialized({c}, Device::cuda); }

/// y = x·scale[ch] (+ shift[ch]) for x of C = scale's length channels.
Tensor<float> affine(const Tensor<float>& x, const float* scale, const float* shift, std::int64_t plane,
                     const char* what) {
  auto y = Tensor<float>::uninitialized(x.shape(), Device::cuda);
  launch::channel_affine(x.data(), scale, shift, y.data(), x.size(1), plane, x.numel(), stream());
  check_launch(what);
  return y;
}
}  // namespace

Tensor<float> batch_norm_train(const Tensor<float>& x, const Tensor<float>& gamma, const Tensor<float>& beta,
                               float eps, std::int64_t plane, Tensor<float>& mean, Tensor<float>& invstd,
                               Tensor<float>& unbiased_var) {
  const std::int64_t n = x.size(0), c = x.size(1);
  mean = per_channel(c);
  invstd = per_channel(c);
  unbiased_var = per_channel(c);
  auto affine_map = Tensor<float>::uninitialized({2, c}, Device::cuda);  // scale, then shift
  launch::batch_norm_train_stats(x.data(), gamma.data(), beta.data(), eps, n, c, plane, mean.data(), invstd.data(),
                                 unbiased_var.data(), affine_map.data(), affine_map.data() + c, stream());
  check_launch("batch_norm_train statistics kernel");
  return affine(x, affine_map.data(), affine_map.data() + c, plane, "batch_norm_train kernel");
}

Tensor<float> batch_norm_train_backward(const Tensor<float>& x, const Tensor<float>& gamma,
                                        const Tensor<float>& saved_mean, const Tensor<float>& saved_invstd,
                                        const Tensor<float>& grad_y, std::int64_t plane, Tensor<float>& grad_gamma,
                                        Tensor<float>& grad_beta) {
  const std::int64_t n = x.size(0), c = x.size(1);
  // γ·invstd, mean(dy) and mean(dy·x̂) per channel, kept in double as the CPU keeps them.
  Storage<double> coefficients(static_cast<std::size_t>(3 * c), Device::cuda, false);
  launch::batch_norm_train_backward_sums(x.data(), gamma.data(), saved_mean.data(), saved_invstd.data(),
                                         grad_y.data(), n, c, plane, grad_gamma.data(), grad_beta.data(),
                                         coefficients.data(), stream());
  check_launch("batch_norm_train_backward sums kernel");
  auto grad_x = Tensor<float>::uninitialized(x.shape(), Device::cuda);
  launch::batch_norm_train_dx(x.data(), saved_mean.data(), saved_invstd.data(), grad_y.data(), coefficients.data(),
                              grad_x.data(), c, plane, x.numel(), stream());
  check_launch("batch_norm_train_backward kernel");
  return grad_x;
}

std::pair<Tensor<float>, Tensor<float>> batch_norm_eval_affine(const Tensor<float>& gamma, const Tensor<float>& beta,
                                                               const Tensor<float>& running_mean,
                                                               const Tensor<float>& running_var, float eps) {
  auto scale = Tensor<float>::uninitialized(gamma.shape(), Device::cuda);
  auto shift = Tensor<float>::uninitialized(gamma.shape(), Device::cuda);
  launch::batch_norm_eval_affine(gamma.data(), beta.data(), running_mean.data(), running_var.data(), eps,
                                 scale.data(), shift.data(), gamma.numel(), stream());
  check_launch("batch_norm_eval_affine kernel");
  return {scale, shift};
}

Tensor<float> batch_norm_eval(const Tensor<float>& x, const Tensor<float>& gamma, const Tensor<float>& beta,
                              const Tensor<float>& running_mean, const Tensor<float>& running_var, float eps,
                              std::int64_t plane) {
  // The CPU's per-channel scale and shift are exactly batch_norm_eval_affine's.
  const auto [scale, shift] = batch_norm_eval_affine(gamma, beta, running_mean, running_var, eps);
  return affine(x, scale.data(), shift.data(), plane, "batch_norm_eval kernel");
}

Tensor<float> batch_norm_eval_backward(const Tensor<float>& x, const Tensor<float>& gamma,
                                       const Tensor<float>& running_mean, const Tensor<float>& running_var, float eps,
                                       const Tensor<float>& grad_y, std::int64_t plane, Tensor<float>& grad_gamma,
                                       Tensor<float>& grad_beta) {
  const std::int64_t n = x.size(0), c = x.size(1);
  auto k = per_channel(c);  // dx = dy·k, k = γ·invstd
  launch::batch_norm_eval_backward_sums(x.data(), gamma.data(), running_mean.data(), running_var.data(), eps,
                                        grad_y.data(), n, c, plane, grad_gamma.data(), grad_beta.data(), k.data(),
                                        stream());
  check_launch("batch_norm_eval_backward sums kernel");
  return affine(grad_y, k.data(), nullptr, plane, "batch_norm_eval_backward kernel");
}

void batch_norm_update_running_stats(Tensor<float>& running_mean, Tensor<float>& running_var,
                                     Tensor<float>& batches_tracked, const Tensor<float>& batch_mean,
                                     const Tensor<float>& unbiased_var, float momentum) {
  launch::batch_norm_update_running_stats(running_mean.data(), running_var.data(), batches_tracked.data(),
                                          batch_mean.data(), unbiased_var.data(), momentum, running_mean.numel(),
                                          stream());
  check_launch("batch_norm_update_running_stats kernel");
}

}  // namespace fcam::cuda
