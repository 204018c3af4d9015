// safetensors reading/writing, header validation and state dicts.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include <fcam/fcam.hpp>

using namespace fcam;
using namespace fcam::io;
using Catch::Contains;

namespace {

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() / ("fcam_test_" + name);
}

// A file with a hand-written header and `data_bytes` zero bytes of data.
std::string raw_file(const std::string& header, std::size_t data_bytes) {
  std::string out(8, '\0');
  const std::uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + std::string(data_bytes, '\0');
}

// Peak resident memory of this process so far, in bytes (Linux reports kilobytes).
std::int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;
}

}  // namespace

// Runs first in this file, while the process is small, so that the peak RSS measures the reads.
TEST_CASE("metadata and shapes are read from the header alone, never the tensor data", "[safetensors][header]") {
  // A checkpoint-like file whose one tensor declares 512 MiB of data (a sparse file): reading
  // its configuration must not read (or allocate) the data.
  const std::int64_t numel = std::int64_t{1} << 27;  // F32: 512 MiB
  const std::string header =
      R"({"classification_head.fc.weight":{"dtype":"F32","shape":[)" + std::to_string(numel / 4) +
      R"(,4],"data_offsets":[0,)" + std::to_string(numel * 4) + R"(]},"__metadata__":{"fcam.arch":"resnet18",)"
      R"("fcam.num_classes":"3","fcam.base_width":"8","fcam.mean":"[0.5,0.5,0.5]","fcam.std":"[0.25,0.25,0.25]",)"
      R"("fcam.training":"{}"}})";
  const auto path = temp_path("header_only.safetensors");
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    const std::string head = raw_file(header, 0);
    out.write(head.data(), static_cast<std::streamsize>(head.size()));
  }
  std::filesystem::resize_file(path, 8 + header.size() + static_cast<std::uint64_t>(numel) * 4);
  const std::int64_t before = peak_rss_bytes();

  const SafetensorsHeader h = read_safetensors_header(path);
  CHECK(h.metadata.at("fcam.arch") == "resnet18");
  CHECK(h.data_start == 8 + header.size());
  const TensorInfo& w = h.tensors.at("classification_head.fc.weight");
  CHECK(w.dtype == DType::f32);
  CHECK(w.shape == Shape{numel / 4, 4});
  CHECK(w.end - w.begin == static_cast<std::uint64_t>(numel) * 4);
  const models::ModelConfig config = models::read_model_config(path);
  CHECK(config.arch == models::Arch::resnet18);
  CHECK(config.num_classes == 3);
  CHECK(config.base_width == 8);
  CHECK(config.normalization.std == std::array<float, 3>{0.25f, 0.25f, 0.25f});
  CHECK(models::checkpoint_num_classes(path) == numel / 4);
  // Reading the whole file would have raised the peak by 512 MiB at least.
  CHECK(peak_rss_bytes() - before < (std::int64_t{64} << 20));
  std::filesystem::remove(path);
}

TEST_CASE("the header reader agrees with the full reader and names the file in errors", "[safetensors][header]") {
  SafetensorsFile f;
  f.tensors["b"] = TensorRecord::from_tensor(Tensor<float>::from({2, 2}, {1, 2, 3, 4}), DType::f16);
  f.tensors["a"] = TensorRecord::from_tensor(Tensor<float>::from({3}, {1, 2, 3}), DType::f64);
  f.metadata["format"] = "pt";
  const auto path = temp_path("header.safetensors");
  write_safetensors(path, f);
  const SafetensorsHeader h = read_safetensors_header(path);
  const SafetensorsFile g = read_safetensors(path);
  CHECK(h.metadata == g.metadata);
  REQUIRE(h.tensors.size() == 2);
  const std::string bytes = read_file(path);
  for (const auto& [name, info] : h.tensors) {
    CHECK(info.dtype == g.at(name).dtype);
    CHECK(info.shape == g.at(name).shape);
    CHECK(bytes.substr(h.data_start + info.begin, info.end - info.begin) == g.at(name).bytes);
  }

  const std::string ok = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  auto write_raw = [&](const std::string& name, const std::string& content) {
    const auto p = temp_path(name);
    std::ofstream(p, std::ios::binary | std::ios::trunc) << content;
    return p;
  };
  const auto tiny = write_raw("h_tiny.st", "abc");
  CHECK_THROWS_WITH(read_safetensors_header(tiny), Contains(tiny.string() + ": not a safetensors file"));
  const auto cut = write_raw("h_cut.st", raw_file(ok, 8).substr(0, 20));
  CHECK_THROWS_WITH(read_safetensors_header(cut), Contains(cut.string() + ": header length") && Contains("truncated"));
  const auto shrt = write_raw("h_short.st", raw_file(ok, 4));
  CHECK_THROWS_WITH(read_safetensors_header(shrt),
                    Contains(shrt.string() + ": tensor 'w': data_offsets [0, 8] exceed the data buffer of 4 bytes"));
  const auto bad = write_raw("h_json.st", raw_file(R"({"w":{"dtype":"F32",)", 0));
  CHECK_THROWS_WITH(read_safetensors_header(bad), Contains(bad.string() + ": header: invalid JSON"));
  CHECK_THROWS_WITH(read_safetensors_header(temp_path("does_not_exist.safetensors")),
                    Contains("does_not_exist.safetensors: cannot open file"));
  const auto plain = write_raw("h_plain.st", raw_file(ok, 8));
  CHECK_THROWS_WITH(models::read_model_config(plain),
                    Contains(plain.string() + ": not an fcam checkpoint (no 'fcam.arch' metadata)"));
  for (const auto& p : {path, tiny, cut, shrt, bad, plain}) std::filesystem::remove(p);
}

TEST_CASE("round trip for every dtype", "[safetensors]") {
  Tensor<double> t = Tensor<double>::from({2, 3}, {0.0, -1.5, 3.25, 65504.0, 1e-3, -7.0});
  for (DType dtype : {DType::f32, DType::f64, DType::f16, DType::bf16, DType::i64}) {
    SafetensorsFile f;
    f.tensors["a.weight"] = TensorRecord::from_tensor(t, dtype);
    f.tensors["b"] = TensorRecord::from_tensor(Tensor<double>::from({1}, {2.0}), dtype);
    f.metadata["format"] = "pt";
    const auto path = temp_path(std::string("roundtrip_") + dtype_name(dtype) + ".safetensors");
    write_safetensors(path, f);
    const SafetensorsFile g = read_safetensors(path);
    REQUIRE(g.tensors.size() == 2);
    CHECK(g.metadata.at("format") == "pt");
    const TensorRecord& rec = g.at("a.weight");
    CHECK(rec.dtype == dtype);
    CHECK(rec.shape == Shape{2, 3});
    const Tensor<double> back = rec.to_tensor<double>();
    for (std::int64_t i = 0; i < t.numel(); ++i) {
      const double v = t.data()[i];
      const double expected = dtype == DType::f64 ? v
                              : dtype == DType::f32 ? static_cast<double>(static_cast<float>(v))
                              : dtype == DType::f16 ? static_cast<double>(half_to_float(float_to_half(static_cast<float>(v))))
                              : dtype == DType::bf16 ? static_cast<double>(bfloat16_to_float(float_to_bfloat16(static_cast<float>(v))))
                                                     : std::round(v);
      CHECK(back.data()[i] == expected);
    }
    std::filesystem::remove(path);
  }
}

TEST_CASE("half and bfloat16 conversions match IEEE values", "[safetensors][half]") {
  CHECK(float_to_half(1.0f) == 0x3C00);
  CHECK(float_to_half(-2.0f) == 0xC000);
  CHECK(float_to_half(65504.0f) == 0x7BFF);
  CHECK(float_to_half(1e6f) == 0x7C00);
  CHECK(float_to_half(5.960464477539063e-08f) == 0x0001);  // smallest subnormal
  CHECK(float_to_half(1.0009765625f) == 0x3C01);
  CHECK(float_to_half(1.00048828125f) == 0x3C00);           // halfway rounds to even
  CHECK(half_to_float(0x3555) == Approx(0.333251953125f));
  CHECK(half_to_float(0x0001) == 5.960464477539063e-08f);
  CHECK(std::isinf(half_to_float(0x7C00)));
  CHECK(std::isnan(half_to_float(0x7E00)));
  CHECK(float_to_bfloat16(1.0f) == 0x3F80);
  CHECK(bfloat16_to_float(0x4049) == 3.140625f);
  CHECK(float_to_bfloat16(1.00390625f) == 0x3F80);          // halfway rounds to even
  CHECK(std::isnan(bfloat16_to_float(float_to_bfloat16(std::numeric_limits<float>::quiet_NaN()))));
  for (std::uint32_t h = 0; h < 0x7C00; ++h)  // every finite positive half survives a round trip
    REQUIRE(float_to_half(half_to_float(static_cast<std::uint16_t>(h))) == h);
}

TEST_CASE("corrupt or inconsistent files are rejected with the file and tensor named", "[safetensors][errors]") {
  const std::string ok = R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  CHECK_NOTHROW(parse_safetensors(raw_file(ok, 8), "ok.st"));
  CHECK_THROWS_WITH(parse_safetensors("abc", "tiny.st"), Contains("tiny.st: not a safetensors file"));
  CHECK_THROWS_WITH(parse_safetensors(raw_file(ok, 8).substr(0, 20), "cut.st"),
                    Contains("cut.st: header length") && Contains("truncated"));
  CHECK_THROWS_WITH(parse_safetensors(raw_file(ok, 4), "short.st"),
                    Contains("short.st: tensor 'w': data_offsets [0, 8] exceed the data buffer of 4 bytes"));
  CHECK_THROWS_WITH(parse_safetensors(raw_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "f.st"),
                    Contains("f.st: tensor 'w': 8 bytes stored but dtype F32 and shape [3] need 12"));
  CHECK_THROWS_WITH(
      parse_safetensors(raw_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})", 12), "o.st"),
      Contains("o.st: tensors 'a' and 'b' overlap"));
  CHECK_THROWS_WITH(parse_safetensors(raw_file(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1), "d.st"),
                    Contains("d.st: tensor 'w': unsupported dtype 'U8'"));
  CHECK_THROWS_WITH(parse_safetensors(raw_file(R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", 0), "s.st"),
                    Contains("s.st: tensor 'w' shape: expected a non-negative integer"));
  // Sizes whose product wraps around 2^64 (to 0 here, once matching empty data) are refused.
  CHECK_THROWS_WITH(
      parse_safetensors(raw_file(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0), "x.st"),
      Contains("x.st: tensor 'w': shape [4294967296, 4294967296]: too many elements"));
  CHECK_THROWS_WITH(
      parse_safetensors(raw_file(R"({"w":{"dtype":"F64","shape":[1125899906842624,1048576],"data_offsets":[0,0]}})", 0), "y.st"),
      Contains("y.st: tensor 'w': shape") && Contains("too many elements"));
  CHECK_THROWS_WITH(parse_safetensors(raw_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4), "r.st"),
                    Contains("r.st: tensor 'w': data_offsets [4, 0] are reversed"));
  CHECK_THROWS_WITH(parse_safetensors(raw_file(R"({"w":{"dtype":"F32","shape":[1]}})", 4), "m.st"),
                    Contains("m.st: tensor 'w': missing 'data_offsets'"));
  CHECK_THROWS_WITH(parse_safetensors(raw_file(R"({"w":{"dtype":"F32",)", 0), "j.st"),
                    Contains("j.st: header: invalid JSON"));
  CHECK_THROWS_WITH(read_safetensors(temp_path("does_not_exist.safetensors")),
                    Contains("does_not_exist.safetensors: cannot open file"));
  // A directory: both readers say so (the header reader used to say "read failed").
  const auto dir = temp_path("a_directory.safetensors");
  std::filesystem::create_directories(dir);
  CHECK_THROWS_WITH(read_safetensors(dir), Contains("a_directory.safetensors is a directory, not a file"));
  CHECK_THROWS_WITH(read_safetensors_header(dir), Contains("a_directory.safetensors is a directory, not a file"));
}

TEST_CASE("state dict save, load, strict name checks and shape errors", "[safetensors][state_dict]") {
  manual_seed(3);
  models::Bottleneck<float> a(8, 2, 2);
  a.forward(Tensor<float>::full({2, 8, 4, 4}, 0.5f));  // moves the running statistics off their defaults
  const auto path = temp_path("bottleneck.safetensors");
  save_safetensors(a, path);
  manual_seed(99);
  models::Bottleneck<float> b(8, 2, 2);
  load_safetensors(b, path);
  auto sa = state_dict(a), sb = state_dict(b);
  REQUIRE(sa.size() == sb.size());
  for (auto& [name, t] : sa)
    for (std::int64_t i = 0; i < t.numel(); ++i) REQUIRE(sb.at(name).data()[i] == t.data()[i]);
  CHECK(sb.at("bn1.num_batches_tracked").data()[0] == 1.0f);

  SafetensorsFile file = read_safetensors(path);
  file.tensors.erase("conv2.weight");
  file.tensors["extra.weight"] = file.tensors.at("conv1.weight");
  CHECK_THROWS_WITH(load_state_dict(b, file, true, "ckpt.st"),
                    Contains("ckpt.st: state dict does not match the model; missing 'conv2.weight' unexpected 'extra.weight'"));
  const nn::LoadReport report = load_state_dict(b, file, false);
  CHECK(report.missing == std::vector<std::string>{"conv2.weight"});
  CHECK(report.unexpected == std::vector<std::string>{"extra.weight"});
  file.tensors["conv1.weight"] = TensorRecord::from_tensor(Tensor<float>({3, 3}), DType::f32);
  CHECK_THROWS_WITH(load_state_dict(b, file, false, "ckpt.st"),
                    Contains("ckpt.st: tensor 'conv1.weight' has shape [3, 3] but the model expects [2, 8, 1, 1]"));
  std::filesystem::remove(path);
}

TEST_CASE("headers that copy raw file bytes refuse big-endian hosts at compile time", "[safetensors][endian]") {
  // A source scan of io/, where files are read and written: every header that copies bytes
  // between a file buffer and native values (memcpy, char-pointer casts) states the byte order.
  std::vector<std::string> copying;
  for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(FCAM_INCLUDE_DIR) / "fcam" / "io")) {
    const std::string text = read_file(entry.path());
    if (text.find("memcpy(") == std::string::npos && text.find("reinterpret_cast<const char*>") == std::string::npos &&
        text.find("reinterpret_cast<char*>") == std::string::npos)
      continue;
    copying.push_back(entry.path().filename().string());
    INFO(entry.path().string());
    CHECK(text.find("static_assert(std::endian::native == std::endian::little,") != std::string::npos);
  }
  std::sort(copying.begin(), copying.end());
  CHECK(copying == std::vector<std::string>{"npy.hpp", "safetensors.hpp"});
}

TEST_CASE("JSON parser and writer", "[json]") {
  const json::Value v = json::parse(R"( {"a": [1, 2.5, "x\n\u00e9"], "b": {"c": true, "d": null}} )");
  CHECK(json::dump(v) == "{\"a\":[1,2.5,\"x\\n\xc3\xa9\"],\"b\":{\"c\":true,\"d\":null}}");
  CHECK_THROWS_WITH(json::parse("{\"a\":1,\"a\":2}"), Contains("duplicate key"));
  CHECK_THROWS_WITH(json::parse("[1,]"), Contains("invalid JSON"));
  CHECK_THROWS_WITH(json::parse("{} x"), Contains("trailing characters"));
}

TEST_CASE("JSON integers are exact over the whole 64-bit range (seeds survive a round trip)", "[json]") {
  const std::uint64_t big = (std::uint64_t{1} << 63) + 5, max = std::numeric_limits<std::uint64_t>::max();
  const std::int64_t min = std::numeric_limits<std::int64_t>::min();
  // Written and read back exactly.
  for (const std::uint64_t seed : {std::uint64_t{0}, std::uint64_t{1} << 53 | 1, big, max}) {
    const std::string text = json::dump(json::Object{{"seed", seed}});
    CHECK(text == "{\"seed\":" + std::to_string(seed) + "}");
    CHECK(json::parse(text).as<json::Object>("o").at("seed").as<std::uint64_t>("seed") == seed);
  }
  CHECK(json::dump(json::Value(min)) == "-9223372036854775808");
  CHECK(json::parse("-9223372036854775808").as<std::int64_t>("n") == min);
  CHECK(json::parse("18446744073709551615").as<std::uint64_t>("n") == max);
  CHECK(json::parse("9223372036854775813").as<std::uint64_t>("n") == big);
  // Any number reads as a double; integral doubles read as integers; the rest is an error.
  CHECK(json::parse("3").as<double>("n") == 3.0);
  CHECK(json::parse("3").is<double>());
  CHECK(json::parse("2.5e3").as<std::int64_t>("n") == 2500);
  CHECK(json::parse("1e300").as<double>("n") == 1e300);
  CHECK(json::parse("18446744073709551616").as<double>("n") == 18446744073709551616.0);  // beyond uint64: a double
  CHECK_FALSE(json::parse("18446744073709551616").is<std::uint64_t>());
  CHECK_THROWS_WITH(json::parse("-1").as<std::uint64_t>("seed"), Contains("seed: expected an integer in [0, 18446744073709551615]"));
  CHECK_THROWS_WITH(json::parse("9223372036854775808").as<std::int64_t>("n"), Contains("n: expected an integer in"));
  CHECK_THROWS_WITH(json::parse("0.5").as<std::uint64_t>("seed"), Contains("seed: expected an integer"));
  CHECK_THROWS_WITH(json::parse("\"7\"").as<std::uint64_t>("seed"), Contains("seed: expected an integer"));
  CHECK_THROWS_WITH(json::parse("1-2"), Contains("bad number"));
  // The trainer's settings (the checkpoints' "fcam.training") keep a 64-bit seed exactly.
  for (const std::uint64_t seed : {big, max}) {
    train::TrainConfig c;
    c.seed = seed;
    const json::Value settings = json::parse(train::detail::config_json(c));
    CHECK(settings.as<json::Object>("training").at("seed").as<std::uint64_t>("seed") == seed);
  }
}
