# supportd_warnings(target): the warning set every target of ours is built with.
add_library(supportd_warnings INTERFACE)
target_compile_options(supportd_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wconversion -Wsign-conversion
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
add_library(supportd::warnings ALIAS supportd_warnings)
