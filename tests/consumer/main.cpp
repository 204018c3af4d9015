// A downstream program that only knows find_package(fcam) and <fcam/fcam.hpp>.
#include <fcam/fcam.hpp>

#include <iostream>

int main() {
  fcam::manual_seed(1);
  fcam::nn::Conv2d<float> conv(3, 4, fcam::Conv2dGeometry::square(3, 1, 1));
  const fcam::Tensor<float> y = conv(fcam::Tensor<float>::full({1, 3, 8, 8}, 1.0f));
  if (y.shape() != fcam::Shape{1, 4, 8, 8}) return 1;
  std::cout << "fcam " << FCAM_VERSION_STRING << " consumer OK, output " << fcam::to_string(y.shape()) << "\n";
  return 0;
}
