/// \file
/// \brief A WSOL image dataset (wsolevaluation layout) and its batch loader: worker threads, a
/// bounded prefetch queue, batches in a fixed order, deterministic for a seed.
///
/// Determinism: the epoch's order is a permutation drawn from (seed, epoch), and each image's
/// random crop and flip from (seed, epoch, image index), so the batches do not depend on the
/// number of workers or on their timing.
///
/// Data-parallel training: with shard_count ranks, rank r reads positions r, r + shard_count, …
/// of the epoch's order (PyTorch's DistributedSampler): the ranks' batch k together hold the
/// images of batch k of one process with shard_count× the batch size. Workers build whole batches; the consumer receives
/// batch k only after batch k−1, and workers stay at most max(`prefetch`, `workers`) batches ahead.
#pragma once

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fcam/core/rng.hpp"
#include "fcam/core/tensor.hpp"
#include "fcam/data/image_io.hpp"
#include "fcam/data/transforms.hpp"
#include "fcam/data/wsol_metadata.hpp"

namespace fcam::data {

/// The images of one split: `<data_root>/<image id>` with the split's class labels (and its
/// boxes or masks, for evaluation).
struct WsolDataset {
  std::filesystem::path data_root;  ///< folder the image ids are relative to
  WsolMetadata metadata;            ///< the split's metadata

  /// Number of images.
  std::int64_t size() const { return static_cast<std::int64_t>(metadata.image_ids.size()); }
  /// Path of image i.
  std::filesystem::path image_path(std::int64_t i) const {
    return data_root / metadata.image_ids.at(static_cast<std::size_t>(i));
  }
};

/// Loader settings.
struct LoaderOptions {
  std::int64_t batch_size = 32;  ///< images per batch
  int workers = 2;               ///< loading threads (0: load on the calling thread)
  /// Batches built ahead of the consumer, at most; never fewer than `workers`, so that every
  /// worker has a batch to build (a GPU step at batch 32 needs more than 4 builders).
  int prefetch = 4;
  bool shuffle = true;           ///< a new order every epoch (else the split's order)
  bool drop_last = false;        ///< drop a final smaller batch
  bool skip_bad = false;         ///< skip unreadable images (counted) instead of failing
  std::uint64_t seed = 0;        ///< seeds the order, the crops and the flips
  TransformOptions transform;    ///< per-image transform
  int shard_rank = 0;            ///< data-parallel: this rank's shard of every epoch
  int shard_count = 1;           ///< ranks sharing each epoch (1: the whole dataset)
  /// Training: the order is padded with its first images to a multiple of shard_count, so that
  /// every rank takes as many steps. Evaluation (false): each image once, the shards may differ
  /// by one image.
  bool pad_shards = true;
  /// Batches in page-locked memory when a GPU is available (Tensor::uninitialized_pinned): their
  /// copies to the GPU then run without waiting. For a consumer that trains on a GPU.
  bool pinned = false;
};

/// A batch: inputs and raw values N×3×S×S, labels and dataset indices of its N images.
struct Batch {
  Tensor<float> inputs;               ///< normalised network inputs
  Tensor<float> raw;                  ///< 0–255, same crops and flips (for the CRF loss)
  std::vector<int> labels;            ///< class of each image
  std::vector<std::int64_t> indices;  ///< position of each image in the dataset
};

/// Loads the batches of one epoch at a time (start_epoch(), then next() until it returns
/// nothing). Errors of a worker (an unreadable image without skip_bad, naming it) are rethrown
/// by next(). Not copyable; the destructor stops the workers.
///
/// The loader refers to its dataset, which must outlive it: constructing one from a temporary
/// dataset (which would dangle) does not compile.
class DataLoader {
public:
  /// A loader of `dataset` (kept by reference; it must outlive the loader).
  DataLoader(const WsolDataset& dataset, LoaderOptions options) : dataset_(dataset), options_(std::move(options)) {
    FCAM_CHECK(options_.batch_size >= 1 && options_.workers >= 0 && options_.prefetch >= 1,
               "DataLoader: batch size and prefetch must be >= 1, workers >= 0");
    FCAM_CHECK(options_.shard_count >= 1 && options_.shard_rank >= 0 && options_.shard_rank < options_.shard_count,
               "DataLoader: shard ", options_.shard_rank, " of ", options_.shard_count, " does not exist");
    FCAM_CHECK(dataset.size() > 0, "DataLoader: the dataset is empty");
  }
  /// A temporary dataset would be destroyed while the loader still reads it.
  DataLoader(const WsolDataset&& dataset, LoaderOptions options) = delete;
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;
  ~DataLoader() { stop(); }

  /// Images this loader reads per epoch: the dataset, or this rank's shard of it.
  std::int64_t shard_size() const {
    const std::int64_t n = dataset_.size(), k = options_.shard_count;
    return options_.pad_shards ? (n + k - 1) / k : (n - options_.shard_rank + k - 1) / k;
  }
  /// Batches per epoch.
  std::int64_t batches_per_epoch() const {
    const std::int64_t n = shard_size(), b = options_.batch_size;
    return options_.drop_last ? n / b : (n + b - 1) / b;
  }
  /// Images skipped as unreadable so far (skip_bad), over all epochs.
  std::int64_t skipped() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return skipped_;
  }
  /// Paths of the skipped images (at most the first 100).
  std::vector<std::string> skipped_paths() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return skipped_paths_;
  }

  /// Starts loading epoch `epoch` (any running epoch is abandoned).
  void start_epoch(std::int64_t epoch) {
    stop();
    epoch_ = epoch;
    order_.resize(static_cast<std::size_t>(dataset_.size()));
    std::iota(order_.begin(), order_.end(), 0);
    if (options_.shuffle) {
      Rng rng(mix(options_.seed, static_cast<std::uint64_t>(epoch), 0x5eedull));
      rng.shuffle(order_);
    }
    if (options_.shard_count > 1) {
      const auto k = static_cast<std::size_t>(options_.shard_count);
      std::vector<std::int64_t> shard;
      for (std::size_t p = static_cast<std::size_t>(options_.shard_rank); shard.size() < static_cast<std::size_t>(shard_size()); p += k)
        shard.push_back(order_[p % order_.size()]);  // past the end: the padding, from the start
      order_ = std::move(shard);
    }
    next_to_claim_ = next_to_return_ = 0;
    ready_.clear();
    error_ = nullptr;
    stopping_ = false;
    for (int w = 0; w < options_.workers; ++w) workers_.emplace_back([this] { work(); });
  }

  /// The next batch of the epoch, in order; nothing at the end of the epoch.
  std::optional<Batch> next() {
    if (next_to_return_ >= batches_per_epoch()) return std::nullopt;
    if (options_.workers == 0) return build(next_to_return_++);
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return error_ || ready_.count(next_to_return_) > 0; });
    if (error_) std::rethrow_exception(error_);
    Batch batch = std::move(ready_.at(next_to_return_));
    ready_.erase(next_to_return_++);
    changed_.notify_all();
    return batch;
  }

private:
  /// How far ahead of the consumer the workers may claim batches (LoaderOptions::prefetch).
  std::int64_t ahead_limit() const { return std::max(options_.prefetch, options_.workers); }

  static std::uint64_t mix(std::uint64_t a, std::uint64_t b, std::uint64_t c) {
    std::uint64_t h = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
    h = (h ^ (h >> 31)) * 0xbf58476d1ce4e5b9ull ^ (c + 0x94d049bb133111ebull);
    return h ^ (h >> 29);
  }

  void work() {
    while (true) {
      std::int64_t k;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        changed_.wait(lock, [&] {
          return stopping_ || error_ || next_to_claim_ >= batches_per_epoch() ||
                 next_to_claim_ < next_to_return_ + ahead_limit();
        });
        if (stopping_ || error_ || next_to_claim_ >= batches_per_epoch()) return;
        k = next_to_claim_++;
      }
      try {
        Batch batch = build(k);
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.emplace(k, std::move(batch));
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
      changed_.notify_all();
    }
  }

  /// Loads and transforms batch k of the current epoch.
  Batch build(std::int64_t k) {
    const std::int64_t first = k * options_.batch_size;
    const std::int64_t last = std::min(first + options_.batch_size, static_cast<std::int64_t>(order_.size()));
    const std::int64_t s = options_.transform.crop_size;
    std::vector<TransformedImage> images;
    Batch batch;
    for (std::int64_t p = first; p < last; ++p) {
      const std::int64_t index = order_[static_cast<std::size_t>(p)];
      Rgb8 image;
      try {
        image = read_rgb8(dataset_.image_path(index));
      } catch (const Error&) {
        if (!options_.skip_bad) throw;
        std::lock_guard<std::mutex> lock(mutex_);
        ++skipped_;
        if (skipped_paths_.size() < 100) skipped_paths_.push_back(dataset_.image_path(index).string());
        continue;
      }
      Rng rng(mix(options_.seed, static_cast<std::uint64_t>(epoch_), static_cast<std::uint64_t>(index) + 1));
      images.push_back(transform_image(image, options_.transform, rng));
      batch.labels.push_back(dataset_.metadata.labels.at(static_cast<std::size_t>(index)));
      batch.indices.push_back(index);
    }
    const auto n = static_cast<std::int64_t>(images.size());
    const auto make = [this](Shape shape) {
      return options_.pinned ? Tensor<float>::uninitialized_pinned(std::move(shape))
                             : Tensor<float>::uninitialized(std::move(shape));
    };
    batch.inputs = make({n, 3, s, s});
    batch.raw = make({n, 3, s, s});
    for (std::int64_t i = 0; i < n; ++i) {
      batch.inputs.batch(i).copy_from(images[static_cast<std::size_t>(i)].input.reshape({1, 3, s, s}));
      batch.raw.batch(i).copy_from(images[static_cast<std::size_t>(i)].raw.reshape({1, 3, s, s}));
    }
    return batch;
  }

  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }

  const WsolDataset& dataset_;
  LoaderOptions options_;
  std::int64_t epoch_ = 0;
  std::vector<std::int64_t> order_;
  std::int64_t next_to_claim_ = 0, next_to_return_ = 0;
  std::map<std::int64_t, Batch> ready_;
  std::exception_ptr error_;
  bool stopping_ = false;
  std::int64_t skipped_ = 0;
  std::vector<std::string> skipped_paths_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::thread> workers_;
};

}  // namespace fcam::data
