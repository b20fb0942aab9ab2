#include "test_support.h"

#include <sys/wait.h>

#include <fstream>
#include <sstream>

namespace optiq::testing {

std::string read_text(const std::filesystem::path& path) {
  std::ifstream stream(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << stream.rdbuf();
  return buffer.str();
}

CommandResult run_optiq(const std::string& args) {
  ScratchDir scratch;
  std::string command = std::string(OPTIQ_BINARY) + " " + args + " > " +
                        (scratch / "out").string() + " 2> " + (scratch / "err").string() +
                        " < /dev/null";
  int status = std::system(command.c_str());
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = read_text(scratch / "out");
  result.err = read_text(scratch / "err");
  return result;
}

}  // namespace optiq::testing
