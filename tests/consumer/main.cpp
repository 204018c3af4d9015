// A downstream program that only knows find_package(fcam) and <fcam/fcam.hpp>, built without
// any -march flag: it must still run the fastest GEMM kernel of this CPU (chosen at run time),
// with the results of a naive convolution.
#include <fcam/fcam.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>

int main() {
  fcam::manual_seed(1);
  const std::int64_t cin = 5, cout = 7, h = 9, w = 11;
  fcam::nn::Conv2d<float> conv(cin, cout, fcam::Conv2dGeometry::square(3, 1, 1));
  fcam::Tensor<float> x = fcam::Tensor<float>::zeros({1, cin, h, w});
  for (std::int64_t i = 0; i < x.numel(); ++i) x.data()[i] = std::sin(0.37f * static_cast<float>(i));
  const fcam::Tensor<float> y = conv(x);
  if (y.shape() != fcam::Shape{1, cout, h, w}) return 1;
  const fcam::Tensor<float>& weight = conv.weight().value;
  const fcam::Tensor<float>& bias = conv.bias().value;
  double max_error = 0;
  for (std::int64_t o = 0; o < cout; ++o)
    for (std::int64_t r = 0; r < h; ++r)
      for (std::int64_t c = 0; c < w; ++c) {
        double sum = bias.defined() ? bias.data()[o] : 0.0;
        for (std::int64_t i = 0; i < cin; ++i)
          for (std::int64_t kr = 0; kr < 3; ++kr)
            for (std::int64_t kc = 0; kc < 3; ++kc) {
              const std::int64_t rr = r + kr - 1, cc = c + kc - 1;
              if (rr < 0 || rr >= h || cc < 0 || cc >= w) continue;
              sum += static_cast<double>(weight.data()[((o * cin + i) * 3 + kr) * 3 + kc]) * x.data()[(i * h + rr) * w + cc];
            }
        max_error = std::max(max_error, std::abs(sum - y.data()[(o * h + r) * w + c]));
      }
  std::cout << "fcam " << FCAM_VERSION_STRING << " consumer OK, output " << fcam::to_string(y.shape())
            << ", kernels " << fcam::cpu::isa_name(fcam::cpu::active_isa()) << ", max error vs naive " << max_error
            << "\n";
  return max_error < 1e-5 ? 0 : 2;
}
