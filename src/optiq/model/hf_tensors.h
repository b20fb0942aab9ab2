// The safetensors files of a Hugging Face model folder: `model.safetensors`,
// or the shards listed in `model.safetensors.index.json`.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "optiq/io/safetensors.h"

namespace optiq {

class HfTensorSet {
 public:
  // Opens and validates every file; throws optiq::Error naming a missing
  // shard, a tensor the index names but its shard lacks, or a tensor stored
  // twice. Tensors in a shard that the index does not name are logged.
  explicit HfTensorSet(const std::filesystem::path& directory);

  struct Entry {
    const TensorView* view;
    std::shared_ptr<const SafetensorsFile> file;
  };

  // nullptr view when absent.
  Entry find(const std::string& name) const;
  const std::vector<std::shared_ptr<const SafetensorsFile>>& files() const { return files_; }
  const std::map<std::string, Entry>& entries() const { return entries_; }

 private:
  std::vector<std::shared_ptr<const SafetensorsFile>> files_;
  std::map<std::string, Entry> entries_;
};

}  // namespace optiq
