/// \file
/// \brief Private to cuda/: raw-pointer launchers of the channel softmax, its gradient and the
/// cross-entropy (softmax.cu). Tensors are batch × channels × inner, float.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace fcam::cuda::launch {

/// y = softmax over the channels of x at each of the batch·inner positions.
void softmax_channels(const float* x, float* y, std::int64_t batch, std::int64_t channels, std::int64_t inner,
                      cudaStream_t stream);

/// dx = y·(dy − Σ_c dy·y) at each position.
void softmax_channels_backward(const float* y, const float* grad_y, float* grad_x, std::int64_t batch,
                               std::int64_t channels, std::int64_t inner, cudaStream_t stream);

/// Blocks of the cross-entropy kernel for `positions` targets: the number of partial losses it
/// writes.
unsigned cross_entropy_blocks(std::int64_t positions);

/// The cross-entropy's gradient, (softmax − one-hot(target))·scale, zero at positions whose
/// target (device memory, batch·inner indices) is ignore_index; partial_loss[b] = Σ over block
/// b's positions of log Σ_c e^(z_c − m) − (z_t − m), in double (cross_entropy_blocks values).
void cross_entropy(const float* logits, const std::int64_t* targets, std::int64_t ignore_index, float scale,
                   float* grad, double* partial_loss, std::int64_t batch, std::int64_t channels, std::int64_t inner,
                   cudaStream_t stream);

/// The two-class partial cross-entropy of logits batch × 2 × plane against `labels` (device
/// memory, batch·plane values: 0, 1, or unlabelled above 1): the gradient grad_scale·∂/∂z (0 where
/// unlabelled; device_scale[0] replaces grad_scale when not null) and partial_loss[b] = Σ over
/// block b's labelled pixels of −log softmax(z)[label], in double (cross_entropy_blocks(batch·plane)
/// values).
void labelled_cross_entropy(const float* logits, const std::uint8_t* labels, double grad_scale,
                            const double* device_scale, float* grad, double* partial_loss, std::int64_t batch,
                            std::int64_t plane, cudaStream_t stream);

/// total[0] = Σ of the `count` partial losses, in double, in a fixed order.
void sum_partial_losses(const double* partial_loss, std::int64_t count, double* total, cudaStream_t stream);

}  // namespace fcam::cuda::launch
