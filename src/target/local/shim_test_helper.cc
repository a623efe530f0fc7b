// For shim_test: the executable LaunchShim starts as `shim_test_helper shim DIR`, as the
// operator starts `plumb shim DIR`.
#include <cstring>

#include "target/local/shim.h"

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "shim") == 0) return plumb::target::local::RunShim(argv[2]);
  return 2;
}
