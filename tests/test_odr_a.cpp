// Translation unit A of the ODR test: both TUs include the umbrella and use the same inline code.
#include <fcam/fcam.hpp>

float odr_unit_a() {
  fcam::nn::Conv2d<float> conv(2, 2, fcam::Conv2dGeometry::square(3, 1, 1));
  return fcam::relu(conv(fcam::Tensor<float>::full({1, 2, 4, 4}, 1.0f))).numel();
}
