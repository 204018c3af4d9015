/// \file
/// \brief Host-only declarations of the CUDA kernels behind the ops of include/fcam/ops/; no CUDA
/// header here, so every public header may include it, with or without a CUDA build.
///
/// Each op in include/fcam/ops/ sends CUDA operands to its kernel declared in fcam/cuda/ops/,
/// implemented in the compiled library fcam::cuda (directory cuda/), for float tensors. The
/// declarations exist in every build so that the ops compile; they are only called, and only
/// defined, when fcam is built with CUDA (cuda::has_kernels<T>, ops/dispatch.hpp). An op without
/// a CUDA kernel calls cuda::unavailable(), which throws a clear fcam::Error instead of reading
/// device memory as host memory.
#pragma once

#include "fcam/config.hpp"
#include "fcam/cuda/ops/batch_norm.hpp"
#include "fcam/cuda/ops/concat.hpp"
#include "fcam/cuda/ops/crf_filter.hpp"
#include "fcam/cuda/ops/conv2d.hpp"
#include "fcam/cuda/ops/elementwise.hpp"
#include "fcam/cuda/ops/linear.hpp"
#include "fcam/cuda/ops/loss_terms.hpp"
#include "fcam/cuda/ops/pad.hpp"
#include "fcam/cuda/ops/planes.hpp"
#include "fcam/cuda/ops/pooling.hpp"
#include "fcam/cuda/ops/reduce.hpp"
#include "fcam/cuda/ops/region_labels.hpp"
#include "fcam/cuda/ops/resize.hpp"
#include "fcam/cuda/ops/sgd_update.hpp"
#include "fcam/cuda/ops/softmax.hpp"
