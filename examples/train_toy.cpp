// fcam-train-toy: builds a small CNN with fcam's modules and trains it on generated images.
//
// Each 32×32 RGB image holds one bright shape on noise at a random place and colour; the label is
// the shape (disc, square, horizontal bar, vertical bar). A conv-BN-ReLU network with a global-average-pool + linear head (the WGAP
// classifier shape used by F-CAM) learns it in a few dozen SGD steps; the loss goes down.
//
// Usage: fcam-train-toy [--steps N] [--batch N] [--lr X] [--seed N] [--threads N]
#include <fcam/fcam.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Options {
  int steps = 100;
  int batch = 32;
  double lr = 0.05;
  std::uint64_t seed = 1;
  int threads = 0;  // 0: keep fcam's default (FCAM_NUM_THREADS or all cores)
};

// The number in `text`, or fcam::Error naming the option.
template <class N>
N parse_number(const std::string& option, const std::string& text) {
  std::istringstream in(text);
  N value{};
  if (!(in >> value) || !in.eof()) fcam::fail("invalid value '", text, "' for ", option);
  return value;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fcam::fail("missing value after ", arg);
      return argv[++i];
    };
    if (arg == "--steps") o.steps = parse_number<int>(arg, value());
    else if (arg == "--batch") o.batch = parse_number<int>(arg, value());
    else if (arg == "--lr") o.lr = parse_number<double>(arg, value());
    else if (arg == "--seed") o.seed = parse_number<std::uint64_t>(arg, value());
    else if (arg == "--threads") o.threads = parse_number<int>(arg, value());
    else if (arg == "--help" || arg == "-h") {
      std::puts("usage: fcam-train-toy [--steps 100] [--batch 32] [--lr 0.05] [--seed 1] [--threads N]");
      std::exit(0);
    } else {
      fcam::fail("unknown option '", arg, "' (try --help)");
    }
  }
  FCAM_CHECK(o.steps >= 1 && o.batch >= 2 && o.lr > 0, "--steps >= 1, --batch >= 2 and --lr > 0 are required");
  return o;
}

// A batch of shape images and their labels.
void make_batch(fcam::Rng& rng, int batch, fcam::Tensor<float>& images, std::vector<std::int64_t>& labels) {
  const int size = 32;
  images = fcam::Tensor<float>({batch, 3, size, size});
  labels.assign(static_cast<std::size_t>(batch), 0);
  for (int b = 0; b < batch; ++b) {
    const int label = static_cast<int>(rng.below(4));
    labels[static_cast<std::size_t>(b)] = label;
    const double cy = rng.uniform(8, 24), cx = rng.uniform(8, 24);
    const double tint[3] = {rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5), rng.uniform(0.5, 1.5)};
    for (int y = 0; y < size; ++y)
      for (int x = 0; x < size; ++x) {
        const double dy = std::abs(y - cy), dx = std::abs(x - cx);
        const bool inside = label == 0 ? dy * dy + dx * dx < 30.0
                            : label == 1 ? dy < 5 && dx < 5
                            : label == 2 ? dy < 2 && dx < 8
                                         : dy < 8 && dx < 2;
        for (int c = 0; c < 3; ++c)
          images(b, c, y, x) = static_cast<float>((inside ? tint[c] : 0.0) + 0.2 * rng.normal());
      }
  }
}

// SGD with momentum 0.9 (the full optimiser with Nesterov and schedules comes with fcam-train).
struct Sgd {
  std::vector<std::pair<std::string, fcam::nn::Parameter<float>*>> params;
  std::vector<fcam::Tensor<float>> velocity;
  float lr, momentum = 0.9f;
  Sgd(fcam::nn::Module<float>& m, float learning_rate) : params(m.named_parameters()), lr(learning_rate) {
    for (auto& [name, p] : params) velocity.emplace_back(p->value.shape());
  }
  void step() {
    for (std::size_t i = 0; i < params.size(); ++i) {
      float* w = params[i].second->value.data();
      const float* g = params[i].second->grad.data();
      float* v = velocity[i].data();
      for (std::int64_t k = 0; k < velocity[i].numel(); ++k) {
        v[k] = momentum * v[k] + g[k];
        w[k] -= lr * v[k];
      }
    }
  }
};

int run(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  if (opt.threads > 0) fcam::set_num_threads(opt.threads);
  fcam::manual_seed(opt.seed);
  fcam::Rng data_rng(opt.seed + 1000);

  using namespace fcam::nn;
  Sequential<float> net;
  net.emplace<Conv2d<float>>(3, 16, fcam::Conv2dGeometry::square(3, 1, 1), false);
  net.emplace<BatchNorm2d<float>>(16);
  net.emplace<ReLU<float>>();
  net.emplace<MaxPool2d<float>>(fcam::Pool2dGeometry{2});
  net.emplace<Conv2d<float>>(16, 32, fcam::Conv2dGeometry::square(3, 1, 1), false);
  net.emplace<BatchNorm2d<float>>(32);
  net.emplace<ReLU<float>>();
  net.emplace<GlobalAvgPool2d<float>>();
  net.emplace<Linear<float>>(32, 4);
  Sgd sgd(net, static_cast<float>(opt.lr));

  std::printf("fcam %s toy trainer: %lld parameters, %d threads, %d steps of batch %d\n", FCAM_VERSION_STRING,
              static_cast<long long>(net.parameter_count()), fcam::num_threads(), opt.steps, opt.batch);
  const auto start = std::chrono::steady_clock::now();
  double first_loss = 0, running = 0;
  fcam::Tensor<float> images;
  std::vector<std::int64_t> labels;
  for (int step = 1; step <= opt.steps; ++step) {
    make_batch(data_rng, opt.batch, images, labels);
    net.zero_grad();
    const auto ce = fcam::cross_entropy(net.forward(images), labels);
    net.backward(ce.grad);
    sgd.step();
    if (step == 1) first_loss = running = ce.loss;
    running = 0.8 * running + 0.2 * ce.loss;
    if (step == 1 || step % 10 == 0 || step == opt.steps) {
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("step %4d/%d  loss %.4f  (smoothed %.4f)  %.0f img/s  ETA %.1fs\n", step, opt.steps, ce.loss,
                  running, step * opt.batch / secs, secs / step * (opt.steps - step));
      std::fflush(stdout);
    }
  }
  net.eval();
  make_batch(data_rng, 256, images, labels);
  fcam::NoGradGuard no_grad;
  const fcam::Tensor<float> logits = net.forward(images);
  int correct = 0;
  for (int b = 0; b < 256; ++b) {
    int best = 0;
    for (int k = 1; k < 4; ++k)
      if (logits(b, k) > logits(b, best)) best = k;
    correct += best == labels[static_cast<std::size_t>(b)];
  }
  std::printf("loss %.4f -> %.4f; held-out accuracy %.1f%% (chance 25%%)\n", first_loss, running, 100.0 * correct / 256);
  return running < first_loss ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fcam-train-toy: %s\n", e.what());
    return 2;
  }
}
