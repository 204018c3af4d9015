/// \file
/// \brief nn::ModuleList: owned child modules of one type named "0", "1", … (PyTorch's
/// nn.ModuleList naming), for modules whose forward is not a one-tensor chain.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fcam/nn/module.hpp"

namespace fcam::nn {

/// An indexed list of owned modules of type M; it has no forward of its own.
template <Scalar T, class M>
class ModuleList : public ModuleBase<T> {
public:
  /// Constructs and appends a module, registered as "<index>"; returns a reference to it.
  template <class... Args>
  M& emplace(Args&&... args) {
    modules_.push_back(std::make_unique<M>(std::forward<Args>(args)...));
    this->register_module(std::to_string(modules_.size() - 1), *modules_.back());
    return *modules_.back();
  }
  /// Number of modules.
  std::size_t size() const { return modules_.size(); }
  /// Module at `index`.
  M& operator[](std::size_t index) { return *modules_.at(index); }

private:
  std::vector<std::unique_ptr<M>> modules_;
};

}  // namespace fcam::nn
