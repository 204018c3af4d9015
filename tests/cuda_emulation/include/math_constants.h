/// \file
/// \brief The CUDA emulation's stand-in for math_constants.h (the constants fcam's kernels use).
#pragma once

#include <limits>

#define CUDART_INF_F (std::numeric_limits<float>::infinity())
