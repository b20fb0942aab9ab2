#include "optiq/model/hf_tensors.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "optiq/core/error.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace optiq {
namespace {

// Reads the index's weight_map: tensor name -> shard file name.
std::map<std::string, std::string> read_index(const fs::path& index_path) {
  std::ifstream stream(index_path);
  if (!stream) fail("cannot open '{}'", index_path.string());
  json index;
  try {
    index = json::parse(stream);
  } catch (const json::exception& e) {
    fail("{}: invalid JSON: {}", index_path.string(), e.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    fail("{}: missing object 'weight_map'", index_path.string());
  }
  std::map<std::string, std::string> weight_map;
  for (auto& [name, shard] : index["weight_map"].items()) {
    if (!shard.is_string()) {
      fail("{}: weight_map entry '{}' is not a file name: {}", index_path.string(), name,
           shard.dump());
    }
    std::string file = shard.get<std::string>();
    if (file.find('/') != std::string::npos || file == ".." || file.empty()) {
      fail("{}: weight_map entry '{}' names '{}', which is not a file in the model folder",
           index_path.string(), name, file);
    }
    weight_map[name] = file;
  }
  return weight_map;
}

}  // namespace

HfTensorSet::HfTensorSet(const fs::path& directory) {
  fs::path index_path = directory / "model.safetensors.index.json";
  std::error_code ec;
  if (fs::exists(index_path, ec)) {
    std::map<std::string, std::string> weight_map = read_index(index_path);
    std::map<std::string, std::shared_ptr<const SafetensorsFile>> shards;
    for (const auto& [name, shard] : weight_map) {
      if (shards.count(shard)) continue;
      fs::path shard_path = directory / shard;
      if (!fs::exists(shard_path, ec)) {
        fail("{}: shard '{}' (holding '{}') not found", index_path.string(), shard, name);
      }
      auto file = std::make_shared<const SafetensorsFile>(shard_path);
      shards[shard] = file;
      files_.push_back(file);
    }
    for (const auto& [name, shard] : weight_map) {
      const auto& file = shards.at(shard);
      const TensorView* view = file->find(name);
      if (view == nullptr) {
        fail("{}: tensor '{}' is listed in the index but not found in shard '{}'",
             index_path.string(), name, shard);
      }
      entries_[name] = Entry{view, file};
    }
    for (const auto& file : files_) {
      for (const TensorView& view : file->tensors()) {
        if (!weight_map.count(view.name)) {
          spdlog::warn("{}: tensor '{}' is not listed in the index; ignoring it",
                       file->path().string(), view.name);
        }
      }
    }
    return;
  }

  fs::path single = directory / "model.safetensors";
  if (!fs::exists(single, ec)) {
    std::vector<fs::path> candidates;
    for (const auto& entry : fs::directory_iterator(directory, ec)) {
      if (entry.path().extension() == ".safetensors") candidates.push_back(entry.path());
    }
    if (candidates.size() != 1) {
      fail("{}: no model.safetensors or model.safetensors.index.json ({} other .safetensors "
           "files)",
           directory.string(), candidates.size());
    }
    single = candidates.front();
  }
  auto file = std::make_shared<const SafetensorsFile>(single);
  files_.push_back(file);
  for (const TensorView& view : file->tensors()) entries_[view.name] = Entry{&view, file};
}

HfTensorSet::Entry HfTensorSet::find(const std::string& name) const {
  auto it = entries_.find(name);
  if (it == entries_.end()) return Entry{nullptr, nullptr};
  return it->second;
}

}  // namespace optiq
