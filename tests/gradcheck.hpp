// Generic finite-difference gradient checker (central differences in double).
//
// For random upstream gradient r, the scalar L(x, θ) = Σ r·f(x, θ) has dL/dx = backward(r).
// Each input and parameter element is perturbed by ±eps and the numeric derivative
// (L(+) − L(−)) / 2eps is compared with the analytic one:
//     |analytic − numeric| <= atol + rtol·|numeric|,  eps = 1e-6, atol = 1e-7, rtol = 1e-5.
// Central differences in double have truncation error O(eps²·f''') ≈ 1e-12 and round-off
// ≈ 1e-16/eps ≈ 1e-10, far below that tolerance; real backward bugs give errors of order 1.
#pragma once

#include <catch2/catch.hpp>

#include <functional>
#include <string>
#include <vector>

#include <fcam/fcam.hpp>

namespace fcam::test {

using TensorD = Tensor<double>;

/// A differentiable function of several inputs with parameters.
struct GradCase {
  std::vector<TensorD> inputs;
  std::function<TensorD(const std::vector<TensorD>&)> forward;
  std::function<std::vector<TensorD>(const TensorD&)> backward;  // returns one gradient per input
  std::vector<std::pair<std::string, nn::Parameter<double>*>> params;
};

inline TensorD random_tensor(Shape shape, Rng& rng, double lo = -1.0, double hi = 1.0) {
  TensorD t(std::move(shape));
  for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = rng.uniform(lo, hi);
  return t;
}

inline double weighted_sum(const TensorD& y, const TensorD& r) {
  double s = 0;
  for (std::int64_t i = 0; i < y.numel(); ++i) s += y.data()[i] * r.data()[i];
  return s;
}

/// Checks every input and parameter gradient of `c`; `what` labels failures.
inline void check_gradients(GradCase c, const std::string& what, double eps = 1e-6, double atol = 1e-7,
                            double rtol = 1e-5) {
  INFO(what);
  Rng rng(1234);
  const TensorD y = c.forward(c.inputs);
  const TensorD r = random_tensor(y.shape(), rng);
  for (auto& [name, p] : c.params) p->grad.zero();
  const std::vector<TensorD> analytic_inputs = c.backward(r);
  REQUIRE(analytic_inputs.size() == c.inputs.size());

  auto loss = [&] { return weighted_sum(c.forward(c.inputs), r); };
  auto check_tensor = [&](TensorD& value, const TensorD& analytic, const std::string& label) {
    REQUIRE(analytic.shape() == value.shape());
    int failures = 0;
    for (std::int64_t i = 0; i < value.numel() && failures < 5; ++i) {
      const double saved = value.data()[i];
      value.data()[i] = saved + eps;
      const double plus = loss();
      value.data()[i] = saved - eps;
      const double minus = loss();
      value.data()[i] = saved;
      const double numeric = (plus - minus) / (2 * eps);
      const double a = analytic.data()[i];
      if (std::abs(a - numeric) > atol + rtol * std::abs(numeric)) {
        ++failures;
        FAIL_CHECK(label << "[" << i << "]: analytic " << a << " vs numeric " << numeric);
      }
    }
  };
  for (std::size_t k = 0; k < c.inputs.size(); ++k)
    if (analytic_inputs[k].defined()) check_tensor(c.inputs[k], analytic_inputs[k], what + " input " + std::to_string(k));
  for (auto& [name, p] : c.params) {
    const TensorD grad = p->grad.clone();
    check_tensor(p->value, grad, what + " parameter " + name);
  }
}

/// A GradCase for a single-input module; `before_forward` runs before each forward (e.g. reseeding dropout).
inline GradCase module_case(nn::Module<double>& m, TensorD x, std::function<void()> before_forward = {}) {
  GradCase c;
  c.inputs = {std::move(x)};
  c.forward = [&m, before_forward](const std::vector<TensorD>& in) {
    if (before_forward) before_forward();
    return m.forward(in[0]);
  };
  c.backward = [&m](const TensorD& g) { return std::vector<TensorD>{m.backward(g)}; };
  c.params = m.named_parameters();
  return c;
}

}  // namespace fcam::test

namespace fcam::test {

/// Randomises every parameter (so BatchNorm's γ, β are not the trivial 1, 0).
inline void uniform_params(nn::Module<double>& m, Rng& rng) {
  for (auto& [name, p] : m.named_parameters())
    for (std::int64_t i = 0; i < p->value.numel(); ++i) p->value.data()[i] = rng.uniform(0.5, 1.5);
}

}  // namespace fcam::test
