/// \file
/// \brief Tensor<T>: a dense, row-major (NCHW for images) tensor of float or double with shared storage.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <type_traits>
#include <vector>

#include "fcam/core/device.hpp"
#include "fcam/core/error.hpp"
#include "fcam/core/shape.hpp"
#include "fcam/core/storage.hpp"

namespace fcam {

/// Scalar types fcam's tensors hold.
template <class T>
concept Scalar = std::same_as<T, float> || std::same_as<T, double>;

/// A dense, contiguous tensor. Copies are cheap handles that share the storage (like
/// torch.Tensor); clone() makes a deep copy. Views (batch(), reshape()) share storage too.
/// Every tensor is contiguous, so strides follow from the shape.
template <Scalar T>
class Tensor {
public:
  /// Element type.
  using value_type = T;

  /// An undefined tensor (defined() is false, numel() is 0).
  Tensor() = default;

  /// A zero-filled tensor of `shape` on `device`.
  /// requires: sizes >= 0; the device is available in this build.
  explicit Tensor(Shape shape, Device device = Device::cpu) : shape_(std::move(shape)) {
    check_shape_valid(shape_, sizeof(T));
    storage_ = std::make_shared<Storage<T>>(static_cast<std::size_t>(numel_of(shape_)), device);
  }

  /// A zero-filled CPU tensor.
  static Tensor zeros(Shape shape) { return Tensor(std::move(shape)); }

  /// A tensor whose values are unspecified: for outputs that are about to be overwritten
  /// entirely (saves the zero fill, a full pass over memory).
  static Tensor uninitialized(Shape shape, Device device = Device::cpu) {
    Tensor t;
    check_shape_valid(shape, sizeof(T));
    t.shape_ = std::move(shape);
    t.storage_ = std::make_shared<Storage<T>>(static_cast<std::size_t>(numel_of(t.shape_)), device, false);
    return t;
  }

  /// A CPU tensor in page-locked memory when a GPU is available (Storage::pinned), whose values
  /// are unspecified: a batch that is about to be filled and copied to the GPU without waiting.
  /// to() and copy_from() from it only enqueue the copy, so the host must not write it while such
  /// a copy may still run (its memory is reused only after the copy, even if the tensor dies).
  static Tensor uninitialized_pinned(Shape shape) {
    Tensor t;
    check_shape_valid(shape, sizeof(T));
    t.shape_ = std::move(shape);
    t.storage_ = Storage<T>::pinned(static_cast<std::size_t>(numel_of(t.shape_)), false);
    return t;
  }

  /// A CPU tensor with every element equal to `value`.
  static Tensor full(Shape shape, T value) {
    Tensor t(std::move(shape));
    t.fill(value);
    return t;
  }

  /// A CPU tensor holding `values` in row-major order. requires: values.size() == numel(shape).
  static Tensor from(Shape shape, const std::vector<T>& values) {
    Tensor t(std::move(shape));
    FCAM_CHECK(static_cast<std::int64_t>(values.size()) == t.numel(), "Tensor::from: ", values.size(),
               " values for shape ", to_string(t.shape()));
    std::copy(values.begin(), values.end(), t.data());
    return t;
  }

  /// False for a default-constructed tensor.
  bool defined() const { return storage_ != nullptr; }
  /// Sizes, outermost first.
  const Shape& shape() const { return shape_; }
  /// Row-major strides in elements.
  Shape strides() const { return contiguous_strides(shape_); }
  /// Number of dimensions.
  std::int64_t ndim() const { return static_cast<std::int64_t>(shape_.size()); }
  /// Size of dimension `dim`; negative counts from the end. Throws when out of range.
  std::int64_t size(std::int64_t dim) const {
    const std::int64_t d = dim < 0 ? dim + ndim() : dim;
    FCAM_CHECK(d >= 0 && d < ndim(), "Tensor::size: dimension ", dim, " out of range for shape ",
               to_string(shape_));
    return shape_[static_cast<std::size_t>(d)];
  }
  /// Number of elements.
  std::int64_t numel() const { return defined() ? numel_of(shape_) : 0; }
  /// Device of the storage (CPU for an undefined tensor).
  Device device() const { return storage_ ? storage_->device() : Device::cpu; }
  /// True when on the CPU.
  bool is_cpu() const { return device() == Device::cpu; }
  /// Whether it lives in page-locked CPU memory (uninitialized_pinned with a GPU available).
  bool is_pinned() const { return storage_ && storage_->is_pinned(); }

  /// True when both are views of the same elements (same storage, offset and shape).
  bool same_view(const Tensor& other) const {
    return storage_ == other.storage_ && offset_ == other.offset_ && shape_ == other.shape_;
  }

  /// First element (a device pointer for CUDA tensors); null when undefined.
  T* data() { return storage_ ? storage_->data() + offset_ : nullptr; }
  /// First element, read-only.
  const T* data() const { return storage_ ? storage_->data() + offset_ : nullptr; }

  /// Element at the given indices (CPU only, unchecked). The number of indices must equal ndim().
  template <std::integral... I>
  T& operator()(I... index) {
    return data()[linear_index(index...)];
  }
  /// Element at the given indices, read-only.
  template <std::integral... I>
  const T& operator()(I... index) const {
    return data()[linear_index(index...)];
  }
  /// Element at `index` with rank and bounds checks (CPU only).
  T& at(const std::vector<std::int64_t>& index) { return data()[checked_index(index)]; }
  /// Element at `index` with checks, read-only.
  const T& at(const std::vector<std::int64_t>& index) const { return data()[checked_index(index)]; }

  /// A view of `count` consecutive entries of dimension 0 starting at `first` (shares storage).
  Tensor batch(std::int64_t first, std::int64_t count = 1) const {
    FCAM_CHECK(ndim() >= 1, "Tensor::batch: tensor has no dimensions");
    FCAM_CHECK(first >= 0 && count >= 0 && first + count <= shape_[0], "Tensor::batch: range [", first, ", ",
               first + count, ") out of bounds for shape ", to_string(shape_));
    Tensor view = *this;
    view.shape_[0] = count;
    view.offset_ = offset_ + static_cast<std::size_t>(first * (numel_of(shape_) / std::max<std::int64_t>(shape_[0], 1)));
    return view;
  }

  /// A view with another shape and the same number of elements.
  Tensor reshape(Shape shape) const {
    check_shape_valid(shape);
    FCAM_CHECK(numel_of(shape) == numel(), "Tensor::reshape: cannot view ", to_string(shape_), " as ",
               to_string(shape));
    Tensor view = *this;
    view.shape_ = std::move(shape);
    return view;
  }

  /// A deep copy on the same device.
  Tensor clone() const { return to(device()); }

  /// A deep copy on `device` (an explicit transfer; CUDA needs a CUDA build). An undefined
  /// tensor stays undefined.
  Tensor to(Device device) const {
    if (!defined()) return Tensor();
    Tensor copy = uninitialized(shape_, device);  // copy_from writes every element
    copy.copy_from(*this);
    return copy;
  }

  /// Copies the values of `src` (same number of elements, any devices) into this tensor.
  void copy_from(const Tensor& src) {
    FCAM_CHECK(src.numel() == numel(), "Tensor::copy_from: ", to_string(src.shape()), " into ",
               to_string(shape_));
    const std::size_t bytes = static_cast<std::size_t>(numel()) * sizeof(T);
    if (bytes == 0) return;
    if (is_cpu() && src.is_cpu()) {
      std::copy(src.data(), src.data() + numel(), data());
      return;
    }
#if FCAM_WITH_CUDA
    if (is_cpu()) cuda::copy_device_to_host(data(), src.data(), bytes);
    else if (src.is_cpu()) cuda::copy_host_to_device(data(), src.data(), bytes);
    else cuda::copy_device_to_device(data(), src.data(), bytes);
#else
    fail("Tensor::copy_from: CUDA transfer in a build without CUDA");
#endif
  }

  /// Sets every element to `value` (CPU only).
  void fill(T value) {
    require_cpu("Tensor::fill");
    std::fill(data(), data() + numel(), value);
  }

  /// Sets every element to zero (on either device).
  void zero() {
    FCAM_CHECK(defined(), "Tensor::zero: tensor is undefined");
    if (is_cpu()) {
      fill(T(0));
      return;
    }
#if FCAM_WITH_CUDA
    cuda::fill_zero(data(), static_cast<std::size_t>(numel()) * sizeof(T));
#endif
  }

  /// A CPU copy converted to scalar type U.
  template <Scalar U>
  Tensor<U> cast() const {
    require_cpu("Tensor::cast");
    Tensor<U> out(shape_);
    std::transform(data(), data() + numel(), out.data(), [](T v) { return static_cast<U>(v); });
    return out;
  }

  /// Throws fcam::Error naming `what` unless the tensor is defined and on the CPU.
  void require_cpu(const char* what) const {
    FCAM_CHECK(defined(), what, ": tensor is undefined");
    FCAM_CHECK(is_cpu(), what, ": expects a CPU tensor, got a ", to_string(device()),
               " tensor (move it with .to(Device::cpu))");
  }

private:
  template <class... I>
  std::int64_t linear_index(I... index) const {
    const std::int64_t idx[] = {static_cast<std::int64_t>(index)...};
    std::int64_t linear = 0;
    for (std::size_t d = 0; d < sizeof...(I); ++d) linear = linear * shape_[d] + idx[d];
    return linear;
  }

  std::int64_t checked_index(const std::vector<std::int64_t>& index) const {
    require_cpu("Tensor::at");
    FCAM_CHECK(static_cast<std::int64_t>(index.size()) == ndim(), "Tensor::at: ", index.size(),
               " indices for shape ", to_string(shape_));
    std::int64_t linear = 0;
    for (std::size_t d = 0; d < index.size(); ++d) {
      FCAM_CHECK(index[d] >= 0 && index[d] < shape_[d], "Tensor::at: index ", index[d], " out of range in dimension ",
                 d, " of shape ", to_string(shape_));
      linear = linear * shape_[d] + index[d];
    }
    return linear;
  }

  std::shared_ptr<Storage<T>> storage_;
  std::size_t offset_ = 0;
  Shape shape_;
};

/// Throws fcam::Error naming `what` unless `a` and `b` have the same shape.
template <Scalar T>
void check_same_shape(const Tensor<T>& a, const Tensor<T>& b, const char* what) {
  FCAM_CHECK(a.shape() == b.shape(), what, ": shape mismatch ", to_string(a.shape()), " vs ",
             to_string(b.shape()));
}

/// Throws fcam::Error naming `what` unless `t` has `rank` dimensions.
template <Scalar T>
void check_rank(const Tensor<T>& t, std::int64_t rank, const char* what) {
  FCAM_CHECK(t.defined(), what, ": tensor is undefined");
  FCAM_CHECK(t.ndim() == rank, what, ": expects a ", rank, "-D tensor, got shape ", to_string(t.shape()));
}

}  // namespace fcam
