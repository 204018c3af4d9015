/// \file
/// \brief CPU 2-D convolution, forward and backward: im2col + Eigen GEMM, a direct GEMM for 1×1.
///
/// Threading: with at least as many images as threads, each thread takes whole images and runs
/// single-threaded products (no synchronisation inside an image). With fewer images, images run
/// one after another and the lowering and Eigen's product use all threads.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include <Eigen/Core>

#include "fcam/core/tensor.hpp"
#include "fcam/core/threads.hpp"
#include "fcam/ops/conv2d_geometry.hpp"
#include "fcam/ops/cpu/im2col.hpp"

namespace fcam::cpu {

namespace detail {

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMatrixMap = Eigen::Map<const RowMatrix<T>>;
template <class T>
using MutMatrixMap = Eigen::Map<RowMatrix<T>>;

/// Sizes shared by the forward and backward passes.
struct ConvSizes {
  std::int64_t n, c_in, h, w, c_out, out_h, out_w, cin_g, cout_g, k, p;
};

template <class T>
ConvSizes conv_sizes(const Tensor<T>& x, const Tensor<T>& weight, const Conv2dGeometry& g) {
  ConvSizes s{};
  s.n = x.size(0), s.c_in = x.size(1), s.h = x.size(2), s.w = x.size(3);
  s.c_out = weight.size(0);
  s.out_h = g.out_h(s.h), s.out_w = g.out_w(s.w);
  s.cin_g = s.c_in / g.groups, s.cout_g = s.c_out / g.groups;
  s.k = s.cin_g * g.kernel_h * g.kernel_w;
  s.p = s.out_h * s.out_w;
  return s;
}

/// True when whole images should be spread over the threads.
inline bool split_batch(std::int64_t batch, int threads) { return threads > 1 && batch >= threads; }

/// im2col of one group, using all threads unless already inside a parallel region.
template <class T>
void lower(const T* image, const ConvSizes& s, const Conv2dGeometry& g, T* cols, bool parallel) {
  if (!parallel) return im2col(image, s.h, s.w, g, s.out_h, s.out_w, cols, 0, s.k);
  const int threads = num_threads();
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t row = 0; row < s.k; ++row) im2col(image, s.h, s.w, g, s.out_h, s.out_w, cols, row, row + 1);
}

}  // namespace detail

/// y = conv(x, weight) + bias. x: N×C×H×W, weight: O×(C/groups)×kh×kw, bias: O or undefined.
template <class T>
void conv2d_forward(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias, const Conv2dGeometry& g,
                    Tensor<T>& y) {
  using namespace detail;
  const ConvSizes s = conv_sizes(x, weight, g);
  const int threads = num_threads();
  const bool by_image = split_batch(s.n, threads);
  const bool pointwise = g.is_pointwise();
  std::vector<std::vector<T>> scratch(by_image ? threads : 1);
  if (!pointwise)
    for (auto& buf : scratch) buf.resize(static_cast<std::size_t>(s.k * s.p));

  auto run_image = [&](std::int64_t n, T* cols, bool parallel) {
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      const T* image = x.data() + (n * s.c_in + grp * s.cin_g) * s.h * s.w;
      ConstMatrixMap<T> w_g(weight.data() + grp * s.cout_g * s.k, s.cout_g, s.k);
      MutMatrixMap<T> y_g(y.data() + (n * s.c_out + grp * s.cout_g) * s.p, s.cout_g, s.p);
      if (pointwise) {
        y_g.noalias() = w_g * ConstMatrixMap<T>(image, s.cin_g, s.p);
      } else {
        lower(image, s, g, cols, parallel);
        y_g.noalias() = w_g * ConstMatrixMap<T>(cols, s.k, s.p);
      }
      if (bias.defined())
        y_g.colwise() += Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(bias.data() + grp * s.cout_g, s.cout_g);
    }
  };

  if (by_image) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t n = 0; n < s.n; ++n) run_image(n, scratch[omp_get_thread_num()].data(), false);
  } else {
    for (std::int64_t n = 0; n < s.n; ++n) run_image(n, scratch[0].data(), true);
  }
}

/// Gradients of conv2d. Writes grad_x (when defined, overwritten) and adds into grad_weight and
/// grad_bias (when defined).
template <class T>
void conv2d_backward(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& grad_y, const Conv2dGeometry& g,
                     Tensor<T>* grad_x, Tensor<T>* grad_weight, Tensor<T>* grad_bias) {
  using namespace detail;
  const ConvSizes s = conv_sizes(x, weight, g);
  const int threads = num_threads();
  const bool by_image = split_batch(s.n, threads);
  const bool pointwise = g.is_pointwise();
  const std::size_t workers = by_image ? static_cast<std::size_t>(threads) : 1;
  const std::size_t col_size = pointwise ? 0 : static_cast<std::size_t>(s.k * s.p);
  std::vector<std::vector<T>> cols(workers, std::vector<T>(col_size));
  std::vector<std::vector<T>> dcols(grad_x ? workers : 0, std::vector<T>(col_size));
  // Per-worker weight-gradient accumulators, summed at the end, so threads never share writes.
  std::vector<RowMatrix<T>> dw_local;
  if (grad_weight)
    for (std::size_t i = 0; i < workers; ++i) dw_local.push_back(RowMatrix<T>::Zero(s.c_out, s.k));

  auto run_image = [&](std::int64_t n, std::size_t worker, bool parallel) {
    for (std::int64_t grp = 0; grp < g.groups; ++grp) {
      const T* image = x.data() + (n * s.c_in + grp * s.cin_g) * s.h * s.w;
      ConstMatrixMap<T> dy_g(grad_y.data() + (n * s.c_out + grp * s.cout_g) * s.p, s.cout_g, s.p);
      ConstMatrixMap<T> w_g(weight.data() + grp * s.cout_g * s.k, s.cout_g, s.k);
      if (grad_weight) {
        auto dw_g = dw_local[worker].middleRows(grp * s.cout_g, s.cout_g);
        if (pointwise) {
          dw_g.noalias() += dy_g * ConstMatrixMap<T>(image, s.cin_g, s.p).transpose();
        } else {
          lower(image, s, g, cols[worker].data(), parallel);
          dw_g.noalias() += dy_g * ConstMatrixMap<T>(cols[worker].data(), s.k, s.p).transpose();
        }
      }
      if (grad_x) {
        T* dx_image = grad_x->data() + (n * s.c_in + grp * s.cin_g) * s.h * s.w;
        if (pointwise) {
          MutMatrixMap<T>(dx_image, s.cin_g, s.p).noalias() = w_g.transpose() * dy_g;
        } else {
          MutMatrixMap<T> dcol(dcols[worker].data(), s.k, s.p);
          dcol.noalias() = w_g.transpose() * dy_g;
          std::fill(dx_image, dx_image + s.cin_g * s.h * s.w, T(0));
          if (parallel) {
#pragma omp parallel for num_threads(threads) schedule(static)
            for (std::int64_t c = 0; c < s.cin_g; ++c)
              col2im_add(dcol.data(), s.h, s.w, g, s.out_h, s.out_w, dx_image, c, c + 1);
          } else {
            col2im_add(dcol.data(), s.h, s.w, g, s.out_h, s.out_w, dx_image, 0, s.cin_g);
          }
        }
      }
    }
  };

  if (by_image) {
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t n = 0; n < s.n; ++n) run_image(n, static_cast<std::size_t>(omp_get_thread_num()), false);
  } else {
    for (std::int64_t n = 0; n < s.n; ++n) run_image(n, 0, true);
  }

  if (grad_weight) {
    MutMatrixMap<T> dw(grad_weight->data(), s.c_out, s.k);
    for (const auto& local : dw_local) dw += local;
  }
  if (grad_bias) {
    T* db = grad_bias->data();
    for (std::int64_t n = 0; n < s.n; ++n)
      for (std::int64_t o = 0; o < s.c_out; ++o) {
        const T* row = grad_y.data() + (n * s.c_out + o) * s.p;
        T sum = 0;
        for (std::int64_t i = 0; i < s.p; ++i) sum += row[i];
        db[o] += sum;
      }
  }
}

}  // namespace fcam::cpu
