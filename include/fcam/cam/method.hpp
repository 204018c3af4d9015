/// \file
/// \brief The six WSOL baselines of the paper (its table order), with their names and labels:
/// the one list every program, benchmark and test reads.
#pragma once

#include <array>
#include <string_view>

#include "fcam/core/names.hpp"

namespace fcam::cam {

/// A CAM method (docs/method.md §4).
enum class Method {
  cam,        ///< Σ_k w_ck A_k, no ReLU
  gradcam,    ///< ReLU(Σ_k mean_ij(g_k) A_k)
  gradcampp,  ///< ReLU(Σ_k (Σ_ij α_kij ReLU(g_kij)) A_k), α as in the paper (or the reference)
  sgcampp,    ///< Smooth-GradCAM++: GradCAM++ over noisy copies of the input
  xgradcam,   ///< ReLU(Σ_k (Σ_ij g·A / Σ_ij A) A_k)
  layercam,   ///< ReLU(Σ_k ReLU(g_kij) A_kij)
};

/// Every method with its name and label, in the paper's table order.
inline constexpr std::array<NamedValue<Method>, 6> method_table{{
    {Method::cam, "cam", "CAM"},
    {Method::gradcam, "gradcam", "GradCAM"},
    {Method::gradcampp, "gradcampp", "GradCAM++"},
    {Method::sgcampp, "sgcampp", "Smooth-GradCAM++"},
    {Method::xgradcam, "xgradcam", "XGradCAM"},
    {Method::layercam, "layercam", "LayerCAM"},
}};

/// "gradcampp", … (flags, files, JSON).
inline std::string_view method_name(Method m) { return entry_of(method_table, m).name; }
/// "GradCAM++", … (tables, pictures).
inline std::string_view method_label(Method m) { return entry_of(method_table, m).label; }
/// The method named `name`; an error listing the names otherwise.
inline Method parse_method(std::string_view name) { return parse_named(method_table, name, "CAM method"); }
/// True for the methods computed in closed form from one forward pass (all but Smooth-GradCAM++,
/// which needs noisy passes of the input).
inline bool closed_form(Method m) { return m != Method::sgcampp; }

}  // namespace fcam::cam
