#include "optiq/profile/profile_io.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "optiq/core/error.h"
#include "optiq/io/atomic_output.h"
#include "optiq/io/safetensors.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace optiq {
namespace {

fs::path importance_path(const fs::path& profile_path) {
  fs::path stem = profile_path;
  stem.replace_extension();
  return stem.string() + ".importance.safetensors";
}

std::string kind_name(ProfileTarget::Kind kind) {
  switch (kind) {
    case ProfileTarget::Kind::kProjection: return "projection";
    case ProfileTarget::Kind::kOutput: return "output";
    case ProfileTarget::Kind::kEmbedding: return "embedding";
  }
  return "?";
}

ProfileTarget::Kind parse_kind(const std::string& name, const std::string& where) {
  if (name == "projection") return ProfileTarget::Kind::kProjection;
  if (name == "output") return ProfileTarget::Kind::kOutput;
  if (name == "embedding") return ProfileTarget::Kind::kEmbedding;
  fail("{}: invalid tensor kind '{}'", where, name);
}

template <typename T>
T get(const json& object, const char* key, const std::string& where) {
  if (!object.is_object() || !object.contains(key)) fail("{}: missing key '{}'", where, key);
  try {
    return object[key].get<T>();
  } catch (const json::exception&) {
    fail("{}: key '{}' has an invalid value {}", where, key, object[key].dump());
  }
}

// Mixes 8-byte words with a multiply-xorshift step (in the style of
// wyhash/murmur finalizers); not cryptographic, only to tell models apart.
class Digest {
 public:
  void add(const void* data, size_t size) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
      uint64_t word;
      std::memcpy(&word, bytes + i, 8);
      mix(word);
    }
    uint64_t tail = 0;
    if (size > i) std::memcpy(&tail, bytes + i, size - i);  // data may be null when size is 0
    mix(tail ^ (static_cast<uint64_t>(size) << 56));
  }
  std::string hex() const { return fmt::format("{:016x}", state_); }

 private:
  void mix(uint64_t word) {
    state_ ^= word + 0x9e3779b97f4a7c15ull + (state_ << 6) + (state_ >> 2);
    state_ *= 0xff51afd7ed558ccdull;
    state_ ^= state_ >> 33;
  }
  uint64_t state_ = 0xcbf29ce484222325ull;
};

}  // namespace

std::string model_hash(const Model& model) {
  Digest digest;
  const ModelConfig& c = model.config;
  int64_t dims[] = {c.hidden, c.intermediate, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim, c.vocab};
  digest.add(dims, sizeof dims);
  auto add_matrix = [&](const Matrix& m) {
    std::vector<float> rows(static_cast<size_t>(std::min<int64_t>(m.rows(), 256) * m.cols()));
    for (int64_t r = 0; r < m.rows(); r += 256) {
      int64_t end = std::min(m.rows(), r + 256);
      m.to_float_rows(r, end, rows.data());
      digest.add(rows.data(), static_cast<size_t>((end - r) * m.cols()) * sizeof(float));
    }
  };
  auto add_vector = [&](const std::vector<float>& v) { digest.add(v.data(), v.size() * sizeof(float)); };
  add_matrix(model.embedding);
  for (const LayerWeights& layer : model.layers) {
    add_vector(layer.attn_norm);
    add_vector(layer.ffn_norm);
    add_vector(layer.q_bias);
    add_vector(layer.k_bias);
    add_vector(layer.v_bias);
    for (Projection p : kAllProjections) add_matrix(layer.projection(p));
  }
  add_vector(model.final_norm);
  if (!c.tied_embeddings) add_matrix(model.output);
  return digest.hex();
}

void write_profile(const fs::path& path, const ProfileDocument& document) {
  const ProfileInfo& info = document.info;
  const ProfileResult& r = document.result;
  json root;
  root["optiq_version"] = info.optiq_version;
  root["model"] = {{"path", info.model_path}, {"hash", info.model_hash},
                   {"architecture", info.architecture}, {"parameters", r.total_params}};
  root["calibration"] = {{"file", info.calibration_file}, {"samples", info.samples},
                         {"requested_samples", info.requested_samples},
                         {"seq_len", info.seq_len}, {"tokens", info.calibration_tokens}};
  root["metrics"] = info.metrics;
  root["export_format"] = std::string(export_format_name(r.export_format));
  root["output_dtype"] = std::string(dtype_name(r.output_dtype));
  root["scale_dtype"] = std::string(dtype_name(r.scale_dtype));
  root["fixed_bytes"] = r.fixed_bytes;
  root["importance_file"] = importance_path(path).filename().string();
  root["timing"] = {{"reference_seconds", r.timing.reference_seconds},
                    {"quantize_seconds", r.timing.quantize_seconds},
                    {"evaluate_seconds", r.timing.evaluate_seconds},
                    {"evaluations", r.timing.evaluations}};
  json tensors = json::array();
  for (const TensorProfile& t : r.tensors) {
    json candidates = json::array();
    for (const Measurement& m : t.candidates) {
      candidates.push_back({{"format", m.format.name()}, {"bytes", m.bytes}, {"kl", m.kl}, {"mse", m.mse}});
    }
    json entry = {{"module", t.target.module}, {"kind", kind_name(t.target.kind)},
                  {"layer", t.target.layer}, {"projection", static_cast<int>(t.target.projection)},
                  {"shape", {t.target.rows, t.target.cols}}, {"candidates", candidates}};
    if (!t.skipped.empty()) entry["skipped_formats"] = t.skipped;
    if (!t.fallbacks.empty()) entry["fallbacks"] = t.fallbacks;
    tensors.push_back(entry);
  }
  root["tensors"] = tensors;

  std::vector<TensorToWrite> vectors;
  for (const auto& [module, values] : r.importance) {
    vectors.push_back({module, DType::F32, {static_cast<int64_t>(values.size())}, values.data()});
  }
  write_safetensors(importance_path(path), vectors, {{"content", "mean x^2 per input channel"}});
  write_file_atomic(path, root.dump(1) + "\n");
}

ProfileDocument read_profile(const fs::path& path) {
  const std::string file = path.string();
  std::ifstream stream(path);
  if (!stream) fail("cannot open profile '{}'", file);
  json root;
  try {
    root = json::parse(stream);
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", file, e.what());
  }
  ProfileDocument document;
  ProfileInfo& info = document.info;
  ProfileResult& r = document.result;
  info.source_path = std::filesystem::absolute(path).string();
  info.optiq_version = get<std::string>(root, "optiq_version", file);
  const json& model = root.contains("model") ? root["model"] : json();
  info.model_path = get<std::string>(model, "path", file + " model");
  info.model_hash = get<std::string>(model, "hash", file + " model");
  info.architecture = get<std::string>(model, "architecture", file + " model");
  r.total_params = get<int64_t>(model, "parameters", file + " model");
  const json& calibration = root.contains("calibration") ? root["calibration"] : json();
  info.calibration_file = get<std::string>(calibration, "file", file + " calibration");
  info.samples = get<int64_t>(calibration, "samples", file + " calibration");
  info.requested_samples = get<int64_t>(calibration, "requested_samples", file + " calibration");
  info.seq_len = get<int64_t>(calibration, "seq_len", file + " calibration");
  info.calibration_tokens = get<int64_t>(calibration, "tokens", file + " calibration");
  info.metrics = get<std::vector<std::string>>(root, "metrics", file);
  auto parse_float_dtype = [&](const char* key) {
    std::string name = get<std::string>(root, key, file);
    std::optional<DType> dtype = parse_dtype(name);
    if (!dtype || !is_float_dtype(*dtype)) fail("{}: invalid {} '{}'", file, key, name);
    return *dtype;
  };
  // Profiles written before GGUF planning have no export_format: MLX.
  r.export_format = root.contains("export_format")
                        ? parse_export_format(get<std::string>(root, "export_format", file))
                        : ExportFormat::kMlx;
  r.output_dtype = parse_float_dtype("output_dtype");
  r.scale_dtype = parse_float_dtype("scale_dtype");
  r.fixed_bytes = get<uint64_t>(root, "fixed_bytes", file);
  if (!root.contains("tensors") || !root["tensors"].is_array()) fail("{}: missing array 'tensors'", file);
  for (const json& entry : root["tensors"]) {
    TensorProfile t;
    std::string where = file + " tensor";
    t.target.module = get<std::string>(entry, "module", where);
    where = fmt::format("{}: tensor '{}'", file, t.target.module);
    t.target.kind = parse_kind(get<std::string>(entry, "kind", where), where);
    t.target.layer = get<int64_t>(entry, "layer", where);
    int projection = get<int>(entry, "projection", where);
    if (projection < 0 || projection >= kProjectionCount) fail("{}: invalid projection {}", where, projection);
    t.target.projection = static_cast<Projection>(projection);
    auto shape = get<std::vector<int64_t>>(entry, "shape", where);
    if (shape.size() != 2 || shape[0] <= 0 || shape[1] <= 0) fail("{}: invalid shape", where);
    t.target.rows = shape[0];
    t.target.cols = shape[1];
    if (!entry.contains("candidates") || !entry["candidates"].is_array() || entry["candidates"].empty()) {
      fail("{}: no candidates", where);
    }
    for (const json& c : entry["candidates"]) {
      Measurement m;
      m.format = QuantFormat::parse(get<std::string>(c, "format", where));
      m.bytes = get<uint64_t>(c, "bytes", where);
      m.kl = get<double>(c, "kl", where);
      m.mse = get<double>(c, "mse", where);
      if (!std::isfinite(m.kl) || !std::isfinite(m.mse) || m.kl < 0 || m.mse < 0) {
        fail("{}: format {} has invalid damage kl {} mse {}", where, m.format.name(), m.kl, m.mse);
      }
      t.candidates.push_back(m);
    }
    if (entry.contains("skipped_formats")) t.skipped = get<std::vector<std::string>>(entry, "skipped_formats", where);
    if (entry.contains("fallbacks")) t.fallbacks = get<std::vector<std::string>>(entry, "fallbacks", where);
    r.tensors.push_back(std::move(t));
  }
  fs::path sidecar = path.parent_path() / get<std::string>(root, "importance_file", file);
  std::error_code ec;
  if (fs::exists(sidecar, ec)) {
    SafetensorsFile importance(sidecar);
    for (const TensorView& view : importance.tensors()) {
      if (view.dtype != DType::F32 || view.shape.size() != 1) {
        fail("{}: importance vector '{}' must be a 1-D F32 tensor", sidecar.string(), view.name);
      }
      std::vector<float> values(static_cast<size_t>(view.numel()));
      std::memcpy(values.data(), view.data, view.nbytes);
      r.importance[view.name] = std::move(values);
    }
  }
  return document;
}

}  // namespace optiq
