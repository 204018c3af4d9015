// safetensors reading/writing, header validation and state dicts.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
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

}  // namespace

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
  CHECK_THROWS_WITH(parse_safetensors(raw_file(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", 4), "r.st"),
                    Contains("r.st: tensor 'w': data_offsets [4, 0] are reversed"));
  CHECK_THROWS_WITH(parse_safetensors(raw_file(R"({"w":{"dtype":"F32","shape":[1]}})", 4), "m.st"),
                    Contains("m.st: tensor 'w': missing 'data_offsets'"));
  CHECK_THROWS_WITH(parse_safetensors(raw_file(R"({"w":{"dtype":"F32",)", 0), "j.st"),
                    Contains("j.st: header: invalid JSON"));
  CHECK_THROWS_WITH(read_safetensors(temp_path("does_not_exist.safetensors")),
                    Contains("does_not_exist.safetensors: cannot open file"));
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
  const LoadReport report = load_state_dict(b, file, false);
  CHECK(report.missing == std::vector<std::string>{"conv2.weight"});
  CHECK(report.unexpected == std::vector<std::string>{"extra.weight"});
  file.tensors["conv1.weight"] = TensorRecord::from_tensor(Tensor<float>({3, 3}), DType::f32);
  CHECK_THROWS_WITH(load_state_dict(b, file, false, "ckpt.st"),
                    Contains("ckpt.st: tensor 'conv1.weight' has shape [3, 3] but the model expects [2, 8, 1, 1]"));
  std::filesystem::remove(path);
}

TEST_CASE("JSON parser and writer", "[json]") {
  const json::Value v = json::parse(R"( {"a": [1, 2.5, "x\n\u00e9"], "b": {"c": true, "d": null}} )");
  CHECK(json::dump(v) == "{\"a\":[1,2.5,\"x\\n\xc3\xa9\"],\"b\":{\"c\":true,\"d\":null}}");
  CHECK_THROWS_WITH(json::parse("{\"a\":1,\"a\":2}"), Contains("duplicate key"));
  CHECK_THROWS_WITH(json::parse("[1,]"), Contains("invalid JSON"));
  CHECK_THROWS_WITH(json::parse("{} x"), Contains("trailing characters"));
}
