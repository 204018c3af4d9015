/// \file
/// \brief CUDA kernels of the channel softmax, its gradient (ops/softmax.hpp) and the mean
/// cross-entropy (ops/cross_entropy.hpp) with its two-class labelled form
/// (ops/labelled_cross_entropy.hpp), float tensors seen as batch × channels × inner: the
/// arguments and results of the CPU kernels of fcam/ops/cpu/softmax.hpp and cpu/cross_entropy.hpp.
#pragma once

#include <cstdint>
#include <vector>

#include "fcam/core/label_map.hpp"
#include "fcam/core/tensor.hpp"

namespace fcam::cuda {

/// softmax over the channels (the channel maximum subtracted first).
Tensor<float> softmax_channels(const Tensor<float>& x, std::int64_t batch, std::int64_t channels, std::int64_t inner);
/// dx = y·(dy − Σ_c dy·y).
Tensor<float> softmax_channels_backward(const Tensor<float>& y, const Tensor<float>& grad_y, std::int64_t batch,
                                        std::int64_t channels, std::int64_t inner);
/// Cross-entropy of the logits against host `targets` (batch·inner indices, each in [0, channels)
/// or ignore_index): returns dL/dlogits and writes the mean loss over the `count` non-ignored
/// targets (0 and a zero gradient when there are none). The loss is summed on the device and
/// copied back (waits for the stream).
Tensor<float> cross_entropy(const Tensor<float>& logits, const std::vector<std::int64_t>& targets,
                            std::int64_t ignore_index, std::int64_t batch, std::int64_t channels, std::int64_t inner,
                            float& loss, std::int64_t& count);
/// The two-class partial cross-entropy (ops/labelled_cross_entropy.hpp) of logits N×2×H×W against
/// the labels `labels` on the GPU (N·H·W: 0, 1, or 255 unlabelled): returns the sum over the labelled
/// pixels of −log softmax(z)[label] in double, summed on the device (waits for the stream), and
/// sets `grad` to grad_scale·∂/∂z (0 at unlabelled pixels).
double labelled_cross_entropy(const Tensor<float>& logits, const LabelMap& labels, double grad_scale,
                              Tensor<float>& grad);

/// cross_entropy that adds the mean loss to `slot` (device memory, a LossSums slot) on the device
/// instead of copying it back: returns the gradient and never waits. Nothing is added when every
/// target is ignored.
Tensor<float> cross_entropy_into(const Tensor<float>& logits, const std::vector<std::int64_t>& targets,
                                 std::int64_t ignore_index, std::int64_t batch, std::int64_t channels,
                                 std::int64_t inner, double* slot);
/// The partial cross-entropy weight · mean over the labelled pixels, added to `slot` (device
/// memory) on the device: returns its gradient and never waits. The count comes from the map, on
/// the host or, as keyed_region_labels leaves it, on the GPU (a NaN CAM then adds NaN).
Tensor<float> labelled_cross_entropy_into(const Tensor<float>& logits, const LabelMap& labels, double weight,
                                          double* slot);

}  // namespace fcam::cuda
